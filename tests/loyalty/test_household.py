"""Households: one per member, a size limit, invitations answered only by the invitee, a pooled balance."""

from __future__ import annotations

import pytest

from crm.errors import ApplicationError
from crm.models import TimelineEntry
from crm.services import customer_erase, customer_merge
from loyalty import selectors, services
from loyalty.models import Household, HouseholdInvitation, Member
from tests.loyalty.factories import credit, member

pytestmark = pytest.mark.django_db


def invite(head, invited):  # noqa: ANN001, ANN201
    return services.household_invite(head=head, number=invited.number, family_name=invited.customer.family_name)


def join(head, invited):  # noqa: ANN001, ANN201
    invitation = invite(head, invited)
    return services.household_invitation_accept(invitation_id=invitation.pk, member=invited)


def test_a_member_creates_a_household_and_heads_it():
    head = member()
    household = services.household_create(member=head)
    head.refresh_from_db()
    assert household.head_id == head.pk
    assert head.household_id == household.pk
    assert TimelineEntry.objects.filter(customer=head.customer, kind="household.created").exists()


def test_an_invited_member_joins_when_they_accept():
    # given a head and a member they invite by number and family name
    head, invited = member(), member()
    services.household_create(member=head)
    invitation = invite(head, invited)
    assert list(selectors.household_invitations_for(member=invited)) == [invitation]
    # when the invitee accepts
    services.household_invitation_accept(invitation_id=invitation.pk, member=invited)
    # then they are in the household and both timelines say so
    invited.refresh_from_db()
    assert invited.household_id == head.headed_household.pk
    assert TimelineEntry.objects.filter(customer=invited.customer, kind="household.joined").exists()
    assert TimelineEntry.objects.filter(customer=head.customer, kind="household.member_joined").exists()


def test_only_the_invitee_can_accept_or_decline():
    head, invited, stranger = member(), member(), member()
    services.household_create(member=head)
    invitation = invite(head, invited)
    for action in (services.household_invitation_accept, services.household_invitation_decline):
        with pytest.raises(ApplicationError) as refused:
            action(invitation_id=invitation.pk, member=stranger)
        assert refused.value.status == 404
    stranger.refresh_from_db()
    assert stranger.household_id is None
    assert HouseholdInvitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).exists()


def test_a_declined_invitation_is_gone_and_may_be_sent_again():
    head, invited = member(), member()
    services.household_create(member=head)
    invitation = invite(head, invited)
    services.household_invitation_decline(invitation_id=invitation.pk, member=invited)
    assert not HouseholdInvitation.objects.filter(pk=invitation.pk).exists()
    assert invite(head, invited).pk != invitation.pk


def test_an_invitation_needs_the_right_family_name():
    head, invited = member(), member(family_name="Lovelace")
    services.household_create(member=head)
    with pytest.raises(ApplicationError) as refused:
        services.household_invite(head=head, number=invited.number, family_name="Babbage")
    assert refused.value.code == "frequent_flyer_name_mismatch"
    assert not HouseholdInvitation.objects.exists()


def test_only_the_head_invites():
    head, joined, other = member(), member(), member()
    services.household_create(member=head)
    join(head, joined)
    with pytest.raises(ApplicationError) as refused:
        invite(joined, other)
    assert refused.value.code == "not_household_head"


def test_a_member_belongs_to_one_household():
    # given two households and a member invited to both
    first, second, invited = member(), member(), member()
    services.household_create(member=first)
    services.household_create(member=second)
    to_first, to_second = invite(first, invited), invite(second, invited)
    # when they accept the first
    services.household_invitation_accept(invitation_id=to_first.pk, member=invited)
    # then the second invitation is gone, and neither a new invitation nor a new household is possible
    assert not HouseholdInvitation.objects.filter(pk=to_second.pk).exists()
    with pytest.raises(ApplicationError) as refused:
        invite(second, invited)
    assert refused.value.code == "already_in_household"
    with pytest.raises(ApplicationError) as refused:
        services.household_create(member=invited)
    assert refused.value.code == "already_in_household"
    with pytest.raises(ApplicationError):
        services.household_create(member=first)


