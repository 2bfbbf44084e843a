"""The programme's name, its miles and the award chart's zones in the reader's language."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.urls import reverse
from django.utils import translation

from loyalty import selectors
from loyalty.models import AwardZone, Programme
from tests.loyalty.factories import credit, member

MILES = reverse("loyalty_portal:miles")
STATEMENT = reverse("loyalty_portal:miles_statement")
REDEEM = reverse("loyalty_portal:redeem")


def in_language(client, language: str):  # noqa: ANN001, ANN201
    client.post("/i18n/setlang/", {"language": language, "next": "/"})
    return client


def test_the_programme_and_its_miles_are_named_in_the_page_language(passenger, passenger_client):
    # given a member with miles
    credit(member(passenger[1]), 1200)

    # when the miles pages are read in English, then in Chinese
    english = passenger_client.get(MILES).content.decode() + passenger_client.get(STATEMENT).content.decode()
    in_language(passenger_client, "zh-hans")
    chinese = passenger_client.get(MILES).content.decode() + passenger_client.get(STATEMENT).content.decode()

    # then each names the programme and its miles in its own language
    assert "Aurora Miles" in english and "1,200</strong> miles" in english and "极光里程" not in english
    assert "极光里程" in chinese and "1200</strong> 里程" in chinese
    assert "Aurora Miles" not in chinese


def test_a_programme_renamed_without_a_chinese_form_keeps_its_own_name_in_chinese(passenger, passenger_client):
    # given the programme renamed by the admin, who gave no Chinese form yet
    programme = selectors.programme()
    programme.name, programme.name_zh = "SkyPoints", ""
    programme.currency_name, programme.currency_name_zh = "points", ""
    programme.save()
    credit(member(passenger[1]), 800)

    # when the miles home is read in Chinese
    page = in_language(passenger_client, "zh-hans").get(MILES).content.decode()

    # then it shows the name as the admin wrote it, rather than the default's Chinese
    assert "SkyPoints" in page and "800</strong> points" in page and "极光里程" not in page


def test_the_data_migration_gives_chinese_names_only_to_the_default_programme(db):
    # given a programme renamed before the Chinese forms existed, with the column defaults filled in
    programme = selectors.programme()
    Programme.objects.filter(pk=programme.pk).update(name="SkyPoints", name_zh="极光里程", currency_name_zh="里程")

    # when the migration's data step runs
    migration = importlib.import_module("loyalty.migrations.0009_programme_names_in_chinese")
    migration.keep_renamed_in_english(apps, None)

    # then the renamed programme has no Chinese name that would be another programme's; its miles keep theirs
    programme.refresh_from_db()
    assert (programme.name_zh, programme.currency_name_zh) == ("", "里程")
    assert programme.local_name("zh-hans") == "SkyPoints" and programme.local_currency_name("zh-hans") == "里程"


def test_award_zones_are_shown_through_the_catalogue_and_a_renamed_zone_as_written(passenger, passenger_client):
    # given the award chart with one zone renamed by the admin
    zones = list(AwardZone.objects.all())
    assert [z.name for z in zones][:2] == ["Short haul", "Medium haul"]
    AwardZone.objects.filter(pk=zones[1].pk).update(name="Island hops")

    # when the redeem page is read
    page = passenger_client.get(REDEEM).content.decode()

    # then the programme's own zones read from the catalogue and the renamed one as written
    with translation.override("en"):
        assert zones[0].local_name() == "Short haul"
    assert "Short haul" in page and "Island hops" in page and "Medium haul" not in page
