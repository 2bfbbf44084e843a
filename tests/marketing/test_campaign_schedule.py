"""The hourly tick of birthday and recurring campaigns: each customer at the send time of their home airport's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core import mail

from marketing import services
from marketing.models import Campaign, CampaignRun, Delivery
from reservations.models import Airport
from tests.marketing.campaign_support import segment
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
DAY = date(2026, 6, 15)  # a Monday, in summer time in New York (UTC-4); Shanghai is UTC+8 all year


def airport(code: str, zone: str) -> None:
    Airport.objects.update_or_create(
        iata_code=code, defaults={"name": code, "country": "CN", "latitude": 0, "longitude": 0, "time_zone": zone}
    )


@pytest.fixture
def zones():
    airport("PVG", "Asia/Shanghai")
    airport("JFK", "America/New_York")
    airport("LHR", "Europe/London")


def at(hour: int, minute: int = 30, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def scheduled(by, **fields) -> Campaign:  # noqa: ANN001
    c = services.campaign_create(
        name=fields.pop("name", "Happy birthday"), segment=segment(), subject_en="Happy birthday {{ name }}",
        text_en="Many happy returns, {{ name }}.", by=by, **fields,
    )  # fmt: skip
    return services.campaign_schedule(campaign=c, by=by)


def tick(c: Campaign, now: datetime, capture) -> CampaignRun | None:  # noqa: ANN001
    with capture(execute=True):
        return services.campaign_tick(campaign_id=c.pk, now=now)


def recipients() -> list[str]:
    return sorted(m.to[0] for m in mail.outbox)


def test_each_customer_gets_the_birthday_message_at_nine_in_their_own_zone_once(
    zones, marketer, django_capture_on_commit_callbacks
):
    # Given customers born on the day in Shanghai, New York and with no home airport (the site's zone, UTC)
    born = date(1990, DAY.month, DAY.day)
    shanghai = reachable(email="mei@example.com", home_airport="PVG", date_of_birth=born)
    new_york = reachable(email="john@example.com", home_airport="JFK", date_of_birth=born)
    nowhere = reachable(email="sam@example.com", home_airport="", date_of_birth=born)
    c = scheduled(marketer, kind="birthday")

    # When the tick runs at 01:30 UTC (09:30 in Shanghai), twice
    run = tick(c, at(1), django_capture_on_commit_callbacks)
    tick(c, at(1, 50), django_capture_on_commit_callbacks)
    # Then only the Shanghai customer got it, once, for her local date
    assert recipients() == [shanghai.email]
    assert run.occurrence == DAY

    # When the tick runs at 09:30 UTC, then the customer with no home airport gets it
    tick(c, at(9), django_capture_on_commit_callbacks)
    assert recipients() == sorted([shanghai.email, nowhere.email])

    # When the tick runs at 13:30 UTC (09:30 in New York) and again at 13:55, then the New York customer gets it once
    tick(c, at(13), django_capture_on_commit_callbacks)
    tick(c, at(13, 55), django_capture_on_commit_callbacks)
    assert recipients() == sorted([shanghai.email, nowhere.email, new_york.email])
    # And all three are in one run for the day, one delivery each
    assert Delivery.objects.filter(run__campaign=c).count() == 3
    assert CampaignRun.objects.filter(campaign=c).count() == 1
    assert Campaign.objects.get(pk=c.pk).status == "running"


def test_outside_the_send_hour_nobody_is_due(zones, marketer, django_capture_on_commit_callbacks):
    reachable(home_airport="PVG", date_of_birth=date(1990, DAY.month, DAY.day))
    c = scheduled(marketer, kind="birthday")
    # 00:59 UTC is 08:59 in Shanghai, 02:00 UTC is 10:00 there
    assert tick(c, at(0, 59), django_capture_on_commit_callbacks) is None
    assert tick(c, at(2, 0), django_capture_on_commit_callbacks) is None
    assert not mail.outbox and not Delivery.objects.exists()


def test_the_local_date_decides_the_birthday_not_the_utc_one(zones, marketer, django_capture_on_commit_callbacks):
    # Given a Shanghai customer born on 16 June: at 01:30 UTC on 16 June it is 09:30 on the 16th in Shanghai
    mei = reachable(home_airport="PVG", date_of_birth=date(1990, 6, 16))
    c = scheduled(marketer, kind="birthday", send_time=time(9, 0))
    # When the tick runs then, and at 23:30 UTC on the 15th (07:30 on the 16th in Shanghai)
    assert tick(c, at(23, 30, day=date(2026, 6, 15)), django_capture_on_commit_callbacks) is None
    run = tick(c, at(1, 30, day=date(2026, 6, 16)), django_capture_on_commit_callbacks)
    # Then she got it at her 09:30, for the 16th
    assert run.occurrence == date(2026, 6, 16)
    assert recipients() == [mei.email]


def test_a_29_february_birthday_is_kept_on_28_february_in_a_common_year(zones, marketer, django_capture_on_commit_callbacks):
    leap = reachable(home_airport="PVG", date_of_birth=date(1992, 2, 29))
    c = scheduled(marketer, kind="birthday")
    run = tick(c, at(1, 10, day=date(2027, 2, 28)), django_capture_on_commit_callbacks)
    assert run.occurrence == date(2027, 2, 28)
    assert recipients() == [leap.email]


def test_a_weekly_campaign_goes_on_the_weekday_of_its_first_day_within_its_days(
    zones, marketer, django_capture_on_commit_callbacks
):
    # Given a weekly campaign from Monday 15 June to Monday 22 June, at 10:00, for a London customer
    londoner = reachable(home_airport="LHR")
    c = scheduled(
        marketer, kind="recurring", repeat="weekly", send_time=time(10, 0), starts_on=DAY, ends_on=DAY + timedelta(days=7)
    )
    # When the tick runs at 10:05 London time (09:05 UTC in summer) on the Monday, the Tuesday, the next
    # Monday and the Monday after its last day
    runs = [tick(c, at(9, 5, day=DAY + timedelta(days=n)), django_capture_on_commit_callbacks) for n in (0, 1, 7, 14)]
    # Then it ran on the two Mondays within its days only, once each
    assert [r.occurrence if r else None for r in runs] == [DAY, None, DAY + timedelta(days=7), None]
    assert recipients() == [londoner.email, londoner.email]


def test_a_monthly_campaign_from_the_31st_goes_on_the_last_day_of_shorter_months(
    zones, marketer, django_capture_on_commit_callbacks
):
    reachable(home_airport="LHR")
    c = scheduled(marketer, kind="recurring", repeat="monthly", send_time=time(10, 0), starts_on=date(2026, 5, 31))
    days = [date(2026, 6, 29), date(2026, 6, 30), date(2026, 7, 30), date(2026, 7, 31)]
    runs = [tick(c, at(9, 5, day=d), django_capture_on_commit_callbacks) for d in days]
    assert [r.occurrence if r else None for r in runs] == [None, date(2026, 6, 30), None, date(2026, 7, 31)]


def test_the_tick_costs_the_same_queries_for_more_customers(
    zones, marketer, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # Given a daily campaign and a few Shanghai customers, ticked once to learn the cost
    c = scheduled(marketer, kind="recurring", repeat="daily")
    reachable(home_airport="PVG")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        services.campaign_tick(campaign_id=c.pk, now=at(1, 30))
    # When thirty more customers live there and the next day's tick runs
    for _n in range(30):
        reachable(home_airport="PVG")
    with django_assert_max_num_queries(len(small.captured_queries)):
        run = services.campaign_tick(campaign_id=c.pk, now=at(1, 30, day=DAY + timedelta(days=1)))
    # Then it took no more queries, and all 31 are in the run
    assert run.deliveries.count() == 31
