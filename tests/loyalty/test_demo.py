"""The programme's demo data, added by ``manage.py seed_demo`` through crm's demo-seeder registry."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from crm import registry
from crm.models import User
from loyalty.models import Adjustment, Decision, EntryKind, Household, Member, MilesEntry, Partner, StatusMatch


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.timeout(300)
def test_seed_demo_fills_the_programme_and_a_second_run_adds_nothing(seeded):
    # then there are members in every tier, each balance equal to its ledger
    assert "Loyalty:" in seeded
    assert set(Member.objects.values_list("tier__code", flat=True)) == {"blue", "silver", "gold", "platinum"}
    for member in Member.objects.all():
        total = MilesEntry.objects.filter(member=member).aggregate(s=Sum("award_miles"))["s"] or 0
        assert member.award_balance == total
    # with flown history carrying the flight, and partner accruals at a hotel and a car rental
    flown = MilesEntry.objects.filter(kind=EntryKind.ACCRUAL)
    assert flown.count() > 100 and all(e.details.get("flight") and e.details.get("origin") for e in flown[:50])
    assert set(Partner.objects.values_list("kind", flat=True)) == {"hotel", "car"}
    assert MilesEntry.objects.filter(kind=EntryKind.PARTNER, partner__isnull=False).exists()
    # a household, a pending status match and an adjustment waiting for approval
    assert Household.objects.filter(members__isnull=False).distinct().count() == 1
    assert Household.objects.first().members.count() >= 2
    assert StatusMatch.objects.filter(status=Decision.PENDING).exists()
    assert Adjustment.objects.filter(status=Decision.PENDING).exists()
    # and the demo passenger is a Silver member close to Gold
    own = Member.objects.get(customer__user__username="passenger@example.com")
    assert own.tier.code == "silver"
    assert 0 < 50000 - own.qualifying_miles <= 5000 and 0 < 60 - own.qualifying_segments <= 6

    # when it runs again, nothing is added
    entries, members = MilesEntry.objects.count(), Member.objects.count()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert (MilesEntry.objects.count(), Member.objects.count()) == (entries, members)


def test_seed_demo_runs_every_registered_seeder_in_order(db, settings):
    # given two seeders registered by apps crm does not know
    settings.DEBUG = True
    calls = []
    registry.register_demo_seeder("zz-second", lambda *, stdout: calls.append("second") or "second added", order=900)
    registry.register_demo_seeder("zz-first", lambda *, stdout: calls.append("first") or "", order=899)
    try:
        out = StringIO()
        # when seed_demo runs
        call_command("seed_demo", stdout=out)
    finally:
        registry.unregister_demo_seeder("zz-second")
        registry.unregister_demo_seeder("zz-first")
    # then both ran, in their order, and the one that added data says so
    assert calls == ["first", "second"]
    assert "second added" in out.getvalue()
    assert User.objects.filter(username="passenger@example.com").exists()
    with pytest.raises(Exception, match="already registered"):
        registry.register_demo_seeder("loyalty", lambda *, stdout: "")
