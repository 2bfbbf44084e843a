"""The fraud review queue through the API: ``GET /api/v1/loyalty/fraud-flags/`` and
``POST /api/v1/loyalty/fraud-flags/{id}/review/``, with the office queue's permissions and its service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import TimelineEntry
from crm.permissions import AGENT, ANALYST
from loyalty import services
from loyalty.models import FraudFlag, FraudSignal, ReviewStatus
from tests.loyalty.factories import member

pytestmark = pytest.mark.usefixtures("generous_throttles")

LIST = "/api/v1/loyalty/fraud-flags/"


def review_url(flag: FraudFlag | int) -> str:
    return f"{LIST}{getattr(flag, 'pk', flag)}/review/"


def raise_flags(n: int, *, start: int = 0) -> list[FraudFlag]:
    """``n`` open partner-velocity flags, each raised an hour after the one before."""
    made = []
    base = timezone.now() - timedelta(days=2)
    for i in range(start, start + n):
        m = member()
        made.append(
            FraudFlag.objects.create(
                member=m, signal=FraudSignal.PARTNER_VELOCITY, key=f"test:{m.pk}:{i}", created_at=base + timedelta(hours=i),
                details={"partner": "harbour", "partner_name": "Harbour Hotels", "miles_24h": 25000, "alert": 20000},
            )
        )  # fmt: skip
    return made


@pytest.fixture
def reviewer_without_change(make_staff):
    """Staff who may look at the queue (``view_fraudflag``) but not review (no ``change_fraudflag``)."""
    user = make_staff(AGENT, username="fraud-looker")
    user.user_permissions.add(Permission.objects.get(codename="view_fraudflag", content_type__app_label="loyalty"))
    return user


# --- The list -----------------------------------------------------------------------------------------------------


def test_a_supervisor_reads_the_open_queue_oldest_first_as_at_the_office(supervisor, api_as):
    # Given three open flags and one already cleared
    older, middle, newer = raise_flags(3)
    services.fraud_flag_review(flag=middle, decision=ReviewStatus.CLEARED, note="Genuine.", by=supervisor)

    # When a supervisor asks for the open ones
    response = api_as(supervisor).get(LIST, {"status": "open"})

    # Then the queue, oldest first, each flag with its member, signal, details and (no) reviewer
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 2 and [f["id"] for f in body["results"]] == [older.pk, newer.pk]
    first = body["results"][0]
    assert first == {
        "id": older.pk, "member_number": older.member.number, "customer_number": older.member.customer.customer_number,
        "signal": "partner_velocity", "details": older.details, "created_at": first["created_at"], "status": "open",
        "reviewed_by": None, "reviewed_at": None, "review_note": "",
    }  # fmt: skip


def test_without_a_status_every_flag_comes_newest_first_and_reviewed_ones_name_their_reviewer(supervisor, api_as):
    older, middle, newer = raise_flags(3)
    services.fraud_flag_review(flag=middle, decision=ReviewStatus.CONFIRMED, note="Card used elsewhere.", by=supervisor)
    client = api_as(supervisor)

    everything = client.get(LIST).json()
    confirmed = client.get(LIST, {"status": "confirmed"}).json()
    cleared = client.get(LIST, {"status": "cleared"}).json()

    assert [f["id"] for f in everything["results"]] == [newer.pk, middle.pk, older.pk]
    (flag,) = confirmed["results"]
    assert (flag["id"], flag["status"], flag["reviewed_by"], flag["review_note"]) == (
        middle.pk, "confirmed", supervisor.username, "Card used elsewhere."
    )  # fmt: skip
    assert flag["reviewed_at"] is not None
    assert cleared["count"] == 0


def test_the_list_is_paginated(supervisor, api_as):
    raise_flags(3)
    client = api_as(supervisor)
    first = client.get(LIST, {"status": "open", "page_size": 2}).json()
    second = client.get(LIST, {"status": "open", "page_size": 2, "page": 2}).json()
    assert (first["count"], len(first["results"]), len(second["results"])) == (3, 2, 1)
    assert client.get(LIST, {"page": 9}).status_code == 404


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"status": ""}, {"status": "OPEN"}, {"page": "x"}, {"page_size": "%00"}])
def test_a_status_out_of_the_list_or_a_bad_page_is_a_400_naming_it(supervisor, api_as, query):
    raise_flags(1)
    response = api_as(supervisor).get(LIST, query)
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == list(query)


def test_the_list_costs_the_same_queries_for_two_flags_or_twenty(supervisor, api_as, django_assert_max_num_queries):
    client = api_as(supervisor)
    for flag in raise_flags(2):
        services.fraud_flag_review(flag=flag, decision=ReviewStatus.CLEARED, note="Fine.", by=supervisor)
    with django_assert_max_num_queries(8) as few:
        client.get(LIST)
    raise_flags(18, start=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST, {"page_size": 50})
    assert response.json()["count"] == 20


# --- Reviewing ----------------------------------------------------------------------------------------------------


def test_a_supervisor_clears_a_flag_and_the_timeline_records_it_as_the_office_does(supervisor, supervisor_client, api_as):
    # Given two open flags: one reviewed at the office, one through the API
    by_office, by_api = raise_flags(2)
    supervisor_client.post(
        reverse("loyalty_office:fraud_review", args=[by_office.pk]), {"decision": "cleared", "note": "Called the member."}
    )

    # When the supervisor clears the other through the API
    response = api_as(supervisor).post(review_url(by_api), {"decision": "cleared", "note": "Called the member."}, format="json")

    # Then 200 with the reviewed flag, and it is stored as the office stores it
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["status"], body["reviewed_by"], body["review_note"]) == (
        by_api.pk, "cleared", supervisor.username, "Called the member."
    )  # fmt: skip
    by_api.refresh_from_db()
    assert (by_api.status, by_api.reviewed_by, by_api.review_note) == (ReviewStatus.CLEARED, supervisor, "Called the member.")
    # And the customer's timeline has the same entry the office review made, by the same actor
    office_entry = TimelineEntry.objects.get(customer=by_office.member.customer, kind="loyalty.fraud_reviewed")
    api_entry = TimelineEntry.objects.get(customer=by_api.member.customer, kind="loyalty.fraud_reviewed")
    assert api_entry.actor == office_entry.actor == supervisor
    assert api_entry.summary == office_entry.summary
    assert {k: v for k, v in api_entry.data.items() if k not in ("flag_id", "member")} == {
        k: v for k, v in office_entry.data.items() if k not in ("flag_id", "member")
    }
    assert (api_entry.data["flag_id"], api_entry.data["member"]) == (by_api.pk, by_api.member.number)
    # And it has left the open queue
    assert api_as(supervisor).get(LIST, {"status": "open"}).json()["count"] == 0


def test_confirming_fraud(supervisor, api_as):
    (flag,) = raise_flags(1)
    response = api_as(supervisor).post(review_url(flag), {"decision": "confirmed", "note": "Stolen login."}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "confirmed"
    entry = TimelineEntry.objects.get(customer=flag.member.customer, kind="loyalty.fraud_reviewed")
    assert entry.data["decision"] == "confirmed"


def test_a_flag_is_reviewed_once_the_second_review_is_a_409(supervisor, api_as):
    (flag,) = raise_flags(1)
    client = api_as(supervisor)
    first = client.post(review_url(flag), {"decision": "confirmed", "note": "Card used elsewhere too."}, format="json")

    again = client.post(review_url(flag), {"decision": "cleared", "note": "Changed my mind."}, format="json")

    assert first.status_code == 200
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_reviewed"
    flag.refresh_from_db()
    assert (flag.status, flag.review_note) == (ReviewStatus.CONFIRMED, "Card used elsewhere too.")
    assert TimelineEntry.objects.filter(customer=flag.member.customer, kind="loyalty.fraud_reviewed").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "open", "note": "x"}, "decision"),
        ({"decision": "approved", "note": "x"}, "decision"),
        ({"decision": "", "note": "x"}, "decision"),
        ({"note": "x"}, "decision"),
        ({"decision": "cleared"}, "note"),
        ({"decision": "cleared", "note": "   "}, "note"),
        ({"decision": "cleared", "note": "x" * 301}, "note"),
        ({"decision": "cleared", "note": "a\x00b"}, "note"),
        ({"decision": "cleared", "note": 5}, "note"),
        ({"decision": "cleared", "note": "x", "status": "cleared"}, "status"),
    ],
)
def test_a_decision_out_of_the_choices_or_a_missing_or_too_long_note_is_a_400_and_changes_nothing(
    supervisor, api_as, body, field
):
    (flag,) = raise_flags(1)
    response = api_as(supervisor).post(review_url(flag), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN and flag.reviewed_by is None
    assert not TimelineEntry.objects.filter(kind="loyalty.fraud_reviewed").exists()


def test_a_note_of_three_hundred_characters_over_lines_is_taken_whole(supervisor, api_as):
    (flag,) = raise_flags(1)
    note = "Called the member.\n" + "x" * 281
    response = api_as(supervisor).post(review_url(flag), {"decision": "cleared", "note": note}, format="json")
    assert response.status_code == 200, response.content
    flag.refresh_from_db()
    assert flag.review_note == note and len(note) == 300


def test_an_unknown_flag_is_a_404_in_the_error_shape(supervisor, api_as):
    client = api_as(supervisor)
    for flag_id in (999999999, 10**30):
        response = client.post(review_url(flag_id), {"decision": "cleared", "note": "x"}, format="json")
        assert response.status_code == 404, flag_id
        assert set(response.json()["error"]) == {"code", "message", "fields"}


# --- Who may ------------------------------------------------------------------------------------------------------


def test_passengers_get_403_on_the_list_and_404_on_a_flag(passenger, api_as):
    (flag,) = raise_flags(1)
    client = api_as(passenger[0])
    assert client.get(LIST).status_code == 403
    assert client.post(review_url(flag), {"decision": "cleared", "note": "x"}, format="json").status_code == 404
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN


def test_staff_without_the_fraud_permissions_get_403(agent, marketer, make_staff, api_as):
    # Agents, marketers and analysts have no view_fraudflag: the office queue is closed to them too
    (flag,) = raise_flags(1)
    analyst = make_staff(ANALYST, username="analyst-fraud")
    for login in (agent, marketer, analyst):
        client = api_as(login)
        assert client.get(LIST).status_code == 403, login
        response = client.post(review_url(flag), {"decision": "cleared", "note": "x"}, format="json")
        assert response.status_code == 403, login
        assert response.json()["error"]["code"] == "permission_denied"
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN


def test_seeing_the_queue_is_not_enough_to_review(reviewer_without_change, api_as):
    (flag,) = raise_flags(1)
    client = api_as(reviewer_without_change)
    assert client.get(LIST).status_code == 200
    assert client.post(review_url(flag), {"decision": "cleared", "note": "x"}, format="json").status_code == 403
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN


def test_anonymous_and_a_partner_key_get_401(db, api_client):
    (flag,) = raise_flags(1)
    partner = services.partner_create(code="harbour", name="Harbour Hotels", kind="hotel")
    with_key = APIClient()
    with_key.credentials(HTTP_AUTHORIZATION=f"Partner {services.partner_key_issue(partner=partner)}")
    for client in (api_client, with_key):
        assert client.get(LIST).status_code == 401
        assert client.post(review_url(flag), {"decision": "cleared", "note": "x"}, format="json").status_code == 401
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN


def test_a_method_the_endpoints_lack_is_405(supervisor, api_as):
    (flag,) = raise_flags(1)
    client = api_as(supervisor)
    assert client.post(LIST, {}, format="json").status_code == 405
    assert client.get(review_url(flag)).status_code == 405
    assert client.get(f"{LIST}{flag.pk}/").status_code == 404
