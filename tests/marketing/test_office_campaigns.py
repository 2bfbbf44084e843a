"""The campaign pages: marketers create, schedule, approve, pause and preview campaigns and see them on a calendar;
a marketer lands on campaigns; agents and passengers are refused."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm.models import CustomerAccess
from crm.permissions import AGENT, MARKETER
from marketing.models import Campaign, CampaignRun, Delivery, DeliveryStatus, Segment
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory
from tests.marketing.campaign_support import EVERYONE
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


def _segment(name: str = "") -> Segment:
    return Segment.objects.create(name=name or f"Everyone {next(_numbers)}", rules=EVERYONE, last_count=3)


def _campaign(**fields) -> Campaign:
    """A stored campaign as the lifecycle services leave it (status and schedule as given)."""
    values = {
        "name": f"Campaign {next(_numbers)}",
        "segment": fields.pop("segment", None) or _segment(),
        "subject_en": "Hello {{ name }}",
        "text_en": "Dear {{ name }}, your code is {{ offer_code }}.",
        "subject_zh": "你好 {{ name }}",
        "text_zh": "{{ name }}，您好。",
        "kind": "one_off",
        "send_at": timezone.now() + timedelta(days=3),
        **fields,
    }
    return Campaign.objects.create(**values)


def _form(**overrides) -> dict:
    data = {
        "name": "Spring sale", "segment": "", "channel": "email", "kind": "one_off",
        "send_at": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "send_time": "", "repeat": "", "starts_on": "", "ends_on": "", "trigger": "", "trigger_days": "",
        "subject_en": "Spring for {{ name }}", "text_en": "Dear {{ name }}, spring is here.", "html_en": "",
        "subject_zh": "春天来了 {{ name }}", "text_zh": "{{ name }}，春天来了。", "html_zh": "",
        "subject_en_b": "", "text_en_b": "", "html_en_b": "", "subject_zh_b": "", "text_zh_b": "", "html_zh_b": "",
        "variant_b_percent": "0", "holdout_percent": "0", "offer": "",
        "cost_per_message": "0.01", "fixed_cost": "100", "cost_currency": "EUR",
    }  # fmt: skip
    data.update(overrides)
    return data


def _url(name: str, *args) -> str:
    return reverse(f"marketing_office:{name}", args=args)


def _press(client: Client, campaign: Campaign, action: str, **data):  # noqa: ANN202
    return client.post(_url("campaign_action", campaign.pk, action), data)


# --- Create and edit ---


def test_marketer_creates_a_one_off_campaign_as_a_draft(marketer_client, marketer):
    # given a segment
    segment = _segment("Londoners")
    assert marketer_client.get(_url("campaign_new")).status_code == 200
    # when the marketer fills in the form for a one-off campaign
    response = marketer_client.post(_url("campaign_new"), _form(segment=segment.pk))
    # then a draft is saved with its content and schedule, and its page opens
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == _url("campaign_detail", campaign.pk)
    assert campaign.status == "draft" and campaign.segment == segment and campaign.created_by == marketer
    assert campaign.subject_zh == "春天来了 {{ name }}" and campaign.send_at > timezone.now()
    assert campaign.send_time is None and campaign.repeat == ""
    page = marketer_client.get(response["Location"]).content.decode()
    assert "Spring sale" in page and "Londoners" in page and "Once, on" in page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "one_off", "send_at": ""}, "send_at"),
        ({"kind": "one_off", "send_at": "2020-01-01T09:00"}, "send_at"),
        ({"kind": "one_off", "send_at": "tomorrow"}, "send_at"),
        ({"kind": "birthday", "send_at": "", "send_time": ""}, "send_time"),
        ({"kind": "recurring", "send_at": "", "send_time": "09:00", "repeat": ""}, "repeat"),
        ({"kind": "recurring", "send_at": "", "send_time": "", "repeat": "daily"}, "send_time"),
        ({"kind": "recurring", "send_time": "09:00", "repeat": "daily", "starts_on": "2026-12-10", "ends_on": "2026-12-01"}, "ends_on"),
        ({"kind": "triggered", "send_at": "", "trigger": ""}, "trigger"),
        ({"kind": "triggered", "trigger": "inactive", "trigger_days": "-3"}, "trigger_days"),
        ({"holdout_percent": "80"}, "holdout_percent"),
        ({"subject_en": ""}, "subject_en"),
        ({"text_zh": "{% if %}"}, "text_zh"),
        ({"html_en": "{% load static %}<p>hi</p>"}, "html_en"),
    ],
)  # fmt: skip
def test_an_invalid_campaign_shows_the_error_beside_its_field_and_creates_nothing(marketer_client, overrides, field):
    response = marketer_client.post(_url("campaign_new"), _form(segment=_segment().pk, **overrides))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not Campaign.objects.exists()


def test_a_birthday_campaign_runs_every_day_at_its_local_time(marketer_client):
    response = marketer_client.post(
        _url("campaign_new"), _form(segment=_segment().pk, kind="birthday", send_time="09:00", repeat="weekly")
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert campaign.kind == "birthday" and campaign.send_time == time(9)
    assert campaign.send_at is None and campaign.repeat == ""  # fields of other kinds that were filled in are not kept
    page = marketer_client.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert "Every day at 09:00 in each customer&#x27;s time zone" in page


def test_a_triggered_campaign_keeps_its_trigger_and_days(marketer_client):
    response = marketer_client.post(
        _url("campaign_new"),
        _form(segment=_segment().pk, kind="triggered", trigger="inactive", trigger_days="180", starts_on="2026-12-01"),
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert (campaign.kind, campaign.trigger, campaign.trigger_days, campaign.send_at) == ("triggered", "inactive", 180, None)
    page = marketer_client.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert "On the trigger “No flight for a while (win-back)”, 180 days, from" in page


def test_a_paused_campaign_is_edited_with_variant_b(marketer_client):
    campaign = _campaign(status="paused")
    edit = marketer_client.get(_url("campaign_edit", campaign.pk)).content.decode()
    assert '<details class="variant-b">' in edit  # folded while B is unused
    response = marketer_client.post(
        _url("campaign_edit", campaign.pk),
        _form(segment=campaign.segment_id, variant_b_percent="30", subject_en_b="Last chance, {{ name }}"),
    )
    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.status == "paused"
    assert campaign.variant_b_percent == 30 and campaign.subject_en_b == "Last chance, {{ name }}"
    assert '<details class="variant-b" open>' in marketer_client.get(_url("campaign_edit", campaign.pk)).content.decode()


def test_a_draft_is_edited_and_a_scheduled_campaign_is_not(marketer_client):
    # given a draft and a scheduled campaign
    draft, scheduled = _campaign(status="draft"), _campaign(status="scheduled", name="Fixed")
    # when both are edited
    page = marketer_client.get(_url("campaign_edit", draft.pk))
    assert page.status_code == 200 and 'value="Hello {{ name }}"' in page.content.decode()
    saved = marketer_client.post(_url("campaign_edit", draft.pk), _form(name="Renamed", segment=draft.segment_id))
    refused_page = marketer_client.get(_url("campaign_edit", scheduled.pk))
    refused = marketer_client.post(_url("campaign_edit", scheduled.pk), _form(name="Changed", segment=scheduled.segment_id))
    # then the draft changed, the scheduled one did not, and the marketer is told to pause it first
    assert saved.status_code == 302
    draft.refresh_from_db()
    scheduled.refresh_from_db()
    assert draft.name == "Renamed" and scheduled.name == "Fixed"
    assert refused_page.status_code == 302 and refused.status_code == 302
    followed = marketer_client.get(refused["Location"]).content.decode()
    assert "Pause it first" in followed
    assert f'href="{_url("campaign_edit", scheduled.pk)}"' not in followed


# --- Lifecycle buttons ---


def test_schedule_pause_resume_and_complete_through_the_buttons(marketer_client, settings):
    # given a draft one-off campaign for a segment below the approval limit
    settings.MARKETING_APPROVAL_AUDIENCE = 1000
    campaign = _campaign(status="draft")
    page = marketer_client.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert f'action="{_url("campaign_action", campaign.pk, "schedule")}"' in page
    assert "csrfmiddlewaretoken" in page
    # when it is scheduled
    response = _press(marketer_client, campaign, "schedule")
    # then it is scheduled, with its beat entry
    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.status == "scheduled"
    task = PeriodicTask.objects.get(name=f"marketing-campaign-{campaign.pk}")
    assert task.enabled
    page = marketer_client.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert "Campaign scheduled." in page
    assert f'action="{_url("campaign_action", campaign.pk, "pause")}"' in page
    assert f'action="{_url("campaign_action", campaign.pk, "schedule")}"' not in page
    # and paused, resumed and completed
    _press(marketer_client, campaign, "pause")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    _press(marketer_client, campaign, "resume")
    campaign.refresh_from_db()
    assert campaign.status in ("scheduled", "running")
    _press(marketer_client, campaign, "complete")
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    page = marketer_client.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert not any(f'action="{_url("campaign_action", campaign.pk, a)}"' in page for a in ("pause", "resume", "complete"))


def test_a_button_the_status_does_not_allow_changes_nothing(marketer_client):
    campaign = _campaign(status="draft")
    response = _press(marketer_client, campaign, "resume")
    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.status == "draft"
    assert "message-error" in marketer_client.get(response["Location"]).content.decode()
    # an action there is no button for is no page at all (and the results page is not an action)
    assert marketer_client.post(_url("campaign_detail", campaign.pk) + "launch/").status_code == 404
    assert marketer_client.get(_url("campaign_results", campaign.pk)).status_code == 200
    assert marketer_client.get(_url("campaign_action", campaign.pk, "schedule")).status_code == 405


def test_the_creator_cannot_approve_their_own_campaign_and_a_colleague_can(make_staff, marketer, marketer_client, settings):
    # given a campaign of this marketer whose audience is above the approval limit
    settings.MARKETING_APPROVAL_AUDIENCE = 1
    reachable(), reachable()
    campaign = _campaign(status="draft", created_by=marketer)
    # when they schedule it, it waits for approval
    response = _press(marketer_client, campaign, "schedule")
    campaign.refresh_from_db()
    assert campaign.status == "approval"
    assert "waits for a colleague" in marketer_client.get(response["Location"]).content.decode()
    assert not PeriodicTask.objects.filter(name=f"marketing-campaign-{campaign.pk}").exists()
    # then its creator sees no approve button, and approving it by hand is refused
    page = marketer_client.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert f'action="{_url("campaign_action", campaign.pk, "approve")}"' not in page
    assert "a colleague who may approve campaigns" in page
    _press(marketer_client, campaign, "approve")
    campaign.refresh_from_db()
    assert campaign.status == "approval" and campaign.approved_by is None
    # when a colleague approves it
    colleague = Client()
    colleague.force_login(make_staff(MARKETER, username="marketer2"))
    page = colleague.get(_url("campaign_detail", campaign.pk)).content.decode()
    assert f'action="{_url("campaign_action", campaign.pk, "approve")}"' in page
    _press(colleague, campaign, "approve")
    # then it is scheduled, the approver recorded, and its beat entry written
    campaign.refresh_from_db()
    assert campaign.status == "scheduled" and campaign.approved_by.username == "marketer2"
    assert PeriodicTask.objects.get(name=f"marketing-campaign-{campaign.pk}").enabled


def test_a_colleague_rejects_with_a_reason(make_staff, marketer):
    campaign = _campaign(status="approval", created_by=marketer)
    colleague = Client()
    colleague.force_login(make_staff(MARKETER, username="marketer2"))
    _press(colleague, campaign, "reject")  # no reason: nothing happens
    campaign.refresh_from_db()
    assert campaign.status == "approval"
    _press(colleague, campaign, "reject", reason="Too broad for one week")
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_an_analyst_reads_campaigns_but_presses_no_button(analyst):
    client = Client()
    client.force_login(analyst)
    campaign = _campaign(status="draft")
    page = client.get(_url("campaign_detail", campaign.pk))
    assert page.status_code == 200 and "campaign_action" not in page.content.decode()
    assert f'action="{_url("campaign_action", campaign.pk, "schedule")}"' not in page.content.decode()
    assert _press(client, campaign, "schedule").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft"


# --- Preview and test send ---


def test_preview_in_chinese_shows_the_chinese_subject_for_a_customer(marketer_client, marketer):
    campaign = _campaign(subject_zh="{{ name }}，生日快乐", html_zh="<p style='color:red'>{{ name }}，您好</p>")
    customer = CustomerFactory(given_name="Li")
    response = marketer_client.get(
        _url("campaign_preview", campaign.pk),
        {"customer": customer.customer_number.lower(), "language": "zh-hans", "variant": "a"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Li，生日快乐" in html
    # the HTML is shown in a sandboxed frame, escaped into its attribute
    assert '<iframe class="preview-frame" sandbox srcdoc="&lt;p style=&#x27;color:red&#x27;&gt;Li，您好&lt;/p&gt;"' in html
    assert "'unsafe-inline'" in response["Content-Security-Policy"].split("style-src", 1)[1].split(";")[0]
    # and the look at the customer's data is on record
    assert CustomerAccess.objects.filter(customer=customer, user=marketer).exists()


def test_preview_shows_a_broken_template_as_an_error(marketer_client):
    campaign = _campaign()
    Campaign.objects.filter(pk=campaign.pk).update(subject_en="Hello {% if %}")
    response = marketer_client.get(_url("campaign_preview", campaign.pk))
    assert response.status_code == 200
    assert "This template has an error" in response.content.decode()
    assert "srcdoc" not in response.content.decode()


def test_preview_for_an_unknown_customer_says_so(marketer_client):
    campaign = _campaign()
    response = marketer_client.get(
        _url("campaign_preview", campaign.pk), {"customer": "NOPE0000", "language": "en", "variant": "a"}
    )
    assert response.status_code == 200 and "No customer with that number." in response.content.decode()


def test_a_test_send_goes_to_the_marketer_and_says_so(marketer_client, marketer):
    # given a campaign and a customer who would receive it
    campaign = _campaign()
    customer = reachable(given_name="Wei")
    # when the marketer sends a test in English
    response = marketer_client.post(
        _url("campaign_test_send", campaign.pk), {"customer": customer.customer_number, "language": "en", "variant": "a"}
    )
    # then one e-mail goes to the marketer's own address, none to the customer, and the page says where it went
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [[marketer.email]]
    assert "Wei" in mail.outbox[0].subject
    page = marketer_client.get(response["Location"]).content.decode()
    assert f"Test message sent to {marketer.email}." in page


# --- Calendar ---


def test_the_calendar_shows_a_birthday_campaign_every_day_and_a_one_off_on_its_day(marketer_client):
    # given a daily birthday campaign and a one-off on 15 December 2026 (noon, in the office's time zone)
    birthday = _campaign(
        name="Birthday wishes", kind="birthday", send_at=None, send_time=time(9), repeat="daily", status="scheduled"
    )
    moment = timezone.make_aware(timezone.datetime(2026, 12, 15, 12, 0))
    one_off = _campaign(name="Winter sale", send_at=moment, status="scheduled")
    Campaign.objects.filter(pk=birthday.pk).update(created_at=moment - timedelta(days=60))
    # when the marketer opens December 2026
    response = marketer_client.get(_url("calendar"), {"month": "2026-12"})
    html = response.content.decode()
    # then the birthday campaign is on each of its 31 days and the one-off on the 15th only
    assert response.status_code == 200
    days = {f"2026-12-{d:02d}": html.split(f'data-day="2026-12-{d:02d}"', 1)[1].split("</td>", 1)[0] for d in range(1, 32)}
    assert all(_url("campaign_detail", birthday.pk) in cell for cell in days.values())
    assert [day for day, cell in days.items() if _url("campaign_detail", one_off.pk) in cell] == ["2026-12-15"]
    # the grid starts on a Monday, with the previous and next month linked
    assert html.index('data-day="2026-11-30"') < html.index('data-day="2026-12-01"')
    assert '?month=2026-11"' in html and '?month=2027-01"' in html


def test_the_calendar_repeats_weekly_and_monthly_campaigns_within_their_days(marketer_client):
    weekly = _campaign(kind="recurring", send_at=None, send_time=time(8), repeat="weekly", starts_on=date(2026, 12, 2),
                       ends_on=date(2026, 12, 20))  # fmt: skip
    monthly = _campaign(kind="recurring", send_at=None, send_time=time(8), repeat="monthly", starts_on=date(2026, 10, 31))
    html = marketer_client.get(_url("calendar"), {"month": "2026-12"}).content.decode()

    def days_of(campaign: Campaign) -> list[int]:
        cells = html.split('data-day="')[1:]
        return [
            int(c[8:10]) for c in cells if c.startswith("2026-12") and _url("campaign_detail", campaign.pk) in c.split("</td>")[0]
        ]

    assert days_of(weekly) == [2, 9, 16]  # Wednesdays from the 2nd, up to the 20th
    assert days_of(monthly) == [31]
    november = marketer_client.get(_url("calendar"), {"month": "2026-11"}).content.decode()
    assert 'data-day="2026-11-30"' in november
    assert _url("campaign_detail", monthly.pk) in november.split('data-day="2026-11-30"', 1)[1].split("</td>", 1)[0]


@pytest.mark.parametrize("month", ["2026-13", "december", "2026", "0-1", "99999-01"])
def test_a_bad_month_is_an_error_message_not_a_crash(marketer_client, month):
    response = marketer_client.get(_url("calendar"), {"month": month})
    assert response.status_code == 400
    assert "Choose a month as YYYY-MM" in response.content.decode()


# --- Landing, navigation and refusals ---


def test_a_marketer_who_logs_in_lands_on_the_campaigns(roles, make_staff):
    make_staff(MARKETER, username="mia")
    client = Client()
    response = client.post(reverse("office:login"), {"username": "mia", "password": DEMO_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == _url("campaign_list")
    assert response.status_code == 200
    assert client.get(reverse("office:home")).headers["Location"] == _url("campaign_list")


def test_an_agent_and_a_marketer_who_is_also_an_agent_stay_on_the_customer_desk(make_staff):
    agent = make_staff(AGENT, username="desk")
    both = make_staff(AGENT, username="both")
    both.groups.add(*type(both.groups.first()).objects.filter(name=MARKETER))
    for user in (agent, both):
        client = Client()
        client.force_login(user)
        assert client.get(reverse("office:home")).status_code == 200


def test_the_menu_marks_campaigns_and_calendar_as_current(marketer_client):
    html = marketer_client.get(_url("campaign_list")).content.decode()
    assert f'<a href="{_url("campaign_list")}" aria-current="page">Campaigns</a>' in html
    html = marketer_client.get(_url("calendar")).content.decode()
    assert f'<a href="{_url("calendar")}" aria-current="page">Calendar</a>' in html


def _pages(campaign: Campaign) -> list[str]:
    return [
        _url("campaign_list"), _url("campaign_new"), _url("campaign_detail", campaign.pk), _url("campaign_edit", campaign.pk),
        _url("campaign_preview", campaign.pk), _url("calendar"),
    ]  # fmt: skip


def test_agents_are_refused_and_passengers_sent_to_log_in(agent_client, passenger_client, client):
    campaign = _campaign(status="draft")
    for url in _pages(campaign):
        assert agent_client.get(url).status_code == 403, url
        assert passenger_client.get(url).status_code == 403, url
        assert "/office/login/" in client.get(url)["Location"]
    for action in ("schedule", "approve", "pause"):
        assert agent_client.post(_url("campaign_action", campaign.pk, action)).status_code == 403
    assert agent_client.post(_url("campaign_new"), _form(segment=campaign.segment_id)).status_code == 403
    assert agent_client.post(_url("campaign_test_send", campaign.pk), {"language": "en", "variant": "a"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft" and Campaign.objects.count() == 1 and not mail.outbox


def test_an_unknown_campaign_is_not_found(marketer_client):
    for name in ("campaign_detail", "campaign_edit", "campaign_preview"):
        assert marketer_client.get(_url(name, 999999)).status_code == 404


def test_the_list_filters_and_says_when_nothing_matches(marketer_client):
    empty = marketer_client.get(_url("campaign_list")).content.decode()
    assert "No campaigns yet" in empty and f'href="{_url("campaign_new")}"' in empty
    _campaign(name="Birthday wishes", kind="birthday", send_at=None, send_time=time(9), repeat="daily", status="scheduled")
    _campaign(name="Winter sale", status="draft")
    listing = marketer_client.get(_url("campaign_list"), {"status": "scheduled"}).content.decode()
    assert "Birthday wishes" in listing and "Winter sale" not in listing
    listing = marketer_client.get(_url("campaign_list"), {"kind": "one_off"}).content.decode()
    assert "Winter sale" in listing and "Birthday wishes" not in listing
    nothing = marketer_client.get(_url("campaign_list"), {"status": "completed"}).content.decode()
    assert "No campaign matches these filters." in nothing
    assert marketer_client.get(_url("campaign_list"), {"status": "bogus", "page": "x"}).status_code == 200


# --- Queries do not grow with the data ---


def _world(count: int) -> Campaign:
    """``count`` campaigns of every kind; the last has ``count`` runs with deliveries of every status."""
    customers = [CustomerFactory() for _ in range(3)]
    campaign = None
    for n in range(count):
        _campaign(kind="birthday", send_at=None, send_time=time(9), repeat="daily", status="scheduled")
        _campaign(kind="triggered", send_at=None, trigger="inactive", trigger_days=30, status="scheduled")
        campaign = _campaign(status="running", send_at=timezone.now() + timedelta(days=n % 20))
    for n in range(count):
        run = CampaignRun.objects.create(campaign=campaign, occurrence=timezone.localdate() - timedelta(days=n))
        for customer, status in zip(
            customers, (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.HOLDOUT), strict=True
        ):
            Delivery.objects.create(run=run, customer=customer, status=status)
    return campaign


@pytest.mark.parametrize("page", ["list", "detail", "calendar"])
def test_queries_do_not_grow_with_the_campaigns(marketer_client, page):
    def measure() -> int:
        campaign = Campaign.objects.filter(status="running").order_by("-pk").first()
        url = {"list": _url("campaign_list"), "detail": _url("campaign_detail", campaign.pk), "calendar": _url("calendar")}[page]
        with CaptureQueriesContext(connection) as captured:
            assert marketer_client.get(url).status_code == 200
        return len(captured.captured_queries)

    _world(1)
    marketer_client.get(_url("campaign_list"))  # the session and permissions are loaded once
    small = measure()
    _world(10)
    assert measure() == small
