"""Every write of the frequent flyer programme and the rules behind it, one module per sub-domain.

Callers write ``services.member_enrol``; the modules below are where each rule lives. Member rows are
locked in primary-key order, always before the ledger is written, so two postings never deadlock and
a balance is never read and written by two transactions at once.
"""

from loyalty.services.adjustments import (
    adjustment_approve,
    adjustment_needs_approval,
    adjustment_reject,
    adjustment_request,
)
from loyalty.services.household import (
    household_create,
    household_debit_plan,
    household_invitation_accept,
    household_invitation_cancel,
    household_invitation_decline,
    household_invite,
    household_leave,
    household_remove,
)
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post, miles_post_many, miles_reverse
from loyalty.services.membership import member_enrol, member_number_check
from loyalty.services.tiers import tier_for_counters, tiers_upgrade
from loyalty.services.transfers import (
    Transfer,
    TransferQuote,
    miles_transfer,
    transfer_fee,
    transfer_quote,
    transfer_sent_this_year,
)

__all__ = [
    "InsufficientMiles",
    "Posting",
    "Transfer",
    "TransferQuote",
    "adjustment_approve",
    "adjustment_needs_approval",
    "adjustment_reject",
    "adjustment_request",
    "household_create",
    "household_debit_plan",
    "household_invitation_accept",
    "household_invitation_cancel",
    "household_invitation_decline",
    "household_invite",
    "household_leave",
    "household_remove",
    "member_enrol",
    "member_number_check",
    "miles_post",
    "miles_post_many",
    "miles_reverse",
    "miles_transfer",
    "tier_for_counters",
    "tiers_upgrade",
    "transfer_fee",
    "transfer_quote",
    "transfer_sent_this_year",
]
