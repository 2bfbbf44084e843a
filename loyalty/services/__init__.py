"""Every write of the frequent flyer programme and the rules behind it, one module per sub-domain.

Callers write ``services.member_enrol``; the modules below are where each rule lives. Member rows are
locked in primary-key order, always before the ledger is written, so two postings never deadlock and
a balance is never read and written by two transactions at once.
"""

from loyalty.services.expiry import Expired, expiry_date, miles_expire, miles_expiry_remind
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post, miles_post_many, miles_reverse
from loyalty.services.membership import member_enrol, member_number_check
from loyalty.services.status_match import status_match_approve, status_match_reject, status_match_request
from loyalty.services.tiers import (
    TierChange,
    TierOutlook,
    period_end,
    tier_for_counters,
    tier_grant,
    tier_outlook,
    tiers_requalify,
    tiers_upgrade,
    tiers_warn,
    valid_until_after_next,
)

__all__ = [
    "Expired",
    "InsufficientMiles",
    "Posting",
    "TierChange",
    "TierOutlook",
    "expiry_date",
    "member_enrol",
    "member_number_check",
    "miles_post",
    "miles_post_many",
    "miles_expire",
    "miles_expiry_remind",
    "miles_reverse",
    "period_end",
    "status_match_approve",
    "status_match_reject",
    "status_match_request",
    "tier_for_counters",
    "tier_grant",
    "tier_outlook",
    "tiers_requalify",
    "tiers_upgrade",
    "tiers_warn",
    "valid_until_after_next",
]
