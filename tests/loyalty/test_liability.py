"""The miles liability: outstanding award miles by tier, valued, less expected breakage; for finance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty import selectors, services
from loyalty.models import EntryKind, Member, MemberStatus, Programme, Tier
from tests.loyalty.factories import credit, member

API = "/api/v1/loyalty/liability/"


@pytest.fixture
def holdings(db):
    """Blue: 10,000 + 5,000 miles; Gold: 40,000; a closed member's 99,999 and an empty member count for nothing."""
    Programme.objects.filter(pk=1).update(value_per_mile=Decimal("0.01200"), breakage_percent=Decimal("20.00"))
    gold = Tier.objects.get(code="gold")
    blue_a, blue_b, golden, closed = member(), member(), member(), member()
    member()  # no miles
    credit(blue_a, 10000), credit(blue_b, 5000), credit(golden, 40000), credit(closed, 99999)
    Member.objects.filter(pk=golden.pk).update(tier=gold)
    Member.objects.filter(pk=closed.pk).update(status=MemberStatus.CLOSED)


def test_the_liability_by_tier_values_the_miles_and_takes_off_breakage(holdings):
    result = selectors.liability()

    by_tier = {row.tier.code: row for row in result.tiers}
    assert list(by_tier) == ["blue", "silver", "gold", "platinum"]
    assert (by_tier["blue"].members, by_tier["blue"].miles) == (2, 15000)
    assert (by_tier["blue"].gross, by_tier["blue"].breakage, by_tier["blue"].net) == (
        Decimal("180.00"), Decimal("36.00"), Decimal("144.00"),
    )  # fmt: skip
    assert (by_tier["gold"].miles, by_tier["gold"].gross, by_tier["gold"].net) == (40000, Decimal("480.00"), Decimal("384.00"))
    assert (by_tier["silver"].members, by_tier["silver"].miles, by_tier["silver"].gross) == (0, 0, Decimal("0.00"))
    assert (result.miles, result.gross, result.breakage, result.net) == (
        55000, Decimal("660.00"), Decimal("132.00"), Decimal("528.00"),
    )  # fmt: skip
    assert result.currency == "EUR"


def test_without_enough_history_the_configured_breakage_is_used_and_said(holdings):
    result = selectors.liability()

    assert (result.breakage_basis, result.breakage_percent, result.configured_breakage_percent) == (
        "programme", Decimal("20.00"), Decimal("20.00"),
    )  # fmt: skip
    assert (result.history.months, result.history.expired, result.history.redeemed) == (24, 0, 0)


def test_the_liability_costs_three_queries_however_many_members_or_entries(holdings, django_assert_num_queries):
    with django_assert_num_queries(3):
        selectors.liability()
    for _ in range(15):
        credit(member(), 1000)
    history()
    with django_assert_num_queries(3):
        assert selectors.liability().miles == 70000


def _post(m: Member, kind: str, award: int, *, months_ago: int, reason: str = "award_ticket") -> None:
    at = timezone.now() - timedelta(days=31 * months_ago + 1)
    services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=kind, reason=reason, key=f"history:{m.pk}:{kind}:{award}:{months_ago}", award=award, at=at
        )
    )


def history() -> Member:
    """A member whose miles all left the ledger: in the last 24 months 3,000 expired and 9,000 were redeemed
    (8,000 on an award, 2,000 spent by a household head, 1,000 of it refunded); older movements beside."""
    spender = member()
    credit(spender, 20000)
    _post(spender, EntryKind.EXPIRY, -3000, months_ago=1, reason="inactivity")
    _post(spender, EntryKind.REDEMPTION, -8000, months_ago=2)
    _post(spender, EntryKind.POOLING, -2000, months_ago=3)
    _post(spender, EntryKind.REVERSAL, 1000, months_ago=1, reason="award_refund")
    _post(spender, EntryKind.EXPIRY, -6000, months_ago=25, reason="inactivity")
    _post(spender, EntryKind.REDEMPTION, -2000, months_ago=30)
    assert Member.objects.get(pk=spender.pk).award_balance == 0
    return spender