def test_a_household_holds_at_most_the_programme_limit(settings):
    # given a limit of 3 (head included) and a household of 2 with two invitations out
    programme = selectors.programme()
    programme.household_max_members = 3
    programme.save(update_fields=["household_max_members"])
    head, second, third, fourth = member(), member(), member(), member()
    services.household_create(member=head)
    join(head, second)
    third_invite, fourth_invite = invite(head, third), invite(head, fourth)
    # when both accept, the first fills the household and the second is refused
    services.household_invitation_accept(invitation_id=third_invite.pk, member=third)
    with pytest.raises(ApplicationError) as refused:
        services.household_invitation_accept(invitation_id=fourth_invite.pk, member=fourth)
    assert (refused.value.status, refused.value.code) == (409, "household_full")
    fourth.refresh_from_db()
    assert fourth.household_id is None
    # and a full household sends no more invitations
    with pytest.raises(ApplicationError) as refused:
        invite(head, member())
    assert refused.value.code == "household_full"
    assert head.headed_household.members.count() == 3


def test_the_pool_is_the_sum_of_the_members_balances_head_first():
    head, second, third, outsider = member(), member(), member(), member()
    for m, miles in ((head, 100), (second, 250), (third, 1000), (outsider, 5000)):
        credit(m, miles)
    services.household_create(member=head)
    join(head, third)
    join(head, second)
    total, members = selectors.household_pool(member=second)
    assert total == 1350
    assert [m.pk for m in members] == [head.pk, *sorted([second.pk, third.pk])]
    assert selectors.household_pool(member=outsider)[0] == 5000


# --- A membership that closes (merge, erasure) ------------------------------------------------


def pool(m):  # noqa: ANN001, ANN201
    """Whose miles ``m`` may spend, as the redemption code sees it (pks, head first)."""
    return [x.pk for x in services.miles_pool(member=Member.objects.get(pk=m.pk))]


def test_a_merge_puts_the_survivor_at_the_head_of_the_duplicates_household(supervisor):
    # given a duplicate heading a household with one member, and a survivor in no household
    kept, gone, other = member(), member(), member()
    household = services.household_create(member=gone)
    join(gone, other)
    # when the duplicate's customer is merged into the survivor's
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    # then the survivor heads the household and spends its pool; the closed duplicate is out of it
    household.refresh_from_db()
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert household.head_id == kept.pk and kept.household_id == household.pk
    assert gone.household_id is None
    assert pool(kept) == [kept.pk, other.pk]
    assert TimelineEntry.objects.filter(customer=kept.customer, kind="household.head_passed").exists()


def test_a_survivor_already_in_the_duplicates_household_becomes_its_head(supervisor):
    kept, gone, other = member(), member(), member()
    household = services.household_create(member=gone)
    join(gone, kept)
    join(gone, other)
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    household.refresh_from_db()
    assert household.head_id == kept.pk
    assert set(household.members.values_list("pk", flat=True)) == {kept.pk, other.pk}


def test_a_survivor_in_another_household_leaves_the_duplicates_to_its_longest_standing_member(supervisor):
    # given a duplicate heading a household: the member with the higher number joined first
    later, first = member(), member()
    assert first.pk > later.pk
    kept, gone = member(), member()
    household = services.household_create(member=gone)
    join(gone, first)
    join(gone, later)
    # and the survivor heading a household of its own
    own = services.household_create(member=kept)
    # when they are merged
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    # then the duplicate's household passes to the member who joined it first, who spends its pool
    household.refresh_from_db()
    assert household.head_id == first.pk
    assert pool(first) == [first.pk, later.pk]
    # and the survivor still heads its own
    own.refresh_from_db()
    assert own.head_id == kept.pk and pool(kept) == [kept.pk]
    assert TimelineEntry.objects.filter(customer=first.customer, kind="household.head_passed").exists()


