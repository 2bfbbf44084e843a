"""/api/v1/marketing/campaigns/: Marketers run campaigns, Analysts read them, nobody else; bad input is a 400."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm.models import CustomerAccess
from crm.permissions import MARKETER
from marketing import services
from marketing.models import Campaign
from tests.marketing.campaign_support import segment
from tests.marketing.offers_support import offer
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
URL = "/api/v1/marketing/campaigns/"


def body(**overrides) -> dict:
    return {
        "name": "Autumn sale",
        "segment": overrides.pop("segment", None) or segment().pk,
        "subject_en": "Hello {{ name }}",
        "text_en": "Dear {{ name }}, fly with us.",
        "subject_zh": "你好 {{ name }}",
        "text_zh": "{{ name }}，欢迎乘坐。",
        "send_at": (timezone.now() + timedelta(days=2)).isoformat(),
        **overrides,
    }


def made(by=None, **overrides) -> Campaign:  # noqa: ANN001
    fields = {
        "name": "Autumn sale", "segment": segment(), "subject_en": "Hello {{ name }}", "text_en": "Dear {{ name }}",
        "subject_zh": "你好 {{ name }}", "text_zh": "{{ name }}，欢迎乘坐。", "send_at": timezone.now() + timedelta(days=2),
        **overrides,
    }  # fmt: skip
    return services.campaign_create(**fields, by=by)


@pytest.fixture
def marketer_api(api_as, marketer):
    return api_as(marketer)


def test_a_marketer_creates_a_draft_and_reads_it_back(marketer_api, marketer):
    # When a marketer posts a campaign
    response = marketer_api.post(URL, body(offer=offer().pk, holdout_percent=10, cost_per_message="0.0050"), format="json")
    # Then it is a draft, theirs, with what they sent
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["created_by"], data["holdout_percent"], data["cost_per_message"]) == (
        "draft",
        marketer.username,
        10,
        "0.0050",
    )
    assert marketer_api.get(f"{URL}{data['id']}/").json()["subject_zh"] == "你好 {{ name }}"


def test_a_birthday_campaign_keeps_a_wall_clock_send_time(marketer_api):
    # When a birthday campaign is posted to go at 09:30, and one with no time
    at_half_past = marketer_api.post(URL, body(kind="birthday", send_time="09:30", send_at=None), format="json").json()
    default = marketer_api.post(URL, body(kind="birthday", send_at=None), format="json").json()
    # Then they go at 09:30 and 09:00 in each customer's zone, with no moment of their own
    assert (at_half_past["send_time"], at_half_past["send_at"], default["send_time"]) == ("09:30", None, "09:00")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"send_at": None}, "send_at"),
        ({"send_at": "2001-01-01T00:00:00Z"}, "send_at"),
        ({"kind": "recurring"}, "repeat"),
        ({"kind": "triggered", "trigger": "miles_expiring"}, "trigger_days"),
        ({"holdout_percent": 51}, "holdout_percent"),
        ({"variant_b_percent": "50"}, "variant_b_percent"),
        ({"cost_currency": "eur"}, "cost_currency"),
        ({"fixed_cost": "-1"}, "fixed_cost"),
        ({"text_en": "{% if %}"}, "text_en"),
        ({"html_zh_b": "{% load static %}"}, "html_zh_b"),
        ({"segment": 2**31 - 1}, "segment"),
        ({"offer": 2**31 - 1}, "offer"),
        ({"segment": 2**40}, "segment"),
        ({"kind": "weekly"}, "kind"),
        ({"status": "scheduled"}, "status"),
        ({"starts_on": "2027-02-30"}, "starts_on"),
        ({"send_time": "25:00"}, "send_time"),
        ({"kind": "birthday", "send_time": "09:00+08:00"}, "send_time"),
        ({"text_en": "a\x00b"}, "text_en"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape_and_nothing_is_saved(marketer_api, change, field):
    response = marketer_api.post(URL, body(**change), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"] and error["message"]
    assert not Campaign.objects.exists()


def test_a_malformed_body_is_a_400(marketer_api):
    response = marketer_api.post(URL, data="{not json", content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


def test_the_list_filters_by_status_and_kind_and_refuses_an_unknown_status(marketer_api, marketer):
    # Given a draft one-off and a scheduled birthday campaign
    draft = made(name="Draft")
    birthday = made(name="Birthday", kind="birthday")
    services.campaign_schedule(campaign=birthday, by=marketer)
    # When the list is asked for scheduled ones, for one-offs, and for a status that does not exist
    scheduled = marketer_api.get(URL, {"status": "scheduled"}).json()
    one_off = marketer_api.get(URL, {"kind": "one_off"}).json()
    unknown = marketer_api.get(URL, {"status": "sent"})
    # Then each has its own, and the unknown status is a 400
    assert [c["id"] for c in scheduled["results"]] == [birthday.pk]
    assert [c["id"] for c in one_off["results"]] == [draft.pk]
    assert unknown.status_code == 400 and "status" in unknown.json()["error"]["fields"]


def test_the_whole_lifecycle_through_the_api(marketer_api, settings, make_staff, api_as):
    # Given a large-audience limit of zero and a marketer's draft
    settings.MARKETING_APPROVAL_AUDIENCE = 0
    reachable()
    created = marketer_api.post(URL, body(), format="json").json()
    detail = f"{URL}{created['id']}/"
    # When it is edited and scheduled, then it awaits approval
    assert marketer_api.patch(detail, {"name": "Winter sale"}, format="json").json()["name"] == "Winter sale"
    assert marketer_api.post(f"{detail}schedule/").json()["status"] == "approval"
    # When its author approves it, then that is refused (four eyes)
    own = marketer_api.post(f"{detail}approve/")
    assert (own.status_code, own.json()["error"]["code"]) == (403, "four_eyes")
    # When a colleague approves it, then it is scheduled with its beat entry
    colleague = api_as(make_staff(MARKETER, username="marketer2"))
    approved = colleague.post(f"{detail}approve/").json()
    assert (approved["status"], approved["approved_by"]) == ("scheduled", "marketer2")
    assert PeriodicTask.objects.get(name=f"marketing-campaign-{created['id']}").enabled
    # When it is edited while scheduled, then that is a 400 naming the status
    refused = marketer_api.patch(detail, {"name": "Spring sale"}, format="json")
    assert refused.status_code == 400 and "status" in refused.json()["error"]["fields"]
    # When paused, resumed and completed, then each step shows, and a deleted non-draft is refused
    assert marketer_api.post(f"{detail}pause/").json()["status"] == "paused"
    assert not PeriodicTask.objects.get(name=f"marketing-campaign-{created['id']}").enabled
    assert marketer_api.post(f"{detail}resume/").json()["status"] == "scheduled"
    assert marketer_api.post(f"{detail}complete/").json()["status"] == "completed"
    assert not PeriodicTask.objects.filter(name=f"marketing-campaign-{created['id']}").exists()
    assert marketer_api.delete(detail).status_code == 400
    assert marketer_api.post(f"{detail}pause/").status_code == 400


def test_a_rejection_needs_a_reason_and_sends_it_back_to_draft(marketer_api, settings, make_staff, api_as, marketer):
    settings.MARKETING_APPROVAL_AUDIENCE = 0
    reachable()
    c = made(by=marketer)
    services.campaign_schedule(campaign=c, by=marketer)
    colleague = api_as(make_staff(MARKETER, username="marketer2"))
    assert colleague.post(f"{URL}{c.pk}/reject/", {}, format="json").status_code == 400
    response = colleague.post(f"{URL}{c.pk}/reject/", {"reason": "Not this week"}, format="json")
    assert response.json()["status"] == "draft"


def test_a_draft_is_deleted(marketer_api):
    c = made()
    assert marketer_api.delete(f"{URL}{c.pk}/").status_code == 204
    assert not Campaign.objects.exists()


def test_a_template_error_blocks_scheduling_with_the_error_shown(marketer_api):
    c = made(text_zh="{{ name|default:no_such_value }}")
    response = marketer_api.post(f"{URL}{c.pk}/schedule/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "render_error"
    assert "no_such_value" in response.json()["error"]["fields"]["text_zh"][0]
    assert Campaign.objects.get(pk=c.pk).status == "draft"


def test_the_preview_renders_chinese_for_a_customer_and_records_the_look(marketer_api, marketer):
    customer = reachable(given_name="Mei")
    c = made()
    response = marketer_api.post(
        f"{URL}{c.pk}/preview/", {"customer_number": customer.customer_number, "language": "zh-hans"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["subject"] == "你好 Mei"
    assert "<p>" in response.json()["html"]
    assert CustomerAccess.objects.filter(customer=customer, user=marketer, surface="api").exists()


def test_a_preview_for_an_unknown_customer_or_variant_is_a_400(marketer_api):
    c = made()
    unknown = marketer_api.post(f"{URL}{c.pk}/preview/", {"customer_number": "NOPE1234"}, format="json")
    variant = marketer_api.post(f"{URL}{c.pk}/preview/", {"variant": "c"}, format="json")
    assert unknown.status_code == 400 and "customer_number" in unknown.json()["error"]["fields"]
    assert variant.status_code == 400 and "variant" in variant.json()["error"]["fields"]


def test_the_test_send_goes_to_the_marketer_only(marketer_api, marketer):
    reachable(given_name="Mei")
    c = made()
    response = marketer_api.post(f"{URL}{c.pk}/test-send/", {"variant": "a"}, format="json")
    assert response.status_code == 204
    assert [m.to for m in mail.outbox] == [[marketer.email]]
    assert mail.outbox[0].subject.startswith("[Test] Hello")


def test_an_analyst_reads_but_cannot_change(api_as, analyst):
    c = made()
    client = api_as(analyst)
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}{c.pk}/").status_code == 200
    assert client.post(f"{URL}{c.pk}/preview/", {}, format="json").status_code == 200
    assert client.post(URL, body(), format="json").status_code == 403
    assert client.patch(f"{URL}{c.pk}/", {"name": "x"}, format="json").status_code == 403
    for action in ("schedule", "approve", "pause", "test-send"):
        assert client.post(f"{URL}{c.pk}/{action}/").status_code == 403, action
    assert client.delete(f"{URL}{c.pk}/").status_code == 403
    assert Campaign.objects.get(pk=c.pk).name == "Autumn sale"


def test_agents_and_passengers_cannot_see_campaigns(api_as, agent, make_passenger):
    c = made()
    passenger, _customer = make_passenger()
    for who in (api_as(agent), api_as(passenger)):
        assert who.get(URL).status_code == 403
        assert who.post(URL, body(), format="json").status_code == 403
        assert who.get(f"{URL}{c.pk}/").status_code in (403, 404)
        assert who.post(f"{URL}{c.pk}/schedule/").status_code in (403, 404)
    assert api_as(agent).get(f"{URL}{c.pk}/").status_code == 403
    assert Campaign.objects.get(pk=c.pk).status == "draft"


def test_an_unknown_or_malformed_id_is_a_404(marketer_api):
    assert marketer_api.get(f"{URL}999999/").status_code == 404
    assert marketer_api.get(f"{URL}99999999999999999999999/").status_code == 404
    assert marketer_api.post(f"{URL}abc/schedule/").status_code == 404


def test_the_list_costs_the_same_queries_for_more_campaigns(marketer_api, marketer, django_assert_max_num_queries):
    # Given two campaigns (one approved, with an offer) and the list's cost
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with_offer = offer()
    for n in range(2):
        c = made(by=marketer, name=f"C{n}", offer=with_offer)
        Campaign.objects.filter(pk=c.pk).update(approved_by=marketer)
    with CaptureQueriesContext(connection) as small:
        assert marketer_api.get(URL).status_code == 200
    # When there are twenty more, each on its own segment and offer
    for n in range(20):
        c = made(by=marketer, name=f"More {n}", offer=offer(name=f"Offer {n}"), segment=segment())
        Campaign.objects.filter(pk=c.pk).update(approved_by=marketer)
    # Then the list takes no more queries
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = marketer_api.get(URL)
    assert response.json()["count"] == 22
