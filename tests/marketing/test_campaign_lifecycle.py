"""A campaign's life: checked drafts, scheduling (and approval above a size), pause, resume, complete, preview, test send."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask

from crm.errors import ApplicationError
from crm.models import CustomerAccess
from crm.permissions import MARKETER
from marketing import services
from marketing.models import Campaign, Delivery
from tests.marketing.campaign_support import segment
from tests.marketing.offers_support import offer
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db


def draft(**overrides) -> Campaign:
    fields = {
        "name": "Autumn sale",
        "segment": overrides.pop("segment", None) or segment(),
        "subject_en": "Hello {{ name }}",
        "text_en": "Dear {{ name }}, fly with us. {{ offer_code }}",
        "subject_zh": "你好 {{ name }}",
        "text_zh": "{{ name }}，欢迎乘坐。{{ offer_code }}",
        "send_at": timezone.now() + timedelta(days=2),
        **overrides,
    }
    return services.campaign_create(**fields)


def entry(c: Campaign) -> PeriodicTask | None:
    return PeriodicTask.objects.filter(name=f"marketing-campaign-{c.pk}").select_related("clocked", "crontab").first()


# --- Creating and editing ---


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"send_at": None}, "send_at"),
        ({"send_at": timezone.now() - timedelta(minutes=1)}, "send_at"),
        ({"kind": "recurring", "send_at": None}, "repeat"),
        ({"kind": "triggered", "send_at": None}, "trigger"),
        ({"kind": "triggered", "trigger": "miles_expiring"}, "trigger_days"),
        ({"kind": "triggered", "trigger": "nonsense"}, "trigger"),
        ({"variant_b_percent": 101}, "variant_b_percent"),
        ({"holdout_percent": 51}, "holdout_percent"),
        ({"holdout_percent": -1}, "holdout_percent"),
        ({"cost_per_message": Decimal("-0.01")}, "cost_per_message"),
        ({"fixed_cost": "lots"}, "fixed_cost"),
        ({"cost_per_message": Decimal("1000000")}, "cost_per_message"),
        ({"fixed_cost": Decimal("NaN")}, "fixed_cost"),
        ({"cost_currency": "EU"}, "cost_currency"),
        ({"kind": "birthday", "starts_on": date(2027, 5, 2), "ends_on": date(2027, 5, 1)}, "ends_on"),
        ({"text_en_b": "{% if name %}unclosed"}, "text_en_b"),
        ({"subject_zh_b": "{{ name|nosuchfilter }}"}, "subject_zh_b"),
        ({"channel": "push", "subject_en": ""}, "subject_en"),
        ({"channel": "pigeon"}, "channel"),
        ({"text_en": "  "}, "text_en"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_field_is_refused_by_name_and_nothing_is_saved(overrides, field):
    # Given a segment, when a campaign is created with one bad field
    with pytest.raises(ApplicationError) as refused:
        draft(**overrides)
    # Then the error names that field, and no campaign exists
    assert field in refused.value.fields
    assert not Campaign.objects.exists()


def test_an_expired_offer_is_refused():
    # Given an offer whose validity ended yesterday
    old = offer(valid_from=timezone.now() - timedelta(days=30), valid_until=timezone.now() - timedelta(days=1))
    # When a campaign carries it, then it is refused on the offer field
    with pytest.raises(ApplicationError) as refused:
        draft(offer=old)
    assert "offer" in refused.value.fields


def test_kinds_keep_only_their_own_schedule_fields_and_a_birthday_goes_at_nine_by_default():
    # When a birthday campaign is created with a stray moment, and an SMS without a subject
    birthday = draft(kind="birthday", send_at=timezone.now() + timedelta(days=1), repeat="daily")
    sms = draft(channel="sms", subject_en="")
    triggered = draft(kind="triggered", trigger="inactive", trigger_days=180)
    # Then the birthday one goes at 09:00 local time, with no moment and no repeat; all are drafts
    assert (birthday.send_time, birthday.send_at, birthday.repeat) == (time(9, 0), None, "")
    assert (sms.channel, sms.subject_en, sms.status) == ("sms", "", "draft")
    assert (triggered.trigger, triggered.trigger_days, triggered.send_at) == ("inactive", 180, None)


def test_only_a_draft_or_paused_campaign_can_be_edited_and_an_edit_withdraws_the_approval(marketer):
    # Given a draft
    c = draft()
    # When it is renamed, then the name changes
    services.campaign_update(campaign=c, by=marketer, name="Winter sale", holdout_percent=10)
    c.refresh_from_db()
    assert (c.name, c.holdout_percent) == ("Winter sale", 10)
    # Given it is scheduled, when it is edited, then that is refused and nothing changes
    services.campaign_schedule(campaign=c, by=marketer)
    with pytest.raises(ApplicationError) as refused:
        services.campaign_update(campaign=c, by=marketer, name="Spring sale")
    assert "status" in refused.value.fields
    assert Campaign.objects.get(pk=c.pk).name == "Winter sale"
    # Given it was approved and is paused, when it is edited, then the approval is gone
    Campaign.objects.filter(pk=c.pk).update(approved_by=marketer, approved_at=timezone.now())
    services.campaign_pause(campaign=c, by=marketer)
    services.campaign_update(campaign=c, by=marketer, text_en="New text {{ name }}")
    c.refresh_from_db()
    assert (c.text_en, c.approved_at, c.approved_by) == ("New text {{ name }}", None, None)


def test_an_unknown_field_cannot_be_updated(marketer):
    c = draft()
    with pytest.raises(ApplicationError) as refused:
        services.campaign_update(campaign=c, by=marketer, status="completed")
    assert "status" in refused.value.fields
    assert Campaign.objects.get(pk=c.pk).status == "draft"


# --- Scheduling, approval ---


def test_scheduling_counts_the_audience_and_writes_a_clocked_beat_entry(marketer):
    # Given two reachable customers and a one-off draft
    reachable(), reachable()
    c = draft()
    # When it is scheduled
    services.campaign_schedule(campaign=c, by=marketer)
    # Then it is scheduled, the segment's count is stored and the beat entry fires campaign_run once at send_at
    c.refresh_from_db()
    c.segment.refresh_from_db()
    assert c.status == "scheduled"
    assert c.segment.last_count == 2 and c.segment.counted_at is not None
    task = entry(c)
    assert task.task == "marketing.tasks.campaign_run"
    assert task.clocked.clocked_time == c.send_at and task.one_off and task.enabled
    assert json.loads(task.kwargs) == {"campaign_id": c.pk}


def test_a_birthday_campaign_ticks_every_hour_at_its_send_minute(marketer):
    c = draft(kind="birthday", send_time=time(9, 15))
    services.campaign_schedule(campaign=c, by=marketer)
    task = entry(c)
    assert task.task == "marketing.tasks.campaign_tick"
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("15", "*", "UTC")
    assert task.clocked is None and not task.one_off
    assert json.loads(task.kwargs) == {"campaign_id": c.pk}


def test_a_triggered_campaign_has_no_beat_entry_of_its_own(marketer):
    c = draft(kind="triggered", trigger="registered")
    services.campaign_schedule(campaign=c, by=marketer)
    assert Campaign.objects.get(pk=c.pk).status == "scheduled"
    assert entry(c) is None


def test_a_template_error_found_by_rendering_blocks_scheduling_and_is_shown(marketer):
    # Given a Chinese text that compiles but fails when rendered (a filter argument that does not exist)
    reachable()
    c = draft(text_zh="{{ name|default:no_such_value }}")
    # When it is scheduled
    with pytest.raises(ApplicationError) as refused:
        services.campaign_schedule(campaign=c, by=marketer)
    # Then it stays a draft with no beat entry, and the error names the Chinese text
    assert refused.value.code == "render_error"
    assert "no_such_value" in refused.value.fields["text_zh"][0]
    assert Campaign.objects.get(pk=c.pk).status == "draft" and entry(c) is None


def test_above_the_approval_audience_a_second_marketer_must_approve(settings, marketer, make_staff, analyst):
    # Given an approval limit of one customer, two reachable customers and a campaign made by the marketer
    settings.MARKETING_APPROVAL_AUDIENCE = 1
    reachable(), reachable()
    c = draft(by=marketer)
    # When it is scheduled, then it awaits approval, with nothing on the beat
    services.campaign_schedule(campaign=c, by=marketer)
    assert Campaign.objects.get(pk=c.pk).status == "approval" and entry(c) is None
    # When its own author approves it, or an analyst does, then that is refused
    with pytest.raises(ApplicationError) as own:
        services.campaign_approve(campaign=c, by=marketer)
    assert own.value.code == "four_eyes"
    with pytest.raises(ApplicationError):
        services.campaign_approve(campaign=c, by=analyst)
    assert Campaign.objects.get(pk=c.pk).status == "approval"
    # When a second marketer approves it, then it is scheduled, recorded as theirs, and on the beat
    other = make_staff(MARKETER, username="marketer2")
    services.campaign_approve(campaign=c, by=other)
    c.refresh_from_db()
    assert (c.status, c.approved_by, c.approved_at is not None) == ("scheduled", other, True)
    assert entry(c).enabled


def test_at_the_approval_audience_no_approval_is_needed(settings, marketer):
    settings.MARKETING_APPROVAL_AUDIENCE = 2
    reachable(), reachable()
    c = draft(by=marketer)
    services.campaign_schedule(campaign=c, by=marketer)
    assert Campaign.objects.get(pk=c.pk).status == "scheduled"


def test_a_rejected_campaign_goes_back_to_draft_and_a_reason_is_required(settings, marketer, make_staff):
    settings.MARKETING_APPROVAL_AUDIENCE = 0
    reachable()
    c = draft(by=marketer)
    services.campaign_schedule(campaign=c, by=marketer)
    other = make_staff(MARKETER, username="marketer2")
    with pytest.raises(ApplicationError) as refused:
        services.campaign_reject(campaign=c, by=other, reason=" ")
    assert "reason" in refused.value.fields
    services.campaign_reject(campaign=c, by=other, reason="Too many recipients this week")
    assert Campaign.objects.get(pk=c.pk).status == "draft"


def test_only_a_draft_can_be_scheduled(marketer):
    c = draft()
    services.campaign_schedule(campaign=c, by=marketer)
    with pytest.raises(ApplicationError) as refused:
        services.campaign_schedule(campaign=c, by=marketer)
    assert refused.value.code == "invalid_status"


# --- Running, pausing, resuming, completing ---


def test_the_one_off_run_goes_for_the_local_date_of_its_moment(marketer, django_capture_on_commit_callbacks):
    # Given a scheduled one-off campaign and a reachable customer
    customer = reachable()
    c = draft()
    services.campaign_schedule(campaign=c, by=marketer)
    # When its beat entry fires
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run(campaign_id=c.pk)
    # Then the occurrence is the local date of send_at, the customer got one e-mail and the campaign runs
    assert run.occurrence == timezone.localtime(c.send_at).date()
    assert Delivery.objects.get(run=run, customer=customer).status == "sent"
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert Campaign.objects.get(pk=c.pk).status == "running"


def test_a_paused_campaign_sends_nothing_until_it_is_resumed(marketer, django_capture_on_commit_callbacks):
    # Given a one-off campaign whose run has materialised a pending delivery (its send tasks not yet run)
    customer = reachable()
    c = draft()
    services.campaign_schedule(campaign=c, by=marketer)
    with django_capture_on_commit_callbacks(execute=False):
        run = services.campaign_run(campaign_id=c.pk)
    delivery = Delivery.objects.get(run=run, customer=customer)
    # When the campaign is paused and the send task runs anyway
    services.campaign_pause(campaign=c, by=marketer)
    services.delivery_send(delivery_id=delivery.pk)
    # Then the delivery is still pending, nothing was sent, and the beat entry is disabled
    delivery.refresh_from_db()
    assert (delivery.status, len(mail.outbox)) == ("pending", 0)
    assert entry(c) is None or not entry(c).enabled
    # When it is resumed, then the pending delivery is queued again and sent once; the campaign runs again
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_resume(campaign=c, by=marketer)
    delivery.refresh_from_db()
    assert (delivery.status, len(mail.outbox)) == ("sent", 1)
    assert Campaign.objects.get(pk=c.pk).status == "running"


def test_pause_disables_the_entry_resume_enables_it_and_complete_removes_it(marketer):
    # Given a scheduled birthday campaign
    c = draft(kind="birthday")
    services.campaign_schedule(campaign=c, by=marketer)
    # When paused, then its entry is disabled (the caller's object shows it paused) and a run is refused
    services.campaign_pause(campaign=c, by=marketer)
    assert c.status == "paused" and not entry(c).enabled
    assert services.campaign_tick(campaign_id=c.pk) is None
    # When resumed, then it is scheduled again, its entry enabled
    services.campaign_resume(campaign=c, by=marketer)
    assert Campaign.objects.get(pk=c.pk).status == "scheduled" and entry(c).enabled
    # When completed, then the entry is gone, and it cannot be resumed or paused
    services.campaign_complete(campaign=c, by=marketer)
    assert Campaign.objects.get(pk=c.pk).status == "completed" and entry(c) is None
    for action in (services.campaign_resume, services.campaign_pause):
        with pytest.raises(ApplicationError):
            action(campaign=c, by=marketer)


def test_only_a_draft_can_be_deleted(marketer):
    kept, gone = draft(), draft()
    services.campaign_schedule(campaign=kept, by=marketer)
    with pytest.raises(ApplicationError):
        services.campaign_delete(campaign=kept, by=marketer)
    services.campaign_delete(campaign=gone, by=marketer)
    assert list(Campaign.objects.values_list("pk", flat=True)) == [kept.pk]


def test_finished_campaigns_complete_themselves(marketer, django_capture_on_commit_callbacks):
    # Given a one-off campaign whose only delivery was sent, one still sending, and a recurring one past its last day
    reachable()
    done, sending = draft(name="Done"), draft(name="Sending")
    for c in (done, sending):
        services.campaign_schedule(campaign=c, by=marketer)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_run(campaign_id=done.pk)
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_run(campaign_id=sending.pk)
    today = timezone.localdate()
    ended = draft(kind="recurring", repeat="daily", starts_on=today - timedelta(days=9), ends_on=today - timedelta(days=1))
    services.campaign_schedule(campaign=ended, by=marketer)
    # When the periodic task runs
    finished = services.campaigns_complete_finished()
    # Then the finished ones are completed (and off the beat), the one still sending is not
    statuses = dict(Campaign.objects.values_list("name", "status"))
    assert finished == 2
    assert statuses == {"Done": "completed", "Sending": "running", "Autumn sale": "completed"}
    assert entry(ended) is None and entry(done) is None
    assert list(ClockedSchedule.objects.values_list("clocked_time", flat=True)) == [sending.send_at]


# --- Preview and test send ---


def test_the_chinese_preview_renders_the_chinese_variant_with_a_sample_code(marketer):
    # Given a campaign with an offer and a B variant in Chinese
    c = draft(offer=offer(), subject_zh_b="特惠 {{ name }}", variant_b_percent=50)
    # When it is previewed in Chinese, variant B, for nobody in particular
    preview = services.campaign_preview(campaign=c, language="zh-hans", variant="b")
    # Then the Chinese B subject and the Chinese text show, with a sample code (none issued)
    assert preview.subject == "特惠 Alex"
    assert "欢迎乘坐" in preview.text and "SAMPLE-CODE" in preview.text
    assert not c.offer.codes.exists()


def test_a_preview_for_a_chosen_customer_uses_their_data_and_is_recorded(marketer):
    customer = reachable(given_name="Mei")
    c = draft()
    preview = services.campaign_preview(campaign=c, customer=customer, by=marketer, surface="api", path="/x/")
    assert preview.subject == "Hello Mei"
    access = CustomerAccess.objects.get()
    assert (access.customer, access.user, access.surface) == (customer, marketer, "api")


def test_the_test_send_reaches_the_marketer_only_and_leaves_no_delivery(marketer):
    # Given a campaign on a segment with a reachable customer
    customer = reachable(given_name="Mei")
    c = draft()
    # When the marketer sends themselves a test as that customer would see it
    services.campaign_test_send(campaign=c, by=marketer, customer=customer)
    # Then one e-mail reached the marketer alone, marked as a test, and nothing was recorded as a delivery
    assert [m.to for m in mail.outbox] == [[marketer.email]]
    assert mail.outbox[0].subject == "[Test] Hello Mei"
    assert mail.outbox[0].alternatives
    assert not Delivery.objects.exists()


def test_a_test_send_needs_the_marketer_to_have_an_address(marketer):
    marketer.email = ""
    marketer.save(update_fields=["email"])
    with pytest.raises(ApplicationError) as refused:
        services.campaign_test_send(campaign=draft(), by=marketer)
    assert refused.value.code == "no_email"
    assert not mail.outbox
