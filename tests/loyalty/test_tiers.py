"""Tiers: up at once at a threshold, kept or lowered one step at period end, warned before a drop."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.models import Q, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import OutboundEmail
from loyalty import events, services, tasks
from loyalty.models import Member, MemberNotice, MilesEntry, Tier
from loyalty.services.tiers import add_months, local_midnight
from tests.events_support import capture_events
from tests.loyalty.factories import member
from tests.loyalty.tier_support import given_member, in_period, post, read_as_a_mail_client, year_ago

pytestmark = pytest.mark.django_db


def tier_changes(seen: list[tuple[str, dict]]) -> list[tuple[str, str, str]]:
    return [(p["old_tier"], p["new_tier"], p["reason"]) for name, p in seen if name == "tier_changed"]


def assert_counters_are_the_current_periods_entries(m: Member) -> None:
    m.refresh_from_db()
    sums = MilesEntry.objects.filter(member=m, created_at__gte=local_midnight(m.qualification_start)).aggregate(
        q=Sum("qualifying_miles"), s=Sum("qualifying_segments")
    )
    assert (m.qualifying_miles, m.qualifying_segments) == (sums["q"] or 0, sums["s"] or 0)


# --- Up as soon as a threshold is reached -----------------------------------------------------


def test_a_member_moves_up_exactly_at_the_threshold_and_not_one_mile_below(django_capture_on_commit_callbacks):
    # Given a Blue member whose period started today (Silver needs 25,000 qualifying miles)
    m = member()
    today = timezone.localdate()

    # When 24,999 qualifying miles are posted, then one more
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        post(m, qualifying=24_999)
    m.refresh_from_db()
    assert m.tier.code == "blue" and tier_changes(seen) == []
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        post(m, qualifying=1)

    # Then the member is Silver from today until the last day of the next period, and others are told
    m.refresh_from_db()
    assert m.tier.code == "silver" and m.tier_since == today
    assert m.tier_valid_until == add_months(add_months(today, 12), 12) - timedelta(days=1)
    assert tier_changes(seen) == [("blue", "silver", "qualified")]


def test_flown_segments_reach_a_tier_too():
    m = member()
    post(m, qualifying=500, segments=59)
    m.refresh_from_db()
    assert m.tier.code == "silver"
    post(m, qualifying=500, segments=1)
    m.refresh_from_db()
    assert m.tier.code == "gold"


def test_a_flights_only_tier_is_reached_at_its_flights_and_never_by_its_zero_miles():
    # Given Silver configured in the admin as 30 flights, with 0 qualifying miles (no miles threshold)
    Tier.objects.filter(code="silver").update(qualifying_miles=0, qualifying_segments=30)
    tiers = list(Tier.objects.order_by("rank"))

    # Then the counters reach it at 30 flights, one short is Blue, and miles alone never reach it
    assert services.tier_for_counters(tiers=tiers, miles=0, segments=0).code == "blue"
    assert services.tier_for_counters(tiers=tiers, miles=49_999, segments=29).code == "blue"
    assert services.tier_for_counters(tiers=tiers, miles=0, segments=30).code == "silver"
    # (Gold's own thresholds still count: its miles or its flights)
    assert services.tier_for_counters(tiers=tiers, miles=50_000, segments=0).code == "gold"
    assert services.tier_for_counters(tiers=tiers, miles=0, segments=60).code == "gold"

    # And a member earning a first flight stays Blue, then moves up on the 30th
    m = member()
    post(m, qualifying=500, segments=1)
    m.refresh_from_db()
    assert m.tier.code == "blue"
    post(m, qualifying=500, segments=28)
    m.refresh_from_db()
    assert m.tier.code == "blue"
    post(m, qualifying=500, segments=1)
    m.refresh_from_db()
    assert m.tier.code == "silver"


def test_a_tier_with_no_threshold_at_all_is_not_reached_by_the_counters():
    Tier.objects.filter(code="silver").update(qualifying_miles=0, qualifying_segments=0)
    tiers = list(Tier.objects.order_by("rank"))
    assert services.tier_for_counters(tiers=tiers, miles=24_999, segments=29).code == "blue"
    assert services.tier_for_counters(tiers=tiers, miles=50_000, segments=0).code == "gold"


def test_a_flights_only_tier_at_period_end_is_kept_by_flights_not_by_zero_miles():
    # Given Silver as 30 flights only, and two Silver members whose period just ended: 30 flights and 29
    Tier.objects.filter(code="silver").update(qualifying_miles=0, qualifying_segments=30)
    today = timezone.localdate()
    start = year_ago(today)
    kept = given_member(tier="silver", start=start, entries=[(3_000, 30, in_period(start))])
    short = given_member(tier="silver", start=start, entries=[(3_000, 29, in_period(start))])

    services.tiers_requalify(today=today)

    kept.refresh_from_db(), short.refresh_from_db()
    assert (kept.tier.code, short.tier.code) == ("silver", "blue")


def test_miles_posted_after_period_end_but_before_requalification_count_only_for_the_new_period(
    django_capture_on_commit_callbacks,
):
    # Given Blue members whose period ended 10 days ago, not requalified yet: one earned 20,000 in it
    today = timezone.localdate()
    start = year_ago(today - timedelta(days=10))
    mixed = given_member(start=start, entries=[(20_000, 0, in_period(start))])
    fresh = given_member(start=start)

    # When both earn after the period's end (the first 10,000, the second 26,000)
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        post(mixed, qualifying=10_000)
        post(fresh, qualifying=26_000)

    # Then no one moves yet: 20,000 + 10,000 straddle two periods
    assert tier_changes(seen) == []
    assert {m.tier.code for m in Member.objects.filter(pk__in=[mixed.pk, fresh.pk])} == {"blue"}

    # And requalification keeps the first Blue and gives the second Silver on the new period alone,
    # held until the end of the period after the new one
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        services.tiers_requalify(today=today)
    mixed.refresh_from_db()
    fresh.refresh_from_db()
    new_start = add_months(start, 12)
    assert (mixed.tier.code, mixed.qualifying_miles) == ("blue", 10_000)
    assert (fresh.tier.code, fresh.qualification_start) == ("silver", new_start)
    assert fresh.tier_valid_until == add_months(add_months(new_start, 12), 12) - timedelta(days=1)
    assert tier_changes(seen) == [("blue", "silver", "qualified")]


# --- Requalification at period end --------------------------------------------------------


def test_a_member_who_earned_the_tier_again_keeps_it_for_the_next_period_and_starts_a_new_one(
    django_capture_on_commit_callbacks,
):
    # Given a Gold member (valid to the period's last day) with 50,000 qualifying miles in a period ending today,
    # and 1,200 more posted since midnight
    today = timezone.localdate()
    start = year_ago(today)
    m = given_member(tier="gold", start=start, valid_until=today - timedelta(days=1), entries=[(50_000, 20, in_period(start))])
    post(m, qualifying=1_200, segments=1, at=local_midnight(today) + timedelta(minutes=5))

    # When requalification runs
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        changes = services.tiers_requalify(today=today)

    # Then Gold is kept until the new period's last day, the new period starts today with only today's entries
    m.refresh_from_db()
    assert changes == [] and tier_changes(seen) == []
    assert m.tier.code == "gold"
    assert m.qualification_start == today
    assert m.tier_valid_until == add_months(today, 12) - timedelta(days=1)
    assert (m.qualifying_miles, m.qualifying_segments) == (1_200, 1)
    assert_counters_are_the_current_periods_entries(m)


def test_soft_landing_takes_platinum_with_nothing_down_to_gold_not_blue_and_a_second_run_changes_nothing(
    django_capture_on_commit_callbacks,
):
    # Given a Platinum member whose period ends today, with no qualifying activity and no validity left
    today = timezone.localdate()
    start = year_ago(today)
    m = given_member(tier="platinum", start=start, valid_until=today - timedelta(days=1))

    # When requalification runs, twice the same day
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        services.tiers_requalify(today=today)
    m.refresh_from_db()
    after_first = Member.objects.filter(pk=m.pk).values().get()
    with capture_events(events) as again, django_capture_on_commit_callbacks(execute=True):
        second = services.tiers_requalify(today=today)

    # Then the member drops one tier, to Gold, held for the new period, and others are told once
    assert m.tier.code == "gold" and m.tier_since == today
    assert m.tier_valid_until == add_months(today, 12) - timedelta(days=1)
    assert tier_changes(seen) == [("platinum", "gold", "requalification")]
    # And the second run finds no one
    assert second == [] and again == []
    assert Member.objects.filter(pk=m.pk).values().get() == after_first


def test_soft_landing_lowers_one_tier_per_period_even_when_less_was_earned():
    # Given a Platinum member who earned Silver only (30,000), and a Gold member who earned nothing
    today = timezone.localdate()
    start = year_ago(today)
    platinum = given_member(
        tier="platinum", start=start, valid_until=today - timedelta(days=1), entries=[(30_000, 0, in_period(start))]
    )
    gold = given_member(tier="gold", start=start, valid_until=today - timedelta(days=1))

    # When requalification runs
    services.tiers_requalify(today=today)

    # Then each drops one step: Platinum to Gold (not to the Silver earned), Gold to Silver
    platinum.refresh_from_db()
    gold.refresh_from_db()
    assert platinum.tier.code == "gold" and gold.tier.code == "silver"


def test_the_entry_tier_stays_and_needs_no_validity():
    today = timezone.localdate()
    m = given_member(tier="blue", start=year_ago(today))

    services.tiers_requalify(today=today)

    m.refresh_from_db()
    assert m.tier.code == "blue" and m.tier_valid_until is None
    assert m.qualification_start == today


def test_a_tier_reached_mid_period_is_kept_through_the_next_period_even_with_nothing_earned():
    # Given a Gold member whose Gold (reached last period) is valid until the end of the period starting today
    today = timezone.localdate()
    valid_until = add_months(today, 12) - timedelta(days=1)
    m = given_member(tier="gold", start=year_ago(today), valid_until=valid_until)

    # When requalification runs on a period with no qualifying activity
    services.tiers_requalify(today=today)

    # Then Gold stays, on its earlier validity, and the new period starts
    m.refresh_from_db()
    assert m.tier.code == "gold" and m.tier_valid_until == valid_until and m.qualification_start == today

    # And at the end of that period, still with nothing, the member lands one step lower
    services.tiers_requalify(today=add_months(today, 12))
    m.refresh_from_db()
    assert m.tier.code == "silver"


def test_members_whose_period_has_not_ended_are_left_alone():
    today = timezone.localdate()
    m = given_member(tier="gold", start=year_ago(today) + timedelta(days=1), valid_until=today - timedelta(days=1))

    assert services.tiers_requalify(today=today) == []

    m.refresh_from_db()
    assert m.tier.code == "gold" and m.qualification_start == year_ago(today) + timedelta(days=1)


def test_a_requalification_days_late_catches_up_one_period_and_one_step_at_a_time():
    # Given a Platinum member whose period ended two periods ago, with nothing since
    today = timezone.localdate()
    m = given_member(tier="platinum", start=year_ago(today, 24), valid_until=year_ago(today) - timedelta(days=1))

    # When requalification runs
    changes = services.tiers_requalify(today=today)

    # Then each period is closed in turn: Platinum → Gold → Silver, and the current period starts today
    m.refresh_from_db()
    assert [(c.old_tier, c.new_tier) for c in changes] == [("platinum", "gold"), ("gold", "silver")]
    assert m.tier.code == "silver" and m.qualification_start == today


def test_the_members_counters_are_the_sums_of_the_current_periods_entries_after_requalification():
    # Given entries in the ended period (a flight, then its reversal's partner) and after its end
    today = timezone.localdate()
    start = year_ago(today, 12) - timedelta(days=5)  # ended 5 days ago, not yet requalified
    m = given_member(tier="silver", start=start, valid_until=today, entries=[(20_000, 10, in_period(start))])
    later = post(m, qualifying=3_000, segments=2, at=local_midnight(today - timedelta(days=3)))
    services.miles_reverse(entry=later, reason="ticket_refunded")
    post(m, qualifying=800, segments=1, at=local_midnight(today - timedelta(days=1)))
    m.refresh_from_db()
    assert m.qualifying_miles == 20_800  # before: the ended period and the new one together

    # When requalification runs
    services.tiers_requalify(today=today)

    # Then the counters hold only what was posted since the new period began
    m.refresh_from_db()
    assert m.qualification_start == add_months(start, 12)
    assert (m.qualifying_miles, m.qualifying_segments) == (800, 1)
    assert_counters_are_the_current_periods_entries(m)
    # And the ledger was not written to reset them
    assert not MilesEntry.objects.filter(member=m).filter(~Q(kind__in=["accrual", "reversal"])).exists()


def test_the_beat_task_requalifies_and_warns(django_capture_on_commit_callbacks):
    today = timezone.localdate()
    given_member(tier="platinum", start=year_ago(today), valid_until=today - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.tiers_requalify.delay().get()
    assert result["tier_changes"] == 1


# --- Warnings before a drop ----------------------------------------------------------------


def test_a_member_behind_the_pace_is_warned_once_what_is_missing_in_their_language(django_capture_on_commit_callbacks):
    # Given Gold members whose period ends in 30 days (warnings start 60 days before): one far behind,
    # one Chinese-speaking far behind, one on pace, one whose Gold holds past the period's end
    today = timezone.localdate()
    start = year_ago(today + timedelta(days=30))
    behind = given_member(
        tier="gold", start=start, valid_until=today + timedelta(days=29), entries=[(10_000, 5, in_period(start))]
    )
    chinese = given_member(
        tier="gold", start=start, valid_until=today + timedelta(days=29), entries=[(10_000, 5, in_period(start))],
        preferred_language="zh-hans",
    )  # fmt: skip
    on_pace = given_member(
        tier="gold", start=start, valid_until=today + timedelta(days=29), entries=[(47_000, 5, in_period(start))]
    )
    held = given_member(tier="gold", start=start, valid_until=add_months(today, 12))

    # When the warning sweep runs twice
    with django_capture_on_commit_callbacks(execute=True):
        warned = services.tiers_warn(today=today)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.tiers_warn(today=today)

    # Then only the two behind are warned, once each
    assert sorted(warned) == sorted([behind.pk, chinese.pk]) and again == []
    assert MemberNotice.objects.filter(kind="tier_warning").count() == 2
    assert on_pace.pk not in warned and held.pk not in warned
    messages = {m["to"]: m for m in map(read_as_a_mail_client, mail.outbox)}
    assert set(messages) == {behind.customer.email, chinese.customer.email}

    # And the English e-mail says what is missing to keep Gold, and where the member would land
    english = messages[behind.customer.email]
    assert "Gold" in english["subject"]
    assert "40000 more qualifying miles" in english["text/plain"] and "55 more flights" in english["text/plain"]
    assert "Silver" in english["text/html"]
    # And the Chinese-speaking member's was rendered in their language
    assert OutboundEmail.objects.get(to=chinese.customer.email).language == "zh-hans"
    assert "40000" in messages[chinese.customer.email]["text/plain"]


def test_no_warning_outside_the_window_or_for_the_entry_tier():
    today = timezone.localdate()
    too_early = year_ago(today + timedelta(days=61))
    given_member(tier="gold", start=too_early, valid_until=today + timedelta(days=60))
    given_member(tier="blue", start=year_ago(today + timedelta(days=30)))

    assert services.tiers_warn(today=today) == []


def test_entry_tier_has_rank_zero_and_thresholds_rise():
    ranks = list(Tier.objects.order_by("rank").values_list("code", "qualifying_miles"))
    assert ranks[0] == ("blue", 0) and [m for _c, m in ranks] == sorted(m for _c, m in ranks)


def test_requalification_queries_do_not_grow_with_the_members():
    # Given one member whose period ends on a day and four whose periods end a week later
    today = timezone.localdate()
    first_day = today - timedelta(days=7)
    given_member(tier="platinum", start=year_ago(first_day), valid_until=first_day - timedelta(days=1))
    for _ in range(4):
        given_member(
            tier="platinum",
            start=year_ago(today),
            valid_until=today - timedelta(days=1),
            entries=[(1_000, 1, in_period(year_ago(today)))],
        )

    # When requalification runs on each day
    with CaptureQueriesContext(connection) as one:
        assert len(services.tiers_requalify(today=first_day)) == 1
    with CaptureQueriesContext(connection) as four:
        assert len(services.tiers_requalify(today=today)) == 4

    # Then four members cost what one did
    assert len(four) == len(one)
