"""Award miles expire after the programme's months without activity, once, after a reminder sent once."""

import threading
import time
from datetime import date, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import OutboundEmail
from loyalty import events, services, tasks
from loyalty.models import EntryKind, Member, MemberNotice, MilesEntry
from loyalty.services.expiry import _DUE
from loyalty.services.tiers import add_months, local_midnight
from tests.events_support import capture_events
from tests.loyalty.factories import member
from tests.loyalty.tier_support import read_as_a_mail_client

pytestmark = pytest.mark.django_db

LAST_ACTIVITY = date(2025, 3, 14)
EXPIRES_ON = date(2027, 3, 14)  # 24 months later (the programme's default)


def inactive_member(balance: int = 12_000, *, last_activity: date = LAST_ACTIVITY, **customer_kwargs) -> Member:
    """A member whose last activity, a credit of ``balance``, was on ``last_activity``."""
    m = member(**customer_kwargs)
    Member.objects.filter(pk=m.pk).update(last_activity_at=local_midnight(date(2000, 1, 1)))
    credit(m, balance, at=local_midnight(last_activity) + timedelta(hours=9))
    m.refresh_from_db()
    return m


def credit(m: Member, award: int, *, at, kind: str = EntryKind.BONUS, key: str = ""):  # noqa: ANN001, ANN201
    return services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=kind, reason="welcome_bonus", key=key or f"expiry-test:{m.pk}:{at.isoformat()}:{award}",
            award=award, at=at,
        )
    )  # fmt: skip


def test_miles_expire_on_the_day_the_months_without_activity_are_up_and_not_the_day_before(
    django_capture_on_commit_callbacks,
):
    # Given a member with 12,000 miles whose last activity was on 14 March 2025
    m = inactive_member()

    # When the sweep runs the day before the expiry date, then on it
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        before = services.miles_expire(today=EXPIRES_ON - timedelta(days=1))
    assert before == [] and seen == []
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        expired = services.miles_expire(today=EXPIRES_ON)

    # Then the whole balance goes in one EXPIRY entry keyed by the last activity's date and the entry that
    # left the balance, and others are told
    m.refresh_from_db()
    assert m.award_balance == 0
    entry = MilesEntry.objects.get(member=m, kind=EntryKind.EXPIRY)
    earned = MilesEntry.objects.get(member=m, kind=EntryKind.BONUS)
    assert entry.award_miles == -12_000 and entry.idempotency_key == f"expiry:{m.pk}:2025-03-14:{earned.pk}"
    assert [(e.member_id, e.miles) for e in expired] == [(m.pk, 12_000)]
    assert seen == [("miles_expired", {"member_id": m.pk, "customer_id": m.customer_id, "miles": 12_000})]


def test_a_second_run_the_same_day_does_nothing(django_capture_on_commit_callbacks):
    m = inactive_member()
    services.miles_expire(today=EXPIRES_ON)
    last_activity = Member.objects.get(pk=m.pk).last_activity_at

    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        again = services.miles_expire(today=EXPIRES_ON)

    assert again == [] and seen == []
    assert MilesEntry.objects.filter(member=m, kind=EntryKind.EXPIRY).count() == 1
    # The expiry is no activity: the clock does not restart
    assert Member.objects.get(pk=m.pk).last_activity_at == last_activity


def test_miles_credited_back_after_an_expiry_without_activity_expire_at_the_next_sweep_once():
    # Given a member who earned 12,000 and spent 2,000 on their last day of activity, whose 10,000 expired
    m = inactive_member()
    spent = services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.REDEMPTION, reason="award_ticket", key="redeem:credited-back", award=-2_000,
            at=local_midnight(LAST_ACTIVITY) + timedelta(hours=10),
        )
    )  # fmt: skip
    assert [e.miles for e in services.miles_expire(today=EXPIRES_ON)] == [10_000]
    # And the award is refunded afterwards: 2,000 back, which is no activity
    services.miles_reverse(entry=spent, reason="award_refund")
    assert Member.objects.get(pk=m.pk).award_balance == 2_000

    # When the sweep runs the next day, and again
    later = services.miles_expire(today=EXPIRES_ON + timedelta(days=1))
    again = services.miles_expire(today=EXPIRES_ON + timedelta(days=1))

    # Then the miles credited back expire too, in an entry of their own, once
    assert [(e.member_id, e.miles) for e in later] == [(m.pk, 2_000)] and again == []
    assert Member.objects.get(pk=m.pk).award_balance == 0
    expiries = list(MilesEntry.objects.filter(member=m, kind=EntryKind.EXPIRY).order_by("pk"))
    assert [e.award_miles for e in expiries] == [-10_000, -2_000]
    assert len({e.idempotency_key for e in expiries}) == 2


