"""Offers at the office and in the API: Marketers create offers and issue codes; agents and passengers
cannot; the CSV keeps would-be formulas as text; errors use the project's error shape."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketing.models import Offer, PromoCode
from marketing.services import promo_codes_issue
from tests.crm.factories import CustomerFactory
from tests.marketing.offers_support import offer

pytestmark = pytest.mark.django_db
OFFERS = "/api/v1/marketing/offers/"


def form_data(**overrides) -> dict:  # noqa: ANN003
    now = timezone.now()
    return {
        "name": "Autumn deal",
        "kind": "amount",
        "value": "30.00",
        "currency": "eur",
        "minimum_spend": "100",
        "valid_from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "valid_until": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        "routes": "lhr-jfk, CDG-LHR",
        "cabins": ["economy"],
        **overrides,
    }


def test_a_marketer_creates_an_offer_issues_codes_and_downloads_them(marketer_client, django_assert_max_num_queries):
    # when a marketer fills in the new offer form
    response = marketer_client.post(reverse("marketing_office:offer_new"), form_data())
    # then the offer exists with its routes cleaned, and the page of the offer shows it
    created = Offer.objects.get()
    assert response.status_code == 302 and response.url == reverse("marketing_office:offer", args=[created.pk])
    assert (created.currency, created.routes, created.cabins) == ("EUR", ["CDG-LHR", "LHR-JFK"], ["economy"])
    # when they issue 3 codes
    marketer_client.post(reverse("marketing_office:offer_codes_issue", args=[created.pk]), {"count": 3})
    # then the offer shows 3 issued, 0 redeemed, with the codes listed in few queries
    with django_assert_max_num_queries(12):
        page = marketer_client.get(reverse("marketing_office:offer", args=[created.pk]))
    assert page.status_code == 200 and page.context["offer"].codes_issued == 3
    for code in PromoCode.objects.all():
        assert code.code in page.content.decode()
    listing = marketer_client.get(reverse("marketing_office:offer_list"))
    assert "Autumn deal" in listing.content.decode()
    # and the CSV has a header and the 3 codes
    download = marketer_client.get(reverse("marketing_office:offer_codes_csv", args=[created.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0][0] == "code" and len(rows) == 4


def test_a_bad_offer_form_is_shown_again_with_the_reason_and_saves_nothing(marketer_client):
    response = marketer_client.post(reverse("marketing_office:offer_new"), form_data(currency="", routes="LONDON"))
    assert response.status_code == 400
    assert "An amount off needs its currency." in response.content.decode()
    assert not Offer.objects.exists()


def test_the_csv_keeps_a_would_be_formula_as_text(marketer_client):
    spring = offer()
    PromoCode.objects.create(offer=spring, code="=HYPERLINK(1)")
    download = marketer_client.get(reverse("marketing_office:offer_codes_csv", args=[spring.pk]))
    assert "'=HYPERLINK(1)" in b"".join(download.streaming_content).decode()


@pytest.mark.parametrize("who", ["agent_client", "passenger_client"])
def test_agents_and_passengers_cannot_manage_offers(request, who):
    client = request.getfixturevalue(who)
    spring = offer()
    for url in (
        reverse("marketing_office:offer_list"),
        reverse("marketing_office:offer_new"),
        reverse("marketing_office:offer", args=[spring.pk]),
        reverse("marketing_office:offer_codes_csv", args=[spring.pk]),
    ):
        assert client.get(url).status_code in (302, 403, 404), url
    client.post(reverse("marketing_office:offer_new"), form_data())
    client.post(reverse("marketing_office:offer_codes_issue", args=[spring.pk]), {"count": 5})
    assert Offer.objects.count() == 1 and not PromoCode.objects.exists()


def test_the_api_lists_creates_and_issues_codes(marketer, api_as):
    client = api_as(marketer)
    body = {
        "name": "Miles week", "kind": "bonus_miles", "value": "1000",
        "valid_from": timezone.now().isoformat(), "valid_until": (timezone.now() + timedelta(days=7)).isoformat(),
    }  # fmt: skip
    created = client.post(OFFERS, body, format="json")
    assert created.status_code == 201, created.json()
    offer_id = created.json()["id"]
    assert client.get(OFFERS).json()["results"][0]["name"] == "Miles week"
    ada = CustomerFactory()
    issued = client.post(f"{OFFERS}{offer_id}/codes/", {"customer_numbers": [ada.customer_number]}, format="json")
    again = client.post(f"{OFFERS}{offer_id}/codes/", {"customer_numbers": [ada.customer_number]}, format="json")
    assert issued.status_code == 201 and issued.json() == again.json()
    assert issued.json()[0]["customer_number"] == ada.customer_number
    assert client.get(f"{OFFERS}{offer_id}/").json()["codes_issued"] == 1


def test_the_api_answers_bad_input_in_the_error_shape(marketer, api_as):
    client = api_as(marketer)
    now = timezone.now()
    refused = client.post(
        OFFERS, {"name": "X", "kind": "percentage", "value": "150", "valid_from": now.isoformat(), "valid_until": now.isoformat()},
        format="json",
    )  # fmt: skip
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid_offer" and {"value", "valid_until"} <= set(error["fields"])
    spring = offer()
    unknown = client.post(f"{OFFERS}{spring.pk}/codes/", {"customer_numbers": ["NOPE"]}, format="json")
    assert unknown.status_code == 400 and "customer_numbers" in unknown.json()["error"]["fields"]
    both = client.post(f"{OFFERS}{spring.pk}/codes/", {"count": 2, "customer_numbers": []}, format="json")
    assert both.status_code == 400
    assert client.post(f"{OFFERS}999999/codes/", {"count": 1}, format="json").status_code == 404


def test_agents_and_passengers_get_no_offers_from_the_api(agent, passenger, api_as):
    spring = offer()
    promo_codes_issue(offer=spring, count=1)
    for user in (agent, passenger[0]):
        client = api_as(user)
        assert client.get(OFFERS).status_code == 403
        assert client.post(f"{OFFERS}{spring.pk}/codes/", {"count": 1}, format="json").status_code in (403, 404)
    assert PromoCode.objects.count() == 1


def test_the_office_menu_shows_offers_to_marketers_only(marketer_client, agent_client):
    link = reverse("marketing_office:offer_list")
    assert link in marketer_client.get(reverse("marketing_office:offer_list")).content.decode()
    assert f'href="{link}"' not in agent_client.get("/office/").content.decode()
