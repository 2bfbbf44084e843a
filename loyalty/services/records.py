"""The membership as part of the customer record: joining (noted on the timeline), erasure and merge.

crm calls the eraser and the merger through its registry (``loyalty.receivers``), inside its own
transaction: a merge that fails here rolls the whole merge back.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from crm.events import send_after_commit
from crm.models import Customer, User
from crm.services import timeline_record
from loyalty import events
from loyalty.models import EntryKind, Household, HouseholdInvitation, Member, MemberStatus, StatusMatch
from loyalty.selectors import programme
from loyalty.services.ledger import Posting, miles_post_many
from loyalty.services.membership import member_enrol

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
            summary=_("Joined %(programme)s (number %(number)s)") % {"programme": programme().name, "number": member.number},
            data={"member_number": member.number, "channel": channel},
            actor=by,
        )
    return member, not existed


@transaction.atomic
def member_close_for_erasure(*, customer: Customer) -> Member | None:
    """Right to erasure: close the membership and keep the ledger, with nothing personal left beside it.

    The member stays linked to the customer row, which crm anonymises and keeps, so the ledger still
    adds up for finance. Award miles left are cancelled by one entry (no one can spend them any more),
    the member leaves any household it does not head, pending invitations go, and the competitor's card
    number given for a status match is blanked.
    """
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
    if member.household_id and not Household.objects.filter(head=member).exists():
        member.household = None
    member.save(update_fields=["status", "household"])
    HouseholdInvitation.objects.filter(member=member, accepted_at__isnull=True).delete()
    StatusMatch.objects.filter(member=member).update(competitor_number="", note="")
    return member


@transaction.atomic
def members_merge(*, survivor: Customer, loser: Customer) -> dict[str, int]:
    """Fold the duplicate's membership into the survivor's, so nothing of loyalty points at the duplicate.

    - Only the duplicate is a member: its membership moves to the survivor as it is.
    - Both are: the duplicate's award miles move to the survivor by two transfer entries (keys
      ``merge:<member>:out`` and ``:in``, so a retried merge moves them once), the survivor keeps the
      higher of the two tiers, and the duplicate's membership is closed, marked ``merged_into`` and
      unlinked from any customer. Its ledger, claims and adjustments stay with it, as history.
    """
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
    if moved:
        miles_post_many(
            postings=[
                Posting(
                    member_id=gone.pk, kind=EntryKind.TRANSFER, reason="merge_out", key=f"merge:{gone.pk}:out",
                    award=-moved, counterpart_id=kept.pk, details={"member": kept.number},
                ),
                Posting(
                    member_id=kept.pk, kind=EntryKind.TRANSFER, reason="merge_in", key=f"merge:{gone.pk}:in",
                    award=moved, counterpart_id=gone.pk, details={"member": gone.number},
                ),
            ]
        )  # fmt: skip
    kept.refresh_from_db()
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
    return {"members": 1, "miles": moved}
