"""Back-office duplicates: supervisors review likely pairs, compare them and merge one into the other."""

import datetime as dt

import pytest
from django.urls import reverse

from crm import selectors
from crm.models import ConsentEvent, Customer, CustomerAccess, CustomerMerge, DistinctCustomerPair, Lead, TimelineEntry
from crm.services import (
    consent_record,
    customer_access_record,
    customer_create,
    customer_merge,
    customer_pair_mark_distinct,
    lead_create,
    timeline_record,
)
from tests.crm.factories import LeadFactory, UserFactory

DUPLICATES = reverse("office:duplicates")
MERGE = reverse("office:customer_merge")


def merge_url(a, b) -> str:
    return f"{MERGE}?a={a.customer_number}&b={b.customer_number}"


@pytest.fixture
def pair(db):
    """The same person, recorded twice: once by an agent, once with more details."""
    keep = customer_create(data={"given_name": "Mei", "family_name": "Wang", "email": "mei@example.com"})
    dupe = customer_create(
        data={
            "given_name": "Mei",
            "family_name": "Wang",
            "email": "MEI@example.com",
            "phone": "+8613800138000",
            "passport_number": "E12345678",
            "date_of_birth": dt.date(1990, 5, 17),
        }
    )
    return keep, dupe


def test_supervisor_sees_likely_duplicates_with_the_reason(supervisor_client, pair):
    keep, dupe = pair
    response = supervisor_client.get(DUPLICATES)
    html = response.content.decode()
    assert response.status_code == 200
    assert keep.customer_number in html and dupe.customer_number in html
    assert "same e-mail" in html
    assert merge_url(keep, dupe).replace("&", "&amp;") in html


def test_agents_may_not_review_or_merge_duplicates(agent_client, pair):
    keep, dupe = pair
    assert agent_client.get(DUPLICATES).status_code == 403
    assert agent_client.get(merge_url(keep, dupe)).status_code == 403
    assert agent_client.post(merge_url(keep, dupe), {"survivor": keep.customer_number, "confirm": "on"}).status_code == 403
    assert Customer.objects.count() == 2


def test_compare_page_shows_both_records_side_by_side_and_audits_both(supervisor_client, supervisor, pair):
    keep, dupe = pair
    response = supervisor_client.get(merge_url(keep, dupe))
    html = response.content.decode()
    assert response.status_code == 200
    assert "+8613800138000" in html and "E12345678" in html  # supervisors may see documents
    assert html.count("<h1") == 1
    assert set(CustomerAccess.objects.values_list("customer_id", flat=True)) == {keep.pk, dupe.pk}
    assert set(CustomerAccess.objects.values_list("view_name", flat=True)) == {"office:customer_merge"}


def test_merging_moves_everything_to_the_survivor_and_deletes_the_duplicate(supervisor_client, supervisor, agent, pair):
    keep, dupe = pair
    # given consents, timeline, leads and accesses on the duplicate
    consent_record(customer=dupe, channel="email", purpose="marketing", granted=True, source="portal")
    timeline_record(customer=dupe, kind="booking.created", summary="Booked AU1 PEK-LHR")
    referral = lead_create(data={"given_name": "Li", "family_name": "Lei", "source": "referral", "referred_by": dupe})
    converted = LeadFactory(status="converted", converted_customer=dupe)
    customer_access_record(customer=dupe, user=agent, surface="office", path="/x")
    # when the supervisor keeps the first record and confirms
    response = supervisor_client.post(merge_url(keep, dupe), {"survivor": keep.customer_number, "confirm": "on"})
    # then they land on the survivor's 360 with a confirmation
    assert response.status_code == 302
    assert response["Location"] == reverse("office:customer_detail", args=[keep.customer_number])
    follow = supervisor_client.get(response["Location"])
    assert "was merged into" in follow.content.decode()
    # and everything moved, blanks were filled and the duplicate is gone
    assert not Customer.objects.filter(pk=dupe.pk).exists()
    assert ConsentEvent.objects.filter(customer=keep).count() == 1
    assert TimelineEntry.objects.filter(customer=keep, kind="booking.created").exists()
    assert Lead.objects.get(pk=referral.pk).referred_by == keep
    assert Lead.objects.get(pk=converted.pk).converted_customer == keep
    assert CustomerAccess.objects.filter(customer=keep, user=agent).exists()
    keep.refresh_from_db()
    assert (str(keep.phone), keep.passport_number, keep.date_of_birth) == ("+8613800138000", "E12345678", dt.date(1990, 5, 17))
    merge = CustomerMerge.objects.get()
    assert (merge.survivor, merge.loser_customer_number, merge.merged_by) == (keep, dupe.customer_number, supervisor)
    # and the survivor's 360 lists the merge
    assert dupe.customer_number in follow.content.decode()


