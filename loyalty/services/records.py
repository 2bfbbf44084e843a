"""The membership as part of the customer record: joining (noted on the timeline), erasure and merge.

crm calls the eraser and the merger through its registry (``loyalty.receivers``), inside its own
transaction: a merge that fails here rolls the whole merge back.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_noop

from crm.events import send_after_commit
from crm.models import Customer, User
from crm.services import timeline_record
from loyalty import events, numbers
from loyalty.models import EntryKind, Household, Member, MemberStatus, StatusMatch
from loyalty.selectors import programme
from loyalty.services.adjustments import adjustments_member_closed
from loyalty.services.household import household_member_closed
from loyalty.services.ledger import Posting, miles_post_many
from loyalty.services.membership import member_enrol
from loyalty.services.status_match import status_matches_member_closed
from reservations.models import BookingPassenger, BookingStatus, Coupon, CouponStatus

MERGED = "merged"


@transaction.atomic
def member_join(*, customer: Customer, channel: str, by: User | None = None) -> tuple[Member, bool]:
    """Enrol the customer (``member_enrol``) and note it on their timeline; returns (member, newly enrolled).

    A customer who is already a member gets their membership back and nothing is noted twice.
    """
    Customer.objects.select_for_update().only("pk").get(pk=customer.pk)
    existed = Member.objects.filter(customer=customer).exists()
    member = member_enrol(customer=customer, channel=channel, by=by)
    if not existed:
        timeline_record(
            customer=customer,
            kind="loyalty.enrolled",
            message=gettext_noop("Joined %(programme)s (number %(number)s)"),
            params={"programme": programme().name, "number": member.number},
            data={"member_number": member.number, "channel": channel},
            actor=by,
        )
    return member, not existed


def _lock_households(*, customer_ids: list[int]) -> None:
    """Lock the households of these customers' memberships first, as the household rules do (household, then
    member), so a merge or an erasure never deadlocks with someone joining or leaving at the same moment."""
    ids = Member.objects.filter(customer_id__in=customer_ids, household__isnull=False).values_list("household_id", flat=True)
    list(Household.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def member_close_for_erasure(*, customer: Customer) -> Member | None:
    """Right to erasure: close the membership and keep the ledger, with nothing personal left beside it.

    The member stays linked to the customer row, which crm anonymises and keeps, so the ledger still
    adds up for finance. Award miles left are cancelled by one entry (no one can spend them any more).
    The member leaves its household: a household it headed passes to its longest-standing active
    member, or is dissolved when none is left (``household_member_closed``); pending invitations go.
    Adjustments and status matches waiting for a supervisor are cancelled (nothing can be posted on a
    closed membership), and the competitor's card number given for a status match is blanked.
    """
    _lock_households(customer_ids=[customer.pk])
    member = Member.objects.select_for_update().filter(customer=customer).first()
    if member is None:
        return None
    if member.award_balance > 0:
        miles_post_many(
            postings=[
                Posting(
                    member_id=member.pk, kind=EntryKind.EXPIRY, reason="account_closed", key=f"closed:{member.pk}",
                    award=-member.award_balance,
                )
            ]
        )  # fmt: skip
        member.refresh_from_db()
    member.status = MemberStatus.CLOSED
    member.save(update_fields=["status"])
    household_member_closed(member=member)
    adjustments_member_closed(member=member)
    status_matches_member_closed(member=member)
    StatusMatch.objects.filter(member=member).update(competitor_number="", note="")
    return member


# Travellers still to fly: a booking on hold, or ticketed with a coupon not yet flown (or given up).
_TO_FLY = (CouponStatus.OPEN, CouponStatus.CHECKED_IN, CouponStatus.BOARDED)


def _travellers_renumber(*, gone: Member, kept: Member) -> int:
    """Put the surviving number on the travellers who still carry the merged-away one, in one UPDATE.

    Only on bookings not finished (held, or ticketed with a coupon still to fly): those are checked at
    check-in, where the merged-away number, no longer an active member's, would refuse the whole party,
    and their coupons earn for the number they carry. A finished trip keeps the number it flew with, as
    history; accrual credits such a coupon to the membership it was merged into.
    """
    still_to_fly = Exists(Coupon.objects.filter(ticket__booking_id=OuterRef("booking_id"), status__in=_TO_FLY))
    return (
        BookingPassenger.objects.exclude(frequent_flyer_number="")
        .alias(typed=numbers.digits_of("frequent_flyer_number"))
        .filter(typed=gone.number)
        .filter(Q(booking__status=BookingStatus.HELD) | (Q(booking__status=BookingStatus.TICKETED) & still_to_fly))
        .update(frequent_flyer_number=kept.number)
    )


@transaction.atomic
def members_merge(*, survivor: Customer, loser: Customer) -> dict[str, int]:
    """Fold the duplicate's membership into the survivor's, so nothing of loyalty points at the duplicate.

    - Only the duplicate is a member: its membership moves to the survivor as it is.
    - Both are: the duplicate's award miles, and its qualifying miles and segments of the period, move
      to the survivor by two transfer entries (keys ``merge:<member>:out`` and ``:in``, so a retried
      merge moves them once, and each balance stays the sum of its entries); the qualifying ones may lift
      the survivor's tier at once (``tiers_upgrade``, run by the ledger), and then the survivor keeps the
      higher of the two tiers. Lifetime miles earned add up too (they are not a balance the ledger sums
      to: transfers never count as earned). The duplicate's membership is closed, marked ``merged_into``
      and unlinked from any customer; memberships merged into it before now point at the survivor, so
      one step always reaches the membership that lives on. Its ledger, claims and decided adjustments
      stay with it, as history.
    - Travellers on bookings still to fly carry the survivor's number from now on (one UPDATE), so
      check-in accepts them and their flights earn; accrual credits any other coupon carrying the
      duplicate's number to the survivor.
    - Its household is not stranded (``household_member_closed``); its pending adjustments and status
      match move to the survivor or are cancelled (``adjustments_member_closed``,
      ``status_matches_member_closed``).

    A fixed number of statements, whatever the number of bookings.
    """
    _lock_households(customer_ids=[survivor.pk, loser.pk])
    members = list(
        Member.objects.select_for_update().filter(customer__in=[survivor.pk, loser.pk]).select_related("tier").order_by("pk")
    )
    kept = next((m for m in members if m.customer_id == survivor.pk), None)
    gone = next((m for m in members if m.customer_id == loser.pk), None)
    if gone is None:
        return {"members": 0, "miles": 0}
    if kept is None:
        gone.customer = survivor
        gone.save(update_fields=["customer"])
        return {"members": 1, "miles": 0}
    moved = gone.award_balance
    # A period's counters can fall below zero (a flight of an earlier period reversed in this one): only
    # what the duplicate earned towards a tier moves.
    qualifying, segments = max(gone.qualifying_miles, 0), max(gone.qualifying_segments, 0)
    if moved or qualifying or segments:
        miles_post_many(
            postings=[
                Posting(
                    member_id=gone.pk, kind=EntryKind.TRANSFER, reason="merge_out", key=f"merge:{gone.pk}:out",
                    award=-moved, qualifying=-qualifying, segments=-segments,
                    counterpart_id=kept.pk, details={"member": kept.number},
                ),
                Posting(
                    member_id=kept.pk, kind=EntryKind.TRANSFER, reason="merge_in", key=f"merge:{gone.pk}:in",
                    award=moved, qualifying=qualifying, segments=segments,
                    counterpart_id=gone.pk, details={"member": gone.number},
                ),
            ]
        )  # fmt: skip
    kept.refresh_from_db()
    if gone.lifetime_miles:
        kept.lifetime_miles += gone.lifetime_miles
        kept.save(update_fields=["lifetime_miles"])
    if gone.tier.rank > kept.tier.rank:
        old = kept.tier.code
        kept.tier, kept.tier_since, kept.tier_valid_until = gone.tier, gone.tier_since, gone.tier_valid_until
        kept.save(update_fields=["tier", "tier_since", "tier_valid_until"])
        send_after_commit(
            events.tier_changed, sender=Member, member_id=kept.pk, customer_id=survivor.pk,
            old_tier=old, new_tier=gone.tier.code, reason=MERGED,
        )  # fmt: skip
    elif (
        gone.tier.rank == kept.tier.rank
        and gone.tier_valid_until
        and (kept.tier_valid_until is None or gone.tier_valid_until > kept.tier_valid_until)
    ):
        kept.tier_valid_until = gone.tier_valid_until
        kept.save(update_fields=["tier_valid_until"])
    gone.status, gone.merged_into, gone.customer = MemberStatus.CLOSED, kept, None
    gone.save(update_fields=["status", "merged_into", "customer"])
    Member.objects.filter(merged_into=gone).update(merged_into=kept)
    household_member_closed(member=gone, survivor=kept)
    adjustments_member_closed(member=gone, survivor=kept)
    status_matches_member_closed(member=gone, survivor=kept)
    travellers = _travellers_renumber(gone=gone, kept=kept)
    return {
        "members": 1, "miles": moved, "qualifying_miles": qualifying, "qualifying_segments": segments,
        "travellers": travellers,
    }  # fmt: skip
