"""Campaign results: the funnel, variants, cost, ROI and the uplift over the holdout with its confidence
interval, computed in a fixed number of queries; the dashboard page, the overview and the API."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketing import services
from marketing.models import Campaign, CampaignRun, Delivery
from tests.crm.factories import CustomerFactory
from tests.marketing.campaign_support import campaign

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def _login(user) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def deliveries(c: Campaign, rows: list[dict], *, occurrence: date = date(2026, 6, 15)) -> None:
    """Deliveries written as given (one new customer each), so the expected figures can be counted by hand."""
    run, _created = CampaignRun.objects.get_or_create(campaign=c, occurrence=occurrence)
    Delivery.objects.bulk_create(Delivery(run=run, customer=CustomerFactory(), **row) for row in rows)


def _sent(n: int, **fields) -> list[dict]:
    return [{"status": "sent", "sent_at": NOW, **fields} for _i in range(n)]


def constructed() -> Campaign:
    """20 sent (12 A, 8 B), 10 held out, 3 skipped, 1 pending; 2 bounces, 10 opens, 6 clicks, 4 + 1 conversions."""
    c = campaign(name="Constructed")
    Campaign.objects.filter(pk=c.pk).update(cost_per_message=Decimal("0.0500"), fixed_cost=Decimal("10.00"))
    c.refresh_from_db()
    converted = {
        "converted_at": NOW,
        "revenue": Decimal("100.00"),
        "revenue_currency": "EUR",
        "conversion_record_locator": "ABC123",
    }
    opened, clicked = {"opened_at": NOW, "open_count": 1}, {"clicked_at": NOW, "click_count": 1}
    deliveries(
        c,
        [
            *_sent(3, variant="a", **opened, **clicked, **converted),
            *_sent(3, variant="a", **opened, **clicked),
            *_sent(2, variant="a", **opened),
            *_sent(2, variant="a", bounced_at=NOW),
            *_sent(2, variant="a"),
            *_sent(1, variant="b", **opened, **converted),
            *_sent(1, variant="b", **opened),
            *_sent(6, variant="b"),
            {"status": "holdout", "variant": "a", "converted_at": NOW, "revenue": Decimal("50.00"), "revenue_currency": "EUR"},
            *[{"status": "holdout", "variant": "ab"[n % 2]} for n in range(9)],
            {"status": "skipped", "skip_reason": "no_consent"},
            {"status": "skipped", "skip_reason": "no_consent"},
            {"status": "skipped", "skip_reason": "suppressed"},
            {"status": "pending"},
        ],
    )
    return c


# --- The figures ---


def test_the_figures_cost_roi_and_uplift_of_a_constructed_campaign_are_what_the_formulas_give():
    # Given a campaign whose deliveries are counted by hand
    c = constructed()

    # When its results are computed
    results = services.campaign_results(campaign=c)

    # Then the funnel is as counted
    t = results.totals
    assert (t.audience, t.sent, t.holdout, t.skipped, t.pending, t.bounced, t.delivered) == (34, 20, 10, 3, 1, 2, 18)
    assert (t.opened, t.clicked, t.converted, t.holdout_converted) == (10, 6, 4, 1)
    assert t.skipped_by_reason == {"no_consent": 2, "suppressed": 1}
    assert t.open_rate == pytest.approx(10 / 18) and t.click_rate == pytest.approx(6 / 18)
    assert t.conversion_rate == pytest.approx(4 / 20)
    assert [(m.amount, m.currency) for m in t.revenue] == [(Decimal("400.00"), "EUR")]

    # And cost is 20 × 0.05 + 10.00, the ROI (400 − 11) / 11
    assert (results.cost.amount, results.cost.currency) == (Decimal("11.00"), "EUR")
    assert results.roi == Decimal("35.3636")

    # And the uplift is the difference of the two rates with the Wald 95% interval
    p1, p2 = 4 / 20, 1 / 10
    se = math.sqrt(p1 * (1 - p1) / 20 + p2 * (1 - p2) / 10)
    u = results.uplift
    assert (u.treated, u.treated_converted, u.control, u.control_converted) == (20, 4, 10, 1)
    assert u.difference == pytest.approx(0.1)
    assert u.standard_error == pytest.approx(se)
    assert (u.low, u.high) == (pytest.approx(0.1 - 1.96 * se, abs=1e-4), pytest.approx(0.1 + 1.96 * se, abs=1e-4))
    assert not u.significant  # the interval includes zero

    # And each variant has its own funnel (the held-out customers are in neither; skipped and pending ones are in A)
    a, b = results.variants["a"], results.variants["b"]
    assert (a.audience, a.sent, a.delivered, a.opened, a.clicked, a.converted) == (16, 12, 10, 8, 6, 3)  # skips are "a"
    assert (b.audience, b.sent, b.delivered, b.opened, b.clicked, b.converted) == (8, 8, 8, 2, 0, 1)
    assert [(m.amount, m.currency) for m in b.revenue] == [(Decimal("100.00"), "EUR")]

    # And the day-by-day series has today's sends, opens, clicks and conversions
    assert [(d.sends, d.opens, d.clicks, d.conversions) for d in results.daily] == [(20, 10, 6, 4)]


def test_without_a_control_group_there_is_no_uplift_and_without_cost_no_roi():
    c = campaign()
    deliveries(c, _sent(3, converted_at=NOW, revenue=Decimal("10.00"), revenue_currency="EUR"))
    results = services.campaign_results(campaign=c)
    assert results.uplift is None
    assert results.cost.amount == Decimal("0.00") and results.roi is None


def test_revenue_in_several_currencies_is_reported_per_currency_and_gives_no_roi():
    # Given conversions in euros and pounds on a campaign that costs euros
    c = campaign()
    Campaign.objects.filter(pk=c.pk).update(fixed_cost=Decimal("5.00"))
    c.refresh_from_db()
    deliveries(
        c,
        [
            *_sent(2, converted_at=NOW, revenue=Decimal("10.00"), revenue_currency="EUR"),
            *_sent(1, converted_at=NOW, revenue=Decimal("7.50"), revenue_currency="GBP"),
        ],
    )
    # When the results are computed
    results = services.campaign_results(campaign=c)
    # Then each currency has its own line, and no ROI mixes them
    assert [(m.amount, m.currency) for m in results.totals.revenue] == [(Decimal("20.00"), "EUR"), (Decimal("7.50"), "GBP")]
    assert results.totals.converted == 3 and results.roi is None


def test_the_daily_series_fills_the_days_between_with_zeros():
    c = campaign()
    deliveries(c, [*_sent(1), *_sent(2, sent_at=NOW - timedelta(days=2))])
    days = services.campaign_results(campaign=c).daily
    assert [d.sends for d in days] == [2, 0, 1]


def test_the_results_take_the_same_number_of_queries_for_one_delivery_or_many():
    small, large = campaign(name="Small"), campaign(name="Large")
    deliveries(small, _sent(1))
    many = _sent(10, opened_at=NOW, sent_at=NOW - timedelta(days=4), converted_at=NOW, revenue=Decimal(1), revenue_currency="EUR")
    deliveries(large, [*many, {"status": "holdout", "variant": "b"}, {"status": "skipped", "skip_reason": "no_consent"}])
    with CaptureQueriesContext(connection) as one:
        services.campaign_results(campaign=small)
    with CaptureQueriesContext(connection) as ten:
        services.campaign_results(campaign=large)
    assert len(one.captured_queries) == len(ten.captured_queries) <= 5


# --- The dashboard page and the overview ---


def test_the_results_page_shows_the_figures_uplift_and_cost_to_a_marketer(marketer_client):
    c = constructed()
    response = marketer_client.get(reverse("marketing_office:campaign_results", args=[c.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Constructed" in html and "<svg" in html and "11.00 EUR" in html and "400.00 EUR" in html
    assert "95% confidence interval" in html and "A/B variants" in html
    assert "The interval includes zero" in html


def test_the_results_page_of_a_campaign_that_sent_nothing_says_so(marketer_client):
    c = campaign()
    response = marketer_client.get(reverse("marketing_office:campaign_results", args=[c.pk]))
    assert response.status_code == 200 and "has not sent anything yet" in response.content.decode()


def test_an_unknown_campaign_is_a_404(marketer_client):
    assert marketer_client.get(reverse("marketing_office:campaign_results", args=[999999])).status_code == 404


@pytest.mark.parametrize(("role", "status"), [("marketer", 200), ("analyst", 200), ("agent", 403), ("supervisor", 403)])
def test_the_results_pages_are_for_marketers_and_analysts(request, role, status):
    c = constructed()
    client = _login(request.getfixturevalue(role))
    assert client.get(reverse("marketing_office:campaign_results", args=[c.pk])).status_code == status
    assert client.get(reverse("marketing_office:results_overview")).status_code == status


def test_a_passenger_and_a_visitor_cannot_see_results(passenger_client, client):
    c = campaign()
    url = reverse("marketing_office:campaign_results", args=[c.pk])
    assert passenger_client.get(url).status_code == 403
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]


def _page_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_pages_take_the_same_number_of_queries_with_one_delivery_or_ten(marketer):
    # Given a campaign with one delivery and another with ten over several days
    small, large = campaign(name="Small"), campaign(name="Large")
    deliveries(small, _sent(1, opened_at=NOW))
    deliveries(large, [*_sent(5, opened_at=NOW, clicked_at=NOW), *_sent(5, sent_at=NOW - timedelta(days=3),
                                                                         converted_at=NOW, revenue=Decimal(2), revenue_currency="EUR")])  # fmt: skip
    client = _login(marketer)
    client.get(reverse("marketing_office:results_overview"))  # what a process loads once
    # When both dashboards are requested, and the overview with two and with twelve campaigns
    one = _page_queries(client, reverse("marketing_office:campaign_results", args=[small.pk]))
    ten = _page_queries(client, reverse("marketing_office:campaign_results", args=[large.pk]))
    few = _page_queries(client, reverse("marketing_office:results_overview"))
    for n in range(10):
        deliveries(campaign(name=f"More {n}"), _sent(2, converted_at=NOW, revenue=Decimal(3), revenue_currency="EUR"))
    many = _page_queries(client, reverse("marketing_office:results_overview"))
    # Then the counts do not grow with the data
    assert one == ten and few == many


def test_the_overview_lists_each_campaign_with_sent_converted_revenue_and_roi(marketer_client):
    constructed()
    campaign(name="Quiet one")
    html = marketer_client.get(reverse("marketing_office:results_overview")).content.decode()
    assert "Constructed" in html and "Quiet one" in html
    assert "400.00 EUR" in html and "3536.4%" in html


def test_the_overview_with_no_campaigns_says_what_will_appear(marketer_client):
    html = marketer_client.get(reverse("marketing_office:results_overview")).content.decode()
    assert "No campaigns yet" in html


# --- The API ---


def test_the_api_gives_the_results_with_decimals_as_strings(marketer, api_as):
    c = constructed()
    response = api_as(marketer).get(f"/api/v1/marketing/campaign-results/{c.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["campaign_id"] == c.pk and body["totals"]["sent"] == 20 and body["totals"]["delivered"] == 18
    assert body["cost"] == {"amount": "11.00", "currency": "EUR"} and body["roi"] == "35.3636"
    assert body["totals"]["revenue"] == [{"amount": "400.00", "currency": "EUR"}]
    assert body["uplift"]["difference"] == pytest.approx(0.1) and body["uplift"]["significant"] is False
    assert [v["variant"] for v in body["variants"]] == ["a", "b"] and body["variants"][1]["converted"] == 1
    assert body["daily"][0]["sends"] == 20


@pytest.mark.parametrize(("role", "status"), [("marketer", 200), ("analyst", 200), ("agent", 403), ("supervisor", 403)])
def test_the_api_is_for_marketers_and_analysts(request, api_as, role, status):
    c = campaign()
    response = api_as(request.getfixturevalue(role)).get(f"/api/v1/marketing/campaign-results/{c.pk}/")
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"]


def test_the_api_hides_results_from_passengers_and_visitors(passenger, api_as, api_client):
    c = campaign()
    assert api_as(passenger[0]).get(f"/api/v1/marketing/campaign-results/{c.pk}/").status_code == 404
    assert api_client.get(f"/api/v1/marketing/campaign-results/{c.pk}/").status_code in (401, 403)


@pytest.mark.parametrize("pk", ["999999", "abc", "1" * 30])
def test_the_api_answers_an_unknown_campaign_with_a_404_in_the_error_shape(marketer, api_as, pk):
    response = api_as(marketer).get(f"/api/v1/marketing/campaign-results/{pk}/")
    assert response.status_code == 404
    assert set(response.json()["error"]) >= {"code", "message"}
