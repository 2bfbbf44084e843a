"""The miles liability: outstanding award miles by tier, valued, less expected breakage; for finance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from loyalty import selectors
from loyalty.models import Member, MemberStatus, Programme, Tier
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


def test_the_liability_costs_two_queries_however_many_members(holdings, django_assert_num_queries):
    with django_assert_num_queries(2):
        selectors.liability()
    for _ in range(15):
        credit(member(), 1000)
    with django_assert_num_queries(2):
        assert selectors.liability().miles == 70000


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
