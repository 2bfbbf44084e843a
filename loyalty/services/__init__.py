"""Every write of the frequent flyer programme and the rules behind it, one module per sub-domain.

Callers write ``services.member_enrol``; the modules below are where each rule lives. Member rows are
locked in primary-key order, always before the ledger is written, so two postings never deadlock and
a balance is never read and written by two transactions at once.
"""

from loyalty.services.ledger import InsufficientMiles, Posting, miles_post, miles_post_many, miles_reverse
from loyalty.services.membership import member_enrol, member_number_check
from loyalty.services.redemption import (
    AwardQuote,
    UpgradeQuote,
    award_quote,
    miles_payer,
    miles_pool,
    miles_redeem,
    miles_refund,
    miles_spendable,
    upgrade_quote,
)
from loyalty.services.tiers import tier_for_counters, tiers_upgrade

__all__ = [
    "AwardQuote",
    "InsufficientMiles",
    "Posting",
    "UpgradeQuote",
    "award_quote",
    "member_enrol",
    "member_number_check",
    "miles_post",
    "miles_post_many",
    "miles_payer",
    "miles_pool",
    "miles_redeem",
    "miles_refund",
    "miles_reverse",
    "miles_spendable",
    "tier_for_counters",
    "tiers_upgrade",
    "upgrade_quote",
]
