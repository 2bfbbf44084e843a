"""Status match: an agent asks for a tier from a competitor's current card, another person with the right decides."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.errors import ApplicationError
from crm.models import CustomerAccess, TimelineEntry
from crm.permissions import SUPERVISOR
from crm.services import customer_erase, customer_merge
from loyalty import events, selectors, services
from loyalty.models import Decision, Member, MemberStatus, StatusMatch, Tier
from loyalty.services.tiers import add_months
from tests.events_support import capture_events
from tests.loyalty.factories import member
from tests.loyalty.tier_support import post

pytestmark = pytest.mark.django_db

QUEUE = "/office/loyalty/status-matches/"
API = "/api/v1/loyalty/status-matches/"


@pytest.fixture
def second_supervisor(make_staff):
    return make_staff(SUPERVISOR, username="supervisor2")


def client_for(user, **kwargs) -> Client:  # noqa: ANN001
    client = Client(**kwargs)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def card(**overrides) -> dict:
    values = {
        "competitor_airline": "Northwind Airways",
        "competitor_tier": "Sapphire",
        "competitor_number": "NW-4455667",
        "competitor_valid_until": timezone.localdate() + timedelta(days=200),
        "note": "Card and last statement seen",
    }
    return {**values, **overrides}


def ask(m: Member, by, tier: str = "gold", **overrides) -> StatusMatch:  # noqa: ANN001
    return services.status_match_request(member=m, tier=Tier.objects.get(code=tier), by=by, **card(**overrides))


# --- The rules ---------------------------------------------------------------------------------


def test_an_approved_match_grants_the_tier_until_the_end_of_the_next_period_and_says_so(
    agent, supervisor, django_capture_on_commit_callbacks
):
    # Given a Blue member and an agent's request for Gold
    m = member()
    match = ask(m, agent)
    assert match.status == Decision.PENDING

    # When a supervisor approves it
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        services.status_match_approve(status_match=match, by=supervisor)

    # Then the member is Gold until the last day of the next qualification period
    m.refresh_from_db()
    today = timezone.localdate()
    assert m.tier.code == "gold" and m.tier_since == today
    assert m.tier_valid_until == add_months(add_months(m.qualification_start, 12), 12) - timedelta(days=1)
    match.refresh_from_db()
    assert (match.status, match.decided_by) == (Decision.APPROVED, supervisor)
    # And others are told, and the customer's timeline shows the request and the approval with who did them
    assert [p["reason"] for name, p in seen if name == "tier_changed"] == ["status_match"]
    timeline = TimelineEntry.objects.filter(customer=m.customer, kind__startswith="loyalty.status_match").order_by("id")
    assert [(t.kind, t.actor) for t in timeline] == [
        ("loyalty.status_match_requested", agent),
        ("loyalty.status_match_approved", supervisor),
    ]


def test_an_agent_cannot_decide_and_a_supervisor_cannot_decide_their_own_request(agent, supervisor, second_supervisor):
    m = member()
    by_agent = ask(m, agent)

    with pytest.raises(ApplicationError) as refused:
        services.status_match_approve(status_match=by_agent, by=agent)
    assert refused.value.code == "permission_denied"
    services.status_match_reject(status_match=by_agent, by=supervisor)

    own = ask(m, supervisor)
    for decide in (services.status_match_approve, services.status_match_reject):
        with pytest.raises(ApplicationError) as refused:
            decide(status_match=own, by=supervisor)
        assert refused.value.code == "own_request" and refused.value.status == 403
    own.refresh_from_db()
    assert own.status == Decision.PENDING

    services.status_match_approve(status_match=own, by=second_supervisor)
    m.refresh_from_db()
    assert m.tier.code == "gold"


def test_only_a_current_card_and_a_higher_tier_can_be_asked_for_one_request_at_a_time(agent):
    m = member()
    with pytest.raises(ApplicationError) as expired:
        ask(m, agent, competitor_valid_until=timezone.localdate() - timedelta(days=1))
    assert expired.value.code == "card_expired" and "competitor_valid_until" in expired.value.fields
    with pytest.raises(ApplicationError) as same:
        ask(m, agent, tier="blue")
    assert same.value.code == "tier_not_higher"

    ask(m, agent, competitor_valid_until=timezone.localdate())  # valid through today is current
    with pytest.raises(ApplicationError) as twice:
        ask(m, agent, tier="platinum")
    assert twice.value.code == "status_match_pending" and twice.value.status == 409
    assert StatusMatch.objects.filter(member=m).count() == 1


def test_approval_never_lowers_a_tier_reached_meanwhile(agent, supervisor, django_capture_on_commit_callbacks):
    m = member()
    match = ask(m, agent, tier="silver")
    post(m, qualifying=50_000)  # Gold reached while the request waited

    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        services.status_match_approve(status_match=match, by=supervisor)

    m.refresh_from_db()
    assert m.tier.code == "gold" and seen == []
    assert StatusMatch.objects.get(pk=match.pk).status == Decision.APPROVED


def test_a_rejection_changes_no_tier_and_a_decided_request_cannot_be_decided_again(agent, supervisor, second_supervisor):
    m = member()
    match = ask(m, agent)
    services.status_match_reject(status_match=match, by=supervisor)

    with pytest.raises(ApplicationError) as again:
        services.status_match_approve(status_match=match, by=second_supervisor)

    assert again.value.code == "already_decided"
    m.refresh_from_db()
    assert m.tier.code == "blue"
    assert TimelineEntry.objects.filter(customer=m.customer, kind="loyalty.status_match_rejected").exists()


def test_a_card_that_expired_while_waiting_cannot_be_approved(agent, supervisor):
    m = member()
    match = ask(m, agent, competitor_valid_until=date.today() + timedelta(days=2))
    with pytest.raises(ApplicationError) as refused:
        services.status_match_approve(status_match=match, by=supervisor, today=date.today() + timedelta(days=3))
    assert refused.value.code == "card_expired"


def test_a_pending_match_of_a_membership_closed_since_is_not_approved(agent, supervisor):
    m = member()
    match = ask(m, agent)
    Member.objects.filter(pk=m.pk).update(status=MemberStatus.CLOSED)

    with pytest.raises(ApplicationError) as refused:
        services.status_match_approve(status_match=match, by=supervisor)

    assert (refused.value.status, refused.value.code) == (409, "member_closed")
    m.refresh_from_db()
    assert m.tier.code == "blue"
    assert StatusMatch.objects.get(pk=match.pk).status == Decision.PENDING


def test_erasure_cancels_the_pending_match_and_the_queue_no_longer_shows_it(agent, supervisor):
    m = member()
    match = ask(m, agent)

    customer_erase(customer=m.customer, by=supervisor)

    match.refresh_from_db()
    assert (match.status, match.decided_by) == (Decision.CANCELLED, None)
    assert list(selectors.status_matches(status=Decision.PENDING)) == []
    with pytest.raises(ApplicationError) as refused:
        services.status_match_approve(status_match=match, by=supervisor)
    assert refused.value.code == "member_closed"


def test_a_merge_moves_the_pending_match_to_the_survivor_who_may_then_be_granted_it(agent, supervisor):
    # Given a duplicate membership with a pending request for Gold, the survivor in Blue
    kept, gone = member(), member()
    match = ask(gone, agent)

    # When the duplicate's customer is merged into the survivor's
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)

    # Then the request waits on the surviving membership, and approving it makes the survivor Gold
    match.refresh_from_db()
    assert (match.member_id, match.status) == (kept.pk, Decision.PENDING)
    services.status_match_approve(status_match=match, by=supervisor)
    kept.refresh_from_db()
    assert kept.tier.code == "gold"


def test_a_merge_cancels_the_duplicates_match_when_the_survivor_has_its_own_waiting_or_the_tier_already(agent, supervisor):
    # Given a survivor and its duplicate each asking for Gold; and a Platinum survivor of another duplicate
    kept, first = member(), member()
    waiting_on_survivor = ask(kept, agent)
    first_match = ask(first, agent)
    platinum, third = member(), member()
    Member.objects.filter(pk=platinum.pk).update(tier=Tier.objects.get(code="platinum"))
    third_match = ask(third, agent)

    # When the duplicates are merged
    customer_merge(survivor=kept.customer, loser=first.customer, by=supervisor)
    customer_merge(survivor=platinum.customer, loser=third.customer, by=supervisor)

    # Then the survivor keeps its own request (one at a time) and the others are cancelled
    assert StatusMatch.objects.get(pk=waiting_on_survivor.pk).status == Decision.PENDING
    for match in (first_match, third_match):
        match.refresh_from_db()
        assert match.status == Decision.CANCELLED
    assert list(selectors.status_matches(status=Decision.PENDING)) == [waiting_on_survivor]


def test_a_matched_tier_is_kept_at_the_period_end_that_follows_without_activity(agent, supervisor):
    m = member()
    services.status_match_approve(status_match=ask(m, agent, tier="platinum"), by=supervisor)

    services.tiers_requalify(today=add_months(timezone.localdate(), 12))

    m.refresh_from_db()
    assert m.tier.code == "platinum"


# --- Office pages ------------------------------------------------------------------------------


def test_an_agent_asks_from_the_members_page_which_is_audited(agent, agent_client):
    m = member()
    url = reverse("loyalty_office:status_match_new", kwargs={"number": m.number})
    assert url == f"/office/loyalty/members/{m.number}/status-match/"

    page = agent_client.get(url)
    assert page.status_code == 200 and m.number in page.content.decode()
    assert CustomerAccess.objects.filter(customer=m.customer, user=agent, path=url).exists()

    data = {**card(), "tier": "gold"}
    data["competitor_valid_until"] = data["competitor_valid_until"].isoformat()
    response = agent_client.post(url, data)
    assert response.status_code == 302
    match = StatusMatch.objects.get(member=m)
    assert (match.tier.code, match.requested_by, match.competitor_airline) == ("gold", agent, "Northwind Airways")
    assert "waiting for a supervisor" in agent_client.get(url).content.decode()


def test_a_request_with_an_expired_card_is_refused_beside_the_field_and_records_nothing(agent_client):
    m = member()
    url = reverse("loyalty_office:status_match_new", kwargs={"number": m.number})
    data = {**card(), "tier": "gold", "competitor_valid_until": "2020-01-31"}

    response = agent_client.post(url, data)

    assert response.status_code == 400
    assert "only a current card can be matched" in response.content.decode()
    assert not StatusMatch.objects.exists()


def test_unknown_or_malformed_member_numbers_are_404(agent_client):
    assert agent_client.get("/office/loyalty/members/1234567890/status-match/").status_code in (404,)
    assert agent_client.get("/office/loyalty/members/not-a-number/status-match/").status_code == 404


def test_the_queue_offers_decisions_only_to_supervisors_on_others_requests(
    agent, agent_client, supervisor, supervisor_client, second_supervisor
):
    m, other = member(), member()
    by_agent, by_supervisor = ask(m, agent), ask(other, supervisor)
    approve_agent = reverse("loyalty_office:status_match_approve", kwargs={"status_match_id": by_agent.pk})
    approve_own = reverse("loyalty_office:status_match_approve", kwargs={"status_match_id": by_supervisor.pk})

    # An agent sees the queue without buttons, and a POST is refused
    page = agent_client.get(QUEUE).content.decode()
    assert m.number in page and approve_agent not in page
    assert agent_client.post(approve_agent).status_code == 403

    # A supervisor sees a button on the agent's request, none on their own; forcing it changes nothing
    page = supervisor_client.get(QUEUE).content.decode()
    assert approve_agent in page and approve_own not in page
    supervisor_client.post(approve_own)
    assert StatusMatch.objects.get(pk=by_supervisor.pk).status == Decision.PENDING

    # The supervisor approves the agent's request; the other supervisor rejects the first one's
    assert supervisor_client.post(approve_agent).status_code == 302
    reject = reverse("loyalty_office:status_match_reject", kwargs={"status_match_id": by_supervisor.pk})
    assert client_for(second_supervisor).post(reject).status_code == 302
    assert Member.objects.get(pk=m.pk).tier.code == "gold"
    assert StatusMatch.objects.get(pk=by_supervisor.pk).status == Decision.REJECTED
    assert "No status match is waiting" in supervisor_client.get(QUEUE).content.decode()


def test_decisions_need_the_csrf_token_and_a_post(agent, supervisor):
    match = ask(member(), agent)
    url = reverse("loyalty_office:status_match_approve", kwargs={"status_match_id": match.pk})
    strict = client_for(supervisor, enforce_csrf_checks=True)

    assert strict.post(url).status_code == 403
    assert strict.get(url).status_code == 405
    assert StatusMatch.objects.get(pk=match.pk).status == Decision.PENDING


def test_passengers_and_visitors_cannot_reach_the_pages(passenger_client, client):
    m = member()
    new = reverse("loyalty_office:status_match_new", kwargs={"number": m.number})
    assert passenger_client.get(QUEUE).status_code == 403
    assert passenger_client.get(new).status_code == 403
    assert client.get(QUEUE).status_code == 302


def test_the_queue_reads_the_same_number_of_queries_for_one_or_many_requests(agent, supervisor_client):
    ask(member(), agent)
    supervisor_client.get(QUEUE)
    with CaptureQueriesContext(connection) as one:
        assert supervisor_client.get(QUEUE).status_code == 200
    for _ in range(6):
        ask(member(), agent)
    with CaptureQueriesContext(connection) as seven:
        assert supervisor_client.get(QUEUE).status_code == 200
    assert len(seven) == len(one)


# --- API ---------------------------------------------------------------------------------------


def test_the_api_flow_with_permissions(agent, supervisor, second_supervisor, api_as):
    m = member()
    body = {**card(), "tier": "platinum", "member_number": m.number}
    body["competitor_valid_until"] = body["competitor_valid_until"].isoformat()

    created = api_as(agent).post(API, body, format="json")
    assert created.status_code == 201, created.content
    match_id = created.json()["id"]
    assert created.json()["status"] == "pending" and created.json()["current_tier"] == "blue"

    refused = api_as(agent).post(f"{API}{match_id}/approve/", format="json")
    assert refused.status_code == 403 and set(refused.json()["error"]) == {"code", "message", "fields"}

    listed = api_as(supervisor).get(API, {"status": "pending"})
    assert [row["id"] for row in listed.json()["results"]] == [match_id]

    approved = api_as(supervisor).post(f"{API}{match_id}/approve/", format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert Member.objects.get(pk=m.pk).tier.code == "platinum"
    again = api_as(second_supervisor).post(f"{API}{match_id}/reject/", format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"


def test_the_api_refuses_its_own_requests_decision_and_bad_input_with_the_error_shape(supervisor, api_as):
    m = member()
    client = api_as(supervisor)
    body = {**card(), "tier": "gold", "member_number": m.number}
    body["competitor_valid_until"] = body["competitor_valid_until"].isoformat()
    match_id = client.post(API, body, format="json").json()["id"]

    own = client.post(f"{API}{match_id}/approve/", format="json")
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_request"

    for bad, field in (
        ({**body, "member_number": "1234567890"}, "member_number"),
        ({**body, "tier": "diamond"}, "tier"),
        ({**body, "competitor_valid_until": "yesterday"}, "competitor_valid_until"),
        ({**body, "surprise": 1}, "surprise"),
    ):
        answer = client.post(API, bad, format="json")
        assert answer.status_code == 400, (field, answer.content)
        assert field in answer.json()["error"]["fields"]
    assert client.get(f"{API}99999999999999999999/").status_code == 404
    assert StatusMatch.objects.count() == 1


def test_passengers_get_403_on_the_list_and_404_on_a_request(agent, passenger, api_as):
    match = ask(member(), agent)
    client = api_as(passenger[0])
    assert client.get(API).status_code == 403
    assert client.get(f"{API}{match.pk}/").status_code == 404
    assert client.post(f"{API}{match.pk}/approve/", format="json").status_code == 404


def test_the_approvals_page_lists_pending_status_matches_and_a_decision_returns_there(
    agent, supervisor, client, django_capture_on_commit_callbacks
):
    # Given a status match an agent asked for
    m = member()
    with django_capture_on_commit_callbacks(execute=True):
        match = services.status_match_request(
            member=m, tier=Tier.objects.get(code="gold"), competitor_airline="Other Air", competitor_tier="Gold",
            competitor_number="OA123", competitor_valid_until=timezone.localdate() + timedelta(days=90), by=agent,
        )  # fmt: skip
    client.force_login(supervisor, backend="django.contrib.auth.backends.ModelBackend")

    # When the supervisor opens the approvals page
    page = client.get("/office/loyalty/approvals/")

    # Then the request is there with its decision buttons, and approving it from there comes back there
    assert page.status_code == 200
    assert f"/office/loyalty/status-matches/{match.pk}/approve/" in page.content.decode()
    answer = client.post(f"/office/loyalty/status-matches/{match.pk}/approve/", {"back": "approvals"})
    assert answer.status_code == 302 and answer["Location"] == "/office/loyalty/approvals/"
    assert StatusMatch.objects.get(pk=match.pk).status == "approved"