def test_a_merged_member_of_a_household_is_replaced_by_the_survivor(supervisor):
    # given a duplicate who is a member (not the head) of a household, and a survivor in none
    head, gone, kept = member(), member(), member()
    household = services.household_create(member=head)
    join(head, gone)
    # when they are merged
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    # then the survivor takes the duplicate's place, and the pool has the survivor, not the closed duplicate
    assert set(household.members.values_list("pk", flat=True)) == {head.pk, kept.pk}
    assert pool(head) == [head.pk, kept.pk]
    assert HouseholdInvitation.objects.filter(household=household, member=kept, accepted_at__isnull=False).exists()


def test_erasing_the_head_passes_the_household_on_and_erasing_the_last_one_dissolves_it(supervisor):
    # given a head and the one member of their household
    head, other = member(), member()
    credit(other, 700)
    household = services.household_create(member=head)
    join(head, other)
    # when the head's customer is erased
    customer_erase(customer=head.customer, by=supervisor)
    # then the household passes to the member left, who spends its pool; the erased head is out of it
    household.refresh_from_db()
    head.refresh_from_db()
    assert household.head_id == other.pk and head.household_id is None
    assert pool(other) == [other.pk]
    # and when that member is erased too, no one is left: the household is dissolved
    customer_erase(customer=other.customer, by=supervisor)
    assert not Household.objects.filter(pk=household.pk).exists()
    assert not Member.objects.filter(household__isnull=False).exists()


def test_members_leave_the_head_removes_and_the_head_leaves_last():
    head, second, third = member(), member(), member()
    household = services.household_create(member=head)
    join(head, second)
    join(head, third)
    with pytest.raises(ApplicationError) as refused:
        services.household_leave(member=head)
    assert refused.value.code == "head_has_members"
    services.household_leave(member=second)
    services.household_remove(head=head, member_id=third.pk)
    with pytest.raises(ApplicationError) as refused:
        services.household_remove(head=head, member_id=third.pk)
    assert refused.value.status == 404
    for m in (second, third):
        m.refresh_from_db()
        assert m.household_id is None
    # a member who left can be invited again
    join(head, second)
    services.household_leave(member=second)
    services.household_leave(member=head)
    assert not Household.objects.filter(pk=household.pk).exists()
    head.refresh_from_db()
    assert head.household_id is None


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
def members_with_logins(make_passenger, api_as):
    """Two passengers who are members, each with an API client."""

    def make(n: int):  # noqa: ANN202
        rows = []
        for i in range(n):
            user, customer = make_passenger(f"member{i}@example.com")
            rows.append((member(customer), api_as(user)))
        return rows

    return make


def test_api_a_household_is_made_invited_into_and_accepted(members_with_logins):
    (head, head_api), (other, other_api) = members_with_logins(2)
    credit(head, 100)
    credit(other, 400)
    assert head_api.post("/api/v1/loyalty/household/").status_code == 201
    invited = head_api.post(
        "/api/v1/loyalty/household/invitations/",
        {"frequent_flyer_number": other.number, "family_name": other.customer.family_name},
        format="json",
    )
    assert invited.status_code == 201, invited.json()
    invitation_id = invited.json()["invitations_sent"][0]["id"]
    # the head cannot accept on the invitee's behalf
    assert head_api.post(f"/api/v1/loyalty/household/invitations/{invitation_id}/accept/").status_code == 404
    received = other_api.get("/api/v1/loyalty/household/").json()["invitations_received"]
    assert [i["id"] for i in received] == [invitation_id]
    accepted = other_api.post(f"/api/v1/loyalty/household/invitations/{invitation_id}/accept/")
    assert accepted.status_code == 200
    # the head sees the pool; the other member sees the members but no balances
    seen_by_head = head_api.get("/api/v1/loyalty/household/").json()
    assert seen_by_head["pooled_balance"] == 500
    assert [m["number"] for m in seen_by_head["members"]] == [head.number, other.number]
    seen_by_other = other_api.get("/api/v1/loyalty/household/").json()
    assert seen_by_other["pooled_balance"] is None
    assert {m["award_balance"] for m in seen_by_other["members"]} == {None}
    # the head removes the member
    removed = head_api.delete(f"/api/v1/loyalty/household/members/{other.number}/")
    assert removed.status_code == 200
    assert other_api.get("/api/v1/loyalty/household/").json()["in_household"] is False