def test_activity_restarts_the_clock_but_a_reversal_does_not():
    # Given a member who earned on 14 March 2025 and redeemed a little a year later
    active = inactive_member()
    services.miles_post(
        posting=services.Posting(
            member_id=active.pk, kind=EntryKind.REDEMPTION, reason="award_ticket", key="redeem:1", award=-2_000,
            at=local_midnight(date(2026, 3, 1)),
        )
    )  # fmt: skip
    # And a member whose only later entry reverses an earlier credit
    idle = inactive_member(5_000)
    bonus = credit(idle, 1_000, at=local_midnight(LAST_ACTIVITY))
    services.miles_reverse(entry=bonus, reason="posted_in_error")

    # When the sweep runs on the first member's old expiry date
    expired = services.miles_expire(today=EXPIRES_ON)

    # Then only the idle member's miles expire; the redeemer's run to 1 March 2028
    assert [e.member_id for e in expired] == [idle.pk]
    assert Member.objects.get(pk=active.pk).award_balance == 10_000
    assert [e.member_id for e in services.miles_expire(today=date(2028, 3, 1))] == [active.pk]


def test_many_members_expire_in_chunks_and_the_queries_do_not_grow_with_the_members():
    # Given one member whose miles expire on a day, four whose miles expire a week later,
    # and an active member and one without miles
    first = inactive_member(700, last_activity=LAST_ACTIVITY - timedelta(days=7))
    expiring = [inactive_member(1_000 + i) for i in range(4)]
    inactive_member(500, last_activity=EXPIRES_ON)
    member()

    # When the sweep runs on each day
    with CaptureQueriesContext(connection) as one:
        services.miles_expire(today=EXPIRES_ON - timedelta(days=7))
    with CaptureQueriesContext(connection) as four:
        expired = services.miles_expire(today=EXPIRES_ON)

    # Then four members cost the queries one did, and each lost exactly their balance, no one else anything
    assert len(four) == len(one)
    assert Member.objects.get(pk=first.pk).award_balance == 0
    assert sorted((e.member_id, e.miles) for e in expired) == sorted((m.pk, m.award_balance) for m in expiring)
    assert MilesEntry.objects.filter(kind=EntryKind.EXPIRY).count() == 5


def test_a_sweep_in_small_chunks_expires_everyone_once():
    expiring = [inactive_member(1_000 + i) for i in range(5)]

    expired = services.miles_expire(today=EXPIRES_ON, chunk=2)

    assert sorted(e.member_id for e in expired) == sorted(m.pk for m in expiring)
    assert not Member.objects.filter(pk__in=[m.pk for m in expiring], award_balance__gt=0).exists()
    assert MilesEntry.objects.filter(kind=EntryKind.EXPIRY).count() == 5


def test_the_selection_is_served_by_the_expiry_index():
    inactive_member()
    params = {
        "tz": timezone.get_default_timezone_name(),
        "bound": local_midnight(add_months(EXPIRES_ON, -24) + timedelta(days=4)),
        "months": 24,
        "today": EXPIRES_ON,
        "chunk": 500,
        "after": 0,
    }
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + _DUE, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "member_expiry_due" in plan


def test_a_reminder_goes_30_days_before_once_in_the_members_language(django_capture_on_commit_callbacks):
    # Given an English and a Chinese-speaking member whose miles expire on 14 March 2027
    english = inactive_member()
    chinese = inactive_member(3_000, preferred_language="zh-hans")
    reminder_day = EXPIRES_ON - timedelta(days=30)

    # When the reminder sweep runs 31 days before, 30 days before (twice) and the next day
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        too_early = services.miles_expiry_remind(today=reminder_day - timedelta(days=1))
        reminded = services.miles_expiry_remind(today=reminder_day)
        again = services.miles_expiry_remind(today=reminder_day)
        next_day = services.miles_expiry_remind(today=reminder_day + timedelta(days=1))

    # Then each member is reminded once, on the 30th day before
    assert too_early == [] and again == [] and next_day == []
    assert sorted(reminded) == sorted([english.pk, chinese.pk])
    assert MemberNotice.objects.filter(kind="expiry_reminder").count() == 2
    assert sorted(p["member_id"] for name, p in seen if name == "miles_expiring") == sorted([english.pk, chinese.pk])
    assert {"member_id": english.pk, "customer_id": english.customer_id, "miles": 12_000, "expires_on": "2027-03-14"} in [
        p for _n, p in seen
    ]

    # And the e-mails name the miles and the date, each rendered in the member's language
    messages = {m["to"]: m for m in map(read_as_a_mail_client, mail.outbox)}
    assert set(messages) == {english.customer.email, chinese.customer.email}
    # (dates as each language writes them: day month year in English, 年月日 in Chinese)
    assert "12000" in messages[english.customer.email]["subject"] and "14 Mar 2027" in messages[english.customer.email]["subject"]
    assert "13 Mar 2027" in messages[english.customer.email]["text/plain"]  # the last day to keep them
    assert english.number in messages[english.customer.email]["text/html"]
    assert OutboundEmail.objects.get(to=chinese.customer.email).language == "zh-hans"
    assert "3000" in messages[chinese.customer.email]["text/plain"]
    assert "2027年3月14日" in messages[chinese.customer.email]["text/plain"]


