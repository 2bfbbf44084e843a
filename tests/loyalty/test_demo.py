"""The programme's demo data, added by ``manage.py seed_demo`` through crm's demo-seeder registry."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

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
    # each asked for through the office's services, so on its customer's timeline
    from crm.models import TimelineEntry

    match, adjustment = StatusMatch.objects.get(status=Decision.PENDING), Adjustment.objects.get(status=Decision.PENDING)
    for waiting, kind in ((match, "loyalty.status_match_requested"), (adjustment, "miles.adjustment_requested")):
        assert TimelineEntry.objects.filter(customer=waiting.member.customer, kind=kind, actor__username="agent").exists()
    # and the demo passenger is a Silver member close to Gold
    own = Member.objects.get(customer__user__username="passenger@example.com")
    assert own.tier.code == "silver"
    assert 0 < 50000 - own.qualifying_miles <= 5000 and 0 < 60 - own.qualifying_segments <= 6
    # whose trip flown last week carries their number and earned its miles, once per flight, from its coupons
    from reservations.models import Coupon, CouponStatus

    flown = Coupon.objects.filter(
        status=CouponStatus.FLOWN,
        ticket__passenger__customer=own.customer,
        ticket__passenger__frequent_flyer_number=own.number,
    )
    assert flown.count() >= 2
    earned = MilesEntry.objects.filter(member=own, coupon__in=flown)
    assert earned.count() == flown.count() and all(e.award_miles > 0 for e in earned)

    # when it runs again, nothing is added
    entries, members = MilesEntry.objects.count(), Member.objects.count()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert (MilesEntry.objects.count(), Member.objects.count()) == (entries, members)
