"""Every write of the frequent flyer programme and the rules behind it, one module per sub-domain.

Callers write ``services.member_enrol``; the modules below are where each rule lives. Member rows are
locked in primary-key order, always before the ledger is written, so two postings never deadlock and
a balance is never read and written by two transactions at once.
"""

from loyalty.services.ledger import InsufficientMiles, Posting, miles_post, miles_post_many, miles_reverse
from loyalty.services.membership import member_enrol, member_number_check
from loyalty.services.records import member_close_for_erasure, member_join, members_merge
from loyalty.services.tiers import tier_for_counters, tiers_upgrade

__all__ = [
    "InsufficientMiles",
    "Posting",
    "member_close_for_erasure",
    "member_enrol",
    "member_join",
    "member_number_check",
    "members_merge",
    "miles_post",
    "miles_post_many",
    "miles_reverse",
    "tier_for_counters",
    "tiers_upgrade",
]