def test_with_enough_history_breakage_is_the_share_of_miles_that_expired_rather_than_being_redeemed(holdings):
    # Given 12,000 miles left the ledger in the last 24 months, 3,000 of them by expiry, and the programme
    # trusting its history from 12,000 miles
    history()
    Programme.objects.filter(pk=1).update(breakage_history_minimum_miles=12000)

    result = selectors.liability()

    # Then breakage is 3,000 / 12,000 = 25% (not the configured 20%), applied to every tier
    assert (result.breakage_basis, result.breakage_percent, result.configured_breakage_percent) == (
        "history", Decimal("25.00"), Decimal("20.00"),
    )  # fmt: skip
    assert (result.history.expired, result.history.redeemed) == (3000, 9000)
    by_tier = {row.tier.code: row for row in result.tiers}
    assert (by_tier["blue"].gross, by_tier["blue"].breakage, by_tier["blue"].net) == (
        Decimal("180.00"), Decimal("45.00"), Decimal("135.00"),
    )  # fmt: skip
    assert (result.gross, result.breakage, result.net) == (Decimal("660.00"), Decimal("165.00"), Decimal("495.00"))


def test_one_mile_short_of_the_minimum_history_the_configured_breakage_stays(holdings):
    history()
    Programme.objects.filter(pk=1).update(breakage_history_minimum_miles=12001)

    result = selectors.liability()

    assert (result.breakage_basis, result.breakage_percent, result.breakage) == ("programme", Decimal("20.00"), Decimal("132.00"))
    assert (result.history.expired, result.history.redeemed, result.history.percent) == (3000, 9000, Decimal("25.00"))


def test_the_api_and_the_office_page_say_breakage_comes_from_history(holdings, analyst, api_as):
    history()
    Programme.objects.filter(pk=1).update(breakage_history_minimum_miles=12000)

    body = api_as(analyst).get(API).json()
    assert (body["breakage_basis"], body["breakage_percent"], body["configured_breakage_percent"]) == (
        "history", "25.00", "20.00",
    )  # fmt: skip
    assert body["breakage_history"] == {
        "months": 24, "expired_miles": 3000, "redeemed_miles": 9000, "minimum_miles": 12000, "percent": "25.00",
    }  # fmt: skip
    assert (body["breakage"], body["net"]) == ("165.00", "495.00")

    client = Client()
    client.force_login(analyst)
    html = client.get(reverse("loyalty_office:liability")).content.decode()
    assert "Breakage of 25.00% estimated from the last 24 months: 3,000 miles expired and 9,000 redeemed." in html


def test_the_api_and_the_office_page_say_the_configured_breakage_is_used(holdings, analyst, api_as):
    body = api_as(analyst).get(API).json()
    assert (body["breakage_basis"], body["breakage_percent"]) == ("programme", "20.00")
    assert body["breakage_history"]["minimum_miles"] == 1_000_000

    client = Client()
    client.force_login(analyst)
    html = client.get(reverse("loyalty_office:liability")).content.decode()
    assert "Breakage of 20.00% as configured for the programme" in html
    assert "fewer than the 1,000,000 needed" in html


def test_the_api_gives_analysts_the_figures_as_decimal_strings(holdings, analyst, api_as):
    response = api_as(analyst).get(API)
    assert response.status_code == 200
    body = response.json()
    assert (body["gross"], body["breakage"], body["net"], body["miles"]) == ("660.00", "132.00", "528.00", 55000)
    assert body["tiers"][0] == {
        "tier": "blue", "tier_name": "Blue", "members": 2, "miles": 15000, "gross": "180.00", "breakage": "36.00", "net": "144.00",
    }  # fmt: skip


def test_the_api_is_for_analysts_and_supervisors_only(holdings, agent, marketer, supervisor, passenger, api_as, api_client):
    assert api_as(supervisor).get(API).status_code == 200
    for user in (agent, marketer, passenger[0]):
        response = api_as(user).get(API)
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert api_client.get(API).status_code == 401


def test_the_office_page_shows_the_net_liability(holdings, analyst, django_assert_max_num_queries):
    client = Client()
    client.force_login(analyst)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("loyalty_office:liability"))
    assert response.status_code == 200
    assert "528.00" in response.content.decode()


def test_the_office_page_is_refused_to_agents_and_marketers(db, agent_client, marketer_client, supervisor_client):
    url = reverse("loyalty_office:liability")
    assert supervisor_client.get(url).status_code == 200
    assert agent_client.get(url).status_code == 403
    assert marketer_client.get(url).status_code == 403
