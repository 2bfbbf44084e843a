"""Every write of the frequent flyer programme and the rules behind it, one module per sub-domain.

Callers write ``services.member_enrol``; the modules below are where each rule lives. Member rows are
locked in primary-key order, always before the ledger is written, so two postings never deadlock and
a balance is never read and written by two transactions at once.
"""

from loyalty.services.fraud import (
    fraud_check_paid_booking,
    fraud_check_partner_velocity,
    fraud_check_redemption,
    fraud_flag_review,
    member_login_changed,
)
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post, miles_post_many, miles_reverse
from loyalty.services.membership import member_enrol, member_number_check
from loyalty.services.partners import (
    MAX_MILES_PER_TRANSACTION,
    Accrual,
    partner_accrual_reverse,
    partner_accrue,
    partner_authenticate,
    partner_create,
    partner_key_issue,
)
from loyalty.services.tiers import tier_for_counters, tiers_upgrade

__all__ = [
    "MAX_MILES_PER_TRANSACTION",
    "Accrual",
    "InsufficientMiles",
    "Posting",
    "fraud_check_paid_booking",
    "fraud_check_partner_velocity",
    "fraud_check_redemption",
    "fraud_flag_review",
    "member_enrol",
    "member_login_changed",
    "member_number_check",
    "miles_post",
    "miles_post_many",
    "miles_reverse",
    "partner_accrual_reverse",
    "partner_accrue",
    "partner_authenticate",
    "partner_create",
    "partner_key_issue",
    "tier_for_counters",
    "tiers_upgrade",
]