def test_the_supervisor_may_keep_either_record(supervisor_client, pair):
    keep, dupe = pair
    response = supervisor_client.post(merge_url(keep, dupe), {"survivor": dupe.customer_number, "confirm": "on"})
    assert response["Location"] == reverse("office:customer_detail", args=[dupe.customer_number])
    assert list(Customer.objects.all()) == [dupe]


def test_merging_needs_a_confirmation(supervisor_client, pair):
    keep, dupe = pair
    response = supervisor_client.post(merge_url(keep, dupe), {"survivor": keep.customer_number})
    assert response.status_code == 200
    assert "confirm" in response.context["form"].errors
    assert Customer.objects.count() == 2


def test_a_refused_merge_is_explained_and_changes_nothing(supervisor_client, pair):
    # given both records have a portal login
    keep, dupe = pair
    for customer in pair:
        customer.user = UserFactory()
        customer.save(update_fields=["user"])
    # when the supervisor tries to merge them
    response = supervisor_client.post(merge_url(keep, dupe), {"survivor": keep.customer_number, "confirm": "on"})
    # then the service's reason is shown and nothing changed
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html and "Both customers have a portal login" in html
    assert Customer.objects.count() == 2 and CustomerMerge.objects.count() == 0


@pytest.mark.parametrize("survivor", ["", "ZZZZZZZZ", "\x00"])
def test_a_survivor_outside_the_pair_is_refused(supervisor_client, pair, survivor):
    keep, dupe = pair
    response = supervisor_client.post(merge_url(keep, dupe), {"survivor": survivor, "confirm": "on"})
    assert response.status_code == 200 and "survivor" in response.context["form"].errors
    assert Customer.objects.count() == 2


@pytest.mark.parametrize("query", ["", "?a=ZZZZZZZZ&b=YYYYYYYY", "?a=%00&b=x", "?a=" + "A" * 100 + "&b=B"])
def test_unknown_or_missing_customers_are_404(supervisor_client, pair, query):
    assert supervisor_client.get(MERGE + query).status_code == 404
    assert supervisor_client.post(MERGE + query, {"confirm": "on"}).status_code == 404


def test_a_record_cannot_be_merged_with_itself(supervisor_client, pair):
    keep, _dupe = pair
    response = supervisor_client.get(merge_url(keep, keep))
    assert response.status_code == 302 and response["Location"] == DUPLICATES
    response = supervisor_client.post(merge_url(keep, keep), {"survivor": keep.customer_number, "confirm": "on"})
    assert response.status_code == 200 and response.context["form"].errors
    assert Customer.objects.count() == 2


def test_a_merged_record_is_gone_afterwards_and_its_number_leads_to_the_survivor(supervisor_client, pair):
    keep, dupe = pair
    supervisor_client.post(merge_url(keep, dupe), {"survivor": keep.customer_number, "confirm": "on"})
    assert not Customer.objects.filter(pk=dupe.pk).exists()
    survivor_360 = reverse("office:customer_detail", args=[keep.customer_number])
    assert supervisor_client.get(merge_url(keep, dupe))["Location"] == survivor_360
    assert supervisor_client.get(reverse("office:customer_detail", args=[dupe.customer_number]))["Location"] == survivor_360


def test_the_review_checks_a_window_of_the_newest_customers_and_continues_with_older_ones(supervisor_client, db, settings):
    settings.DUPLICATE_REVIEW_WINDOW = 3
    # given two duplicate pairs far apart in time, and a window of three customers
    old = customer_create(data={"given_name": "Ana", "family_name": "Silva", "email": "ana@example.com"})
    old_twin = customer_create(data={"given_name": "Ana", "family_name": "Silva", "email": "ANA@example.com"})
    for i in range(4):
        customer_create(data={"given_name": f"Other{i}", "family_name": "Person"})
    new = customer_create(data={"given_name": "Raj", "family_name": "Patel", "phone": "+442079460958"})
    new_twin = customer_create(data={"given_name": "Rajesh", "family_name": "Patel", "phone": "+44 20 7946 0958"})

    first = selectors.customer_duplicate_candidates()
    assert [(a, b) for a, b, _ in first.pairs] == [(new, new_twin)] and first.scanned == 3
    second = selectors.customer_duplicate_candidates(older_than=first.older_than)
    assert second.pairs == [] and second.older_than is not None
    third = selectors.customer_duplicate_candidates(older_than=second.older_than)
    assert [(a, b, why) for a, b, why in third.pairs] == [(old, old_twin, "same e-mail")]
    assert third.older_than is None  # the oldest customer was in it

    # the page links to the next window and says when every record has been checked
    html = supervisor_client.get(DUPLICATES).content.decode()
    assert "?older_than=" in html and new.customer_number in html and old.customer_number not in html
    last = supervisor_client.get(DUPLICATES, {"older_than": old_twin.pk + 1}).content.decode()
    assert old.customer_number in last and "every record has been checked" in last


