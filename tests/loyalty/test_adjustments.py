"""Agents' adjustments: posted at once up to the threshold, else decided once by another supervisor."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from crm.errors import ApplicationError
from crm.models import TimelineEntry
from crm.permissions import SUPERVISOR
from crm.services import customer_erase, customer_merge
from loyalty import selectors, services
from loyalty.models import Adjustment, Decision, EntryKind, Member, MemberStatus, MilesEntry
from tests.loyalty.factories import credit, member
from tests.loyalty.test_ledger import assert_balance_is_sum

pytestmark = pytest.mark.django_db


@pytest.fixture
def threshold():
    return selectors.programme().adjustment_approval_threshold


def request(m, by, award, *, kind="goodwill", reason="Delayed bag", qualifying=0):  # noqa: ANN001, ANN201
    return services.adjustment_request(member=m, kind=kind, award_miles=award, qualifying_miles=qualifying, reason=reason, by=by)


def test_an_adjustment_of_exactly_the_threshold_is_posted_at_once(agent, threshold):
    # given a member
    m = member()
    # when an agent adjusts by exactly the threshold
    adjustment = request(m, agent, threshold, reason="  Lost   bag ")
    # then it is posted: an ADJUSTMENT entry keyed by the adjustment, the reason as its note
    assert adjustment.status == Decision.APPROVED
    entry = MilesEntry.objects.get(idempotency_key=f"adjustment:{adjustment.pk}")
    assert (entry.kind, entry.award_miles, entry.note, entry.created_by_id) == (
        EntryKind.ADJUSTMENT,
        threshold,
        "Lost bag",
        agent.pk,
    )
    assert adjustment.entry_id == entry.pk
    m.refresh_from_db()
    assert m.award_balance == threshold
    assert_balance_is_sum(m)
    timeline = TimelineEntry.objects.get(customer=m.customer, kind="miles.adjusted")
    assert timeline.actor_id == agent.pk
    assert timeline.data["adjustment"] == adjustment.pk


def test_one_mile_above_the_threshold_waits_for_a_supervisor(agent, threshold):
    m = member()
    adjustment = request(m, agent, threshold + 1)
    assert adjustment.status == Decision.PENDING
    assert adjustment.entry_id is None
    assert not MilesEntry.objects.filter(member=m).exists()
    assert TimelineEntry.objects.filter(customer=m.customer, kind="miles.adjustment_requested").count() == 1
    assert list(selectors.adjustments_pending()) == [adjustment]


def test_qualifying_miles_above_the_threshold_also_wait(agent, threshold):
    m = member()
    adjustment = request(m, agent, 10, qualifying=threshold + 1, kind="correction")
    assert adjustment.status == Decision.PENDING


def test_a_supervisor_approves_and_the_miles_are_posted(agent, supervisor, threshold):
    # given a pending adjustment
    m = member()
    adjustment = request(m, agent, threshold + 1)
    # when a supervisor approves it
    services.adjustment_approve(adjustment=adjustment, by=supervisor, note="ok")
    # then it is posted once, decided by the supervisor, and on the timeline
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by_id, adjustment.decision_note) == (Decision.APPROVED, supervisor.pk, "ok")
    m.refresh_from_db()
    assert m.award_balance == threshold + 1
    assert TimelineEntry.objects.get(customer=m.customer, kind="miles.adjusted").actor_id == supervisor.pk
    # and deciding it again is refused (409)
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_approve(adjustment=adjustment, by=supervisor)
    assert (refused.value.status, refused.value.code) == (409, "already_decided")
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_reject(adjustment=adjustment, by=supervisor, note="no")
    assert refused.value.status == 409
    assert MilesEntry.objects.filter(member=m).count() == 1


def test_a_rejection_needs_a_note_and_posts_nothing(agent, supervisor, threshold):
    m = member()
    adjustment = request(m, agent, threshold + 1)
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_reject(adjustment=adjustment, by=supervisor, note="  ")
    assert refused.value.fields.keys() == {"note"}
    services.adjustment_reject(adjustment=adjustment, by=supervisor, note="Not eligible")
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decision_note) == (Decision.REJECTED, "Not eligible")
    assert not MilesEntry.objects.filter(member=m).exists()
    assert TimelineEntry.objects.filter(customer=m.customer, kind="miles.adjustment_rejected").exists()


def test_an_agent_cannot_approve(agent, make_staff, threshold):
    other_agent = make_staff("Agent", username="agent2")
    adjustment = request(member(), agent, threshold + 1)
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_approve(adjustment=adjustment, by=other_agent)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    adjustment.refresh_from_db()
    assert adjustment.status == Decision.PENDING


def test_a_supervisor_cannot_approve_their_own_request(supervisor, threshold):
    adjustment = request(member(), supervisor, threshold + 1)
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_approve(adjustment=adjustment, by=supervisor)
    assert (refused.value.status, refused.value.code) == (403, "own_adjustment")
    with pytest.raises(ApplicationError):
        services.adjustment_reject(adjustment=adjustment, by=supervisor, note="mine")
    adjustment.refresh_from_db()
    assert adjustment.status == Decision.PENDING


def test_a_marketer_cannot_adjust(marketer):
    m = member()
    with pytest.raises(ApplicationError) as refused:
        request(m, marketer, 100)
    assert refused.value.status == 403
    assert not Adjustment.objects.exists()


@pytest.mark.parametrize(
    ("award", "qualifying", "reason", "kind", "field"),
    [
        (0, 0, "why", "goodwill", "award_miles"),
        (100, 0, "   ", "goodwill", "reason"),
        (100, 0, "x" * 301, "goodwill", "reason"),
        (1_000_001, 0, "why", "goodwill", "award_miles"),
        (100, -1_000_001, "why", "goodwill", "qualifying_miles"),
        (100, 0, "why", "bribe", "kind"),
    ],
)
def test_bad_adjustments_are_refused_and_record_nothing(agent, award, qualifying, reason, kind, field):
    m = member()
    with pytest.raises(ApplicationError) as refused:
        request(m, agent, award, qualifying=qualifying, reason=reason, kind=kind)
    assert field in refused.value.fields
    assert not Adjustment.objects.exists()


def test_a_debit_beyond_the_balance_is_refused_when_asked(agent):
    m = member()
    credit(m, 100)
    with pytest.raises(services.InsufficientMiles) as refused:
        request(m, agent, -101, kind="correction")
    assert "award_miles" in refused.value.fields
    assert not Adjustment.objects.exists()
    request(m, agent, -100, kind="correction")
    m.refresh_from_db()
    assert m.award_balance == 0
    assert_balance_is_sum(m)


def test_approving_a_debit_the_member_can_no_longer_cover_keeps_it_pending(agent, supervisor, threshold):
    # given a pending debit asked for while the member had the miles
    m = member()
    credit(m, threshold + 10)
    adjustment = request(m, agent, -(threshold + 5), kind="correction")
    # and the miles are spent before a supervisor looks at it
    services.miles_post(
        posting=services.Posting(member_id=m.pk, kind=EntryKind.REDEMPTION, reason="award_ticket", key="spend", award=-100)
    )
    # when the supervisor approves, it is refused and stays pending; rejecting it still works
    with pytest.raises(services.InsufficientMiles):
        services.adjustment_approve(adjustment=adjustment, by=supervisor)
    adjustment.refresh_from_db()
    assert adjustment.status == Decision.PENDING
    m.refresh_from_db()
    assert m.award_balance == threshold - 90
    services.adjustment_reject(adjustment=adjustment, by=supervisor, note="Miles already spent")
    assert_balance_is_sum(m)


def test_a_pending_adjustment_of_a_membership_closed_since_is_not_approved(agent, supervisor, threshold):
    # given a pending credit, and the membership closed since it was asked for
    m = member()
    adjustment = request(m, agent, threshold + 1)
    Member.objects.filter(pk=m.pk).update(status=MemberStatus.CLOSED)
    # when a supervisor approves it, then it is refused and nothing is posted
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_approve(adjustment=adjustment, by=supervisor)
    assert (refused.value.status, refused.value.code) == (409, "member_closed")
    assert not MilesEntry.objects.filter(member=m).exists()
    # and it can still be rejected, to clear it from the queue
    services.adjustment_reject(adjustment=adjustment, by=supervisor, note="Membership closed")
    assert list(selectors.adjustments_pending()) == []


def test_erasure_cancels_the_pending_adjustments_and_the_queue_no_longer_shows_them(agent, supervisor, threshold):
    # given a member with a pending adjustment, and another member's
    m, other = member(), member()
    adjustment = request(m, agent, threshold + 1)
    others = request(other, agent, threshold + 2)
    # when the member's customer is erased
    customer_erase(customer=m.customer, by=supervisor)
    # then their adjustment is cancelled, decided by no one, and only the other waits
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by_id, adjustment.entry_id) == (Decision.CANCELLED, None, None)
    assert adjustment.decided_at is not None
    assert list(selectors.adjustments_pending()) == [others]
    # and approving it is refused, saying the membership is closed
    with pytest.raises(ApplicationError) as refused:
        services.adjustment_approve(adjustment=adjustment, by=supervisor)
    assert refused.value.code == "member_closed"
    assert not MilesEntry.objects.filter(member=m).exists()


def test_a_merge_moves_the_pending_adjustments_to_the_survivor_where_they_are_decided(agent, supervisor, threshold):
    # given a duplicate membership with a pending goodwill credit
    kept, gone = member(), member()
    adjustment = request(gone, agent, threshold + 1)
    # when the duplicate's customer is merged into the survivor's
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    # then the adjustment waits on the surviving membership, and approving it credits the survivor
    adjustment.refresh_from_db()
    assert (adjustment.member_id, adjustment.status) == (kept.pk, Decision.PENDING)
    assert [a.pk for a in selectors.adjustments_pending()] == [adjustment.pk]
    services.adjustment_approve(adjustment=Adjustment.objects.get(pk=adjustment.pk), by=supervisor)
    kept.refresh_from_db()
    assert kept.award_balance == threshold + 1
    assert_balance_is_sum(kept)


def test_approving_an_adjustment_read_before_a_merge_moved_it_posts_on_the_survivor(agent, supervisor, threshold):
    # given a pending adjustment read by the supervisor's page, then moved to the survivor by a merge
    kept, gone = member(), member()
    adjustment = request(gone, agent, threshold + 1)
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    # when the supervisor approves the copy read before the merge
    services.adjustment_approve(adjustment=adjustment, by=supervisor)
    # then it is posted on the surviving membership
    assert MilesEntry.objects.get(idempotency_key=f"adjustment:{adjustment.pk}").member_id == kept.pk


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_approving_at_once_post_once(agent, supervisor, make_staff, threshold):
    # given a pending adjustment and two supervisors, each in its own thread and connection
    second = make_staff(SUPERVISOR, username="supervisor2")
    m = member()
    adjustment = request(m, agent, threshold + 1)
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(user) -> None:  # noqa: ANN001
        try:
            connection.ensure_connection()
            barrier.wait()
            services.adjustment_approve(adjustment=Adjustment(pk=adjustment.pk), by=user)
            outcome = "approved"
        except ApplicationError as error:
            outcome = f"{error.status} {error.code}"
        except Exception as error:  # noqa: BLE001 - a crash is an outcome the assertions must see
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(user,)) for user in (supervisor, second)]
    # when both approve at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then one posting, the other told it was already decided
    assert sorted(outcomes) == ["409 already_decided", "approved"]
    assert MilesEntry.objects.filter(member=m).count() == 1
    m.refresh_from_db()
    assert m.award_balance == threshold + 1


# --- API -------------------------------------------------------------------------------------


def test_api_agent_adjusts_and_a_supervisor_approves_from_the_queue(agent, supervisor, api_as, threshold):
    # given a member and an agent's API client
    m = member()
    agent_api, supervisor_api = api_as(agent), api_as(supervisor)
    # when the agent asks for more than the threshold
    asked = agent_api.post(
        f"/api/v1/loyalty/members/{m.number}/adjustments/",
        {"kind": "goodwill", "award_miles": threshold + 1, "reason": "Missed connection"},
        format="json",
    )
    # then it waits in the queue; the agent may not approve it
    assert asked.status_code == 201, asked.json()
    body = asked.json()
    assert (body["status"], body["member"], body["entry"]) == ("pending", m.number, None)
    queue = supervisor_api.get("/api/v1/loyalty/adjustments/?status=pending").json()
    assert [row["id"] for row in queue["results"]] == [body["id"]]
    refused = agent_api.post(f"/api/v1/loyalty/adjustments/{body['id']}/approve/", {}, format="json")
    assert refused.status_code == 403
    # and the supervisor approves it once
    approved = supervisor_api.post(f"/api/v1/loyalty/adjustments/{body['id']}/approve/", {"note": "ok"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"
    again = supervisor_api.post(f"/api/v1/loyalty/adjustments/{body['id']}/reject/", {"note": "no"}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_decided")
    m.refresh_from_db()
    assert m.award_balance == threshold + 1


def test_api_refuses_bad_input_in_the_error_shape(agent, api_as):
    m = member()
    response = api_as(agent).post(
        f"/api/v1/loyalty/members/{m.number}/adjustments/", {"kind": "goodwill", "award_miles": 0, "reason": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "award_miles" in response.json()["error"]["fields"]
    response = api_as(agent).post(
        f"/api/v1/loyalty/members/{m.number}/adjustments/",
        {"kind": "goodwill", "award_miles": "10", "reason": "x"},
        format="json",
    )
    assert response.status_code == 400
    unknown = api_as(agent).post(
        "/api/v1/loyalty/members/0000000000/adjustments/", {"kind": "goodwill", "award_miles": 1, "reason": "x"}, format="json"
    )
    assert unknown.status_code == 404
    assert not Adjustment.objects.exists()


def test_api_marketers_and_passengers_cannot_adjust_or_see_adjustments(marketer, passenger, api_as):
    m = member()
    for user in (marketer, passenger[0]):
        client = api_as(user)
        response = client.post(
            f"/api/v1/loyalty/members/{m.number}/adjustments/",
            {"kind": "goodwill", "award_miles": 1, "reason": "x"},
            format="json",
        )
        assert response.status_code == 403
        assert client.get("/api/v1/loyalty/adjustments/").status_code == 403
    assert not Adjustment.objects.exists()


def test_api_adjustment_list_does_not_grow_in_queries(agent, supervisor, api_as, threshold, django_assert_max_num_queries):
    for _ in range(12):
        request(member(), agent, threshold + 1)
    client = api_as(supervisor)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/loyalty/adjustments/?status=pending")
    assert response.json()["count"] == 12


# --- Office pages ------------------------------------------------------------------------------


def test_office_agent_adjusts_from_the_form_and_the_visit_is_audited(agent_client, agent, threshold):
    from crm.models import CustomerAccess

    m = member()
    url = f"/office/loyalty/members/{m.number}/adjust/"
    page = agent_client.get(url)
    assert page.status_code == 200
    assert m.number in page.content.decode()
    posted = agent_client.post(url, {"kind": "goodwill", "award_miles": "250", "qualifying_miles": "", "reason": "Seat broken"})
    assert posted.status_code == 302
    m.refresh_from_db()
    assert m.award_balance == 250
    assert CustomerAccess.objects.filter(customer=m.customer, user=agent).count() >= 2
    # a bad form changes nothing and says why
    bad = agent_client.post(url, {"kind": "goodwill", "award_miles": "0", "reason": "x"})
    assert bad.status_code == 400
    assert "An adjustment must change some miles." in bad.content.decode()
    overdraw = agent_client.post(url, {"kind": "correction", "award_miles": "-251", "reason": "x"})
    assert overdraw.status_code == 409
    m.refresh_from_db()
    assert m.award_balance == 250


def test_office_adjust_refuses_marketers_and_unknown_numbers(marketer_client, agent_client):
    m = member()
    assert marketer_client.get(f"/office/loyalty/members/{m.number}/adjust/").status_code == 403
    assert (
        marketer_client.post(
            f"/office/loyalty/members/{m.number}/adjust/", {"kind": "goodwill", "award_miles": "1", "reason": "x"}
        ).status_code
        == 403
    )
    assert agent_client.get("/office/loyalty/members/0000000000/adjust/").status_code == 404
    assert not Adjustment.objects.exists()


def test_office_approvals_queue_lists_oldest_first_and_decides(
    agent, supervisor_client, agent_client, threshold, django_assert_max_num_queries
):
    # given three pending adjustments
    pending = [request(member(), agent, threshold + n) for n in (1, 2, 3)]
    # when a supervisor opens the queue (agents cannot)
    assert agent_client.get("/office/loyalty/approvals/").status_code == 403
    with django_assert_max_num_queries(12):
        page = supervisor_client.get("/office/loyalty/approvals/")
    html = page.content.decode()
    # then they are listed oldest first
    positions = [html.index(f"/office/loyalty/approvals/adjustments/{a.pk}/approve/") for a in pending]
    assert positions == sorted(positions)
    # and approving one posts it, rejecting one needs a note
    assert (
        supervisor_client.post(f"/office/loyalty/approvals/adjustments/{pending[0].pk}/approve/", {"note": ""}).status_code == 302
    )
    supervisor_client.post(f"/office/loyalty/approvals/adjustments/{pending[1].pk}/reject/", {"note": ""})
    supervisor_client.post(f"/office/loyalty/approvals/adjustments/{pending[2].pk}/reject/", {"note": "Duplicate"})
    statuses = [Adjustment.objects.get(pk=a.pk).status for a in pending]
    assert statuses == [Decision.APPROVED, Decision.PENDING, Decision.REJECTED]
    assert agent_client.post(f"/office/loyalty/approvals/adjustments/{pending[1].pk}/approve/").status_code == 403


def test_office_approvals_queue_queries_do_not_grow_with_the_queue(
    agent, supervisor_client, threshold, django_assert_max_num_queries
):
    for _ in range(20):
        request(member(), agent, threshold + 1)
    with django_assert_max_num_queries(12):
        page = supervisor_client.get("/office/loyalty/approvals/")
    assert page.status_code == 200


def test_office_rejecting_without_a_note_says_why_and_keeps_it_pending(agent, supervisor_client, threshold):
    adjustment = request(member(), agent, threshold + 1)
    response = supervisor_client.post(
        f"/office/loyalty/approvals/adjustments/{adjustment.pk}/reject/", {"note": "  "}, follow=True
    )
    assert "Say why the adjustment is rejected." in response.content.decode()
    adjustment.refresh_from_db()
    assert adjustment.status == Decision.PENDING


def test_office_a_supervisor_sees_their_own_request_without_buttons(supervisor, supervisor_client, threshold):
    adjustment = request(member(), supervisor, threshold + 1)
    html = supervisor_client.get("/office/loyalty/approvals/").content.decode()
    assert f"/office/loyalty/approvals/adjustments/{adjustment.pk}/approve/" not in html
    response = supervisor_client.post(f"/office/loyalty/approvals/adjustments/{adjustment.pk}/approve/", follow=True)
    assert "Someone else must decide an adjustment you asked for." in response.content.decode()
    adjustment.refresh_from_db()
    assert adjustment.status == Decision.PENDING