def test_api_without_a_membership_is_a_404(passenger, api_as):
    response = api_as(passenger[0]).get("/api/v1/loyalty/household/")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_a_member")


def test_api_household_needs_a_login(api_client):
    assert api_client.get("/api/v1/loyalty/household/").status_code == 401


# --- Portal pages ----------------------------------------------------------------------------


def _portal_member(make_passenger, email: str):  # noqa: ANN202
    from django.test import Client

    user, customer = make_passenger(email)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return member(customer), client


def test_portal_household_flow_create_invite_accept_leave(make_passenger):
    head, head_client = _portal_member(make_passenger, "head@example.com")
    other, other_client = _portal_member(make_passenger, "other@example.com")
    credit(head, 300)
    credit(other, 700)
    # a member with no household is offered to start one
    page = head_client.get("/miles/household/")
    assert page.status_code == 200
    assert "/miles/household/create/" in page.content.decode()
    assert head_client.post("/miles/household/create/").status_code == 302
    # a wrong family name is refused beside the field and sends nothing
    bad = head_client.post("/miles/household/invite/", {"frequent_flyer_number": other.number, "family_name": "Nobody"})
    assert bad.status_code == 400
    assert not HouseholdInvitation.objects.exists()
    head_client.post(
        "/miles/household/invite/", {"frequent_flyer_number": other.number, "family_name": other.customer.family_name}
    )
    invitation = HouseholdInvitation.objects.get(member=other)
    # the head cannot accept it for the invitee
    assert head_client.post(f"/miles/household/invitations/{invitation.pk}/accept/").status_code == 404
    assert f"/miles/household/invitations/{invitation.pk}/accept/" in other_client.get("/miles/household/").content.decode()
    assert other_client.post(f"/miles/household/invitations/{invitation.pk}/accept/").status_code == 302
    # the head sees the pooled balance, the member does not
    head_page = head_client.get("/miles/household/").content.decode()
    assert "1000" in head_page
    other_page = other_client.get("/miles/household/").content.decode()
    assert "1000" not in other_page
    assert other_client.post("/miles/household/leave/").status_code == 302
    other.refresh_from_db()
    assert other.household_id is None


def test_portal_household_pages_need_a_login_and_stay_constant_in_queries(client, make_passenger, django_assert_max_num_queries):
    assert client.get("/miles/household/").status_code == 302
    assert client.get("/miles/transfer/").status_code == 302
    head, head_client = _portal_member(make_passenger, "head@example.com")
    services.household_create(member=head)
    for _ in range(4):
        join(head, member())
    for _ in range(1):
        invite(head, member())
    with django_assert_max_num_queries(14):
        page = head_client.get("/miles/household/")
    assert page.status_code == 200


def test_portal_for_a_passenger_who_is_not_a_member(passenger_client):
    page = passenger_client.get("/miles/household/")
    assert page.status_code == 200
    assert "not a member" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_acceptances_never_overfill_a_household():
    import threading

    from django.db import connection

    from loyalty.models import Member

    # given a household with room for one more member and four invitations out
    programme = selectors.programme()
    programme.household_max_members = 2
    programme.save(update_fields=["household_max_members"])
    head = member()
    services.household_create(member=head)
    invited = [member() for _ in range(4)]
    invitations = [invite(head, m) for m in invited]
    barrier = threading.Barrier(4, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def accept(invitation, m) -> None:  # noqa: ANN001
        try:
            connection.ensure_connection()
            barrier.wait()
            services.household_invitation_accept(invitation_id=invitation.pk, member=Member.objects.get(pk=m.pk))
            outcome = "joined"
        except ApplicationError as error:
            outcome = error.code
        except Exception as error:  # noqa: BLE001 - a crash is an outcome the assertions must see
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=accept, args=pair) for pair in zip(invitations, invited, strict=True)]
    # when all four accept at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then one joins and three are told the household is full
    assert sorted(outcomes) == ["household_full"] * 3 + ["joined"]
    assert Member.objects.filter(household=head.headed_household).count() == 2