@pytest.mark.parametrize("junk", ["abc", "-5", "1" * 40, "１２"])
def test_a_bad_place_in_the_list_starts_from_the_newest_with_a_message(supervisor_client, pair, junk):
    response = supervisor_client.get(DUPLICATES, {"older_than": junk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "does not exist" in html and pair[1].customer_number in html


# --- "Not a duplicate" ------------------------------------------------------------------------

DISTINCT = reverse("office:duplicate_distinct")


def test_a_pair_marked_not_a_duplicate_is_not_proposed_again_and_the_mark_is_audited(supervisor_client, supervisor, pair):
    keep, dupe = pair
    # Given the review proposes Mei's two records
    assert dupe.customer_number in supervisor_client.get(DUPLICATES).content.decode()
    # When the supervisor marks them as two people
    response = supervisor_client.post(DISTINCT, {"a": dupe.customer_number, "b": keep.customer_number}, follow=True)
    # Then the review no longer proposes them, and says who marked them and when
    assert response.redirect_chain == [(DUPLICATES, 302)]
    assert selectors.customer_duplicate_candidates().pairs == []
    mark = DistinctCustomerPair.objects.get()
    assert (mark.older, mark.newer, mark.marked_by, mark.undone_at) == (keep, dupe, supervisor, None)
    html = response.content.decode()
    assert "Marked as not duplicates" in html and supervisor.username in html
    assert "No likely duplicates among these customers." in html
    # And marking them again changes nothing
    supervisor_client.post(DISTINCT, {"a": keep.customer_number, "b": dupe.customer_number})
    assert DistinctCustomerPair.objects.count() == 1


def test_undoing_the_mark_puts_the_pair_back_and_keeps_the_record(supervisor_client, supervisor, pair):
    keep, dupe = pair
    supervisor_client.post(DISTINCT, {"a": keep.customer_number, "b": dupe.customer_number})
    mark = DistinctCustomerPair.objects.get()
    # When the supervisor undoes it
    response = supervisor_client.post(reverse("office:duplicate_distinct_undo", args=[mark.pk]))
    # Then the pair is proposed again, and the mark stays on record as undone, by whom
    assert response.status_code == 302
    assert [(a, b) for a, b, _ in selectors.customer_duplicate_candidates().pairs] == [(keep, dupe)]
    mark.refresh_from_db()
    assert mark.undone_at is not None and mark.undone_by == supervisor
    # And undoing twice is refused with a message, changing nothing
    again = supervisor_client.post(reverse("office:duplicate_distinct_undo", args=[mark.pk]), follow=True)
    assert "already back in the review" in again.content.decode()
    # And it can be marked again
    supervisor_client.post(DISTINCT, {"a": keep.customer_number, "b": dupe.customer_number})
    assert DistinctCustomerPair.objects.filter(undone_at__isnull=True).count() == 1


def test_not_a_duplicate_needs_the_merge_permission_and_two_records(agent_client, supervisor_client, pair):
    keep, dupe = pair
    # An agent may not mark pairs
    assert agent_client.post(DISTINCT, {"a": keep.customer_number, "b": dupe.customer_number}).status_code == 403
    # A record is not marked distinct from itself, and junk numbers change nothing
    supervisor_client.post(DISTINCT, {"a": keep.customer_number, "b": keep.customer_number})
    supervisor_client.post(DISTINCT, {"a": "!!", "b": ""})
    assert not DistinctCustomerPair.objects.exists()
    assert supervisor_client.post(reverse("office:duplicate_distinct_undo", args=[999999])).status_code == 404


def test_the_compare_page_offers_not_a_duplicate(supervisor_client, pair):
    keep, dupe = pair
    html = supervisor_client.get(merge_url(keep, dupe)).content.decode()
    assert f'action="{DISTINCT}"' in html and "Not a duplicate" in html


def test_merging_a_record_marked_distinct_from_another_drops_the_mark(supervisor, pair):
    keep, dupe = pair
    # Given dupe marked distinct from a third record, then merged into keep
    third = customer_create(data={"given_name": "Mei", "family_name": "Wang", "phone": "+8613800138000"})
    customer_pair_mark_distinct(a=dupe, b=third, by=supervisor)
    customer_merge(survivor=keep, loser=dupe, by=supervisor)
    # Then the merge went through and the merged-away record's mark is gone
    assert not Customer.objects.filter(pk=dupe.pk).exists()
    assert not DistinctCustomerPair.objects.exists()
