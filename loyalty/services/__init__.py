"""Every write of the frequent flyer programme and the rules behind it, one module per sub-domain.

Callers write ``services.member_enrol``; the modules below are where each rule lives. Member rows are
locked in primary-key order, always before the ledger is written, so two postings never deadlock and
a balance is never read and written by two transactions at once.
"""

from loyalty.services.accrual import (
    coupon_key,
    distance_miles,
    miles_accrual_sweep,
    miles_accrue_for_coupons,
    miles_accrue_for_flight,
    miles_for_segment,
)
from loyalty.services.claims import ClaimRefused, refusal_message, retro_claim_submit
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post, miles_post_many, miles_reverse
from loyalty.services.membership import member_enrol, member_number_check
from loyalty.services.tiers import tier_for_counters, tiers_upgrade

__all__ = [
    "ClaimRefused",
    "InsufficientMiles",
    "Posting",
    "coupon_key",
    "distance_miles",
    "member_enrol",
    "member_number_check",
    "miles_accrual_sweep",
    "miles_accrue_for_coupons",
    "miles_accrue_for_flight",
    "miles_for_segment",
    "miles_post",
    "miles_post_many",
    "miles_reverse",
    "refusal_message",
    "retro_claim_submit",
    "tier_for_counters",
    "tiers_upgrade",
]