def test_activity_after_a_reminder_moves_the_date_and_earns_a_new_reminder_later():
    m = inactive_member()
    assert services.miles_expiry_remind(today=EXPIRES_ON - timedelta(days=10)) == [m.pk]

    # When the member earns again on 1 March 2027
    credit(m, 100, at=local_midnight(date(2027, 3, 1)))

    # Then nothing expires on the old date, and a reminder comes 30 days before 1 March 2029
    assert services.miles_expire(today=EXPIRES_ON) == []
    assert services.miles_expiry_remind(today=date(2029, 1, 30)) == [m.pk]
    assert set(MemberNotice.objects.filter(member=m).values_list("key", flat=True)) == {
        f"expiry_reminder:{m.pk}:2027-03-14",
        f"expiry_reminder:{m.pk}:2029-03-01",
    }


def test_the_beat_task_expires_and_reminds(django_capture_on_commit_callbacks):
    today = timezone.localdate()
    gone = inactive_member(last_activity=add_months(today, -24))
    soon = inactive_member(last_activity=add_months(today, -24) + timedelta(days=20))

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.miles_expire.delay().get()

    assert result == {"expired": 1, "reminded": 1}
    assert Member.objects.get(pk=gone.pk).award_balance == 0
    assert MemberNotice.objects.filter(member=soon).exists()


def test_the_beat_task_on_a_frozen_day_posts_its_entries_at_that_moment(django_capture_on_commit_callbacks):
    # Given the clock stopped at 10:00 on 15 June 2031, a member inactive since 15 June 2029 and one since
    # 20 days later
    frozen = datetime(2031, 6, 15, 10, 0, tzinfo=timezone.get_default_timezone())
    gone = inactive_member(last_activity=date(2029, 6, 15))
    soon = inactive_member(3_000, last_activity=date(2029, 7, 5))

    # When the beat runs the daily task at that moment (every reading of Django's clock answers it)
    with (
        mock.patch("django.utils.timezone.now", return_value=frozen) as clock,
        capture_events(events) as seen,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = tasks.miles_expire.delay().get()

    # Then it read the stopped clock for the day, expired the first member's miles at that very moment,
    # and reminded the second member that theirs go on 5 July 2031
    assert clock.called
    assert result == {"expired": 1, "reminded": 1}
    entry = MilesEntry.objects.get(member=gone, kind=EntryKind.EXPIRY)
    assert (entry.award_miles, entry.created_at) == (-12_000, frozen)
    assert entry.details == {"last_activity": "2029-06-15", "expires_on": "2031-06-15"}
    assert Member.objects.get(pk=gone.pk).last_activity_at < frozen - timedelta(days=700)  # not activity
    assert MemberNotice.objects.filter(member=soon, key=f"expiry_reminder:{soon.pk}:2031-07-05").exists()
    assert ("miles_expiring", {"member_id": soon.pk, "customer_id": soon.customer_id, "miles": 3_000,
                               "expires_on": "2031-07-05"}) in seen  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_member_who_earns_while_the_sweep_waits_for_their_row_keeps_their_miles():
    # Given an inactive member whose row a posting holds (the ledger's lock), about to credit new miles
    m = inactive_member()
    holding, release, outcome = threading.Event(), threading.Event(), {}

    def earn() -> None:
        try:
            with transaction.atomic():
                Member.objects.select_for_update().get(pk=m.pk)
                holding.set()
                release.wait(10)
                credit(m, 100, at=timezone.now())
        finally:
            connection.close()

    def sweep() -> None:
        try:
            outcome["expired"] = services.miles_expire(today=EXPIRES_ON)
        finally:
            connection.close()

    earner = threading.Thread(target=earn)
    earner.start()
    assert holding.wait(10)

    # When the sweep runs meanwhile, and waits for the row, and the credit then commits
    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    _wait_until_someone_waits_for_a_lock()
    release.set()
    earner.join(10)
    sweeper.join(10)

    # Then the sweep saw the new activity under the lock: nothing expired, the balance holds both credits
    assert outcome["expired"] == []
    assert not MilesEntry.objects.filter(member=m, kind=EntryKind.EXPIRY).exists()
    assert Member.objects.get(pk=m.pk).award_balance == 12_100


def _wait_until_someone_waits_for_a_lock(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the sweep never waited for the member's row")
