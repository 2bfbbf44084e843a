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
from loyalty.services.expiry import (
    Expired,
    expiry_date,
    miles_expire,
    miles_expiry_remind,
)
from loyalty.services.fraud import (
    fraud_check_paid_booking,
    fraud_check_partner_velocity,
    fraud_check_redemption,
    fraud_flag_review,
    member_login_changed,
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
from loyalty.services.ledger import (
    InsufficientMiles,
    Posting,
    miles_post,
    miles_post_many,
    miles_reverse,
)
from loyalty.services.membership import (
    member_enrol,
    member_number_check,
)
from loyalty.services.partners import (
    MAX_MILES_PER_TRANSACTION,
    Accrual,
    partner_accrual_reverse,
    partner_accrue,
    partner_authenticate,
    partner_create,
    partner_key_issue,
)
from loyalty.services.status_match import (
    status_match_approve,
    status_match_reject,
    status_match_request,
)
from loyalty.services.tiers import (
    TierChange,
    TierOutlook,
    add_months,
    current_period_start,
    local_midnight,
    member_notices_record,
    period_end,
    tier_for_counters,
    tier_grant,
    tier_outlook,
    tiers_requalify,
    tiers_upgrade,
    tiers_warn,
    valid_until_after_next,
)
from loyalty.services.transfers import (
    Transfer,
    TransferQuote,
    miles_transfer,
    transfer_fee,
    transfer_quote,
    transfer_sent_this_year,
)

__all__ = [
    "Accrual",
    "Expired",
    "InsufficientMiles",
    "MAX_MILES_PER_TRANSACTION",
    "Posting",
    "TierChange",
    "TierOutlook",
    "Transfer",
    "TransferQuote",
    "add_months",
    "adjustment_approve",
    "adjustment_needs_approval",
    "adjustment_reject",
    "adjustment_request",
    "current_period_start",
    "expiry_date",
    "fraud_check_paid_booking",
    "fraud_check_partner_velocity",
    "fraud_check_redemption",
    "fraud_flag_review",
    "household_create",
    "household_debit_plan",
    "household_invitation_accept",
    "household_invitation_cancel",
    "household_invitation_decline",
    "household_invite",
    "household_leave",
    "household_remove",
    "local_midnight",
    "member_enrol",
    "member_login_changed",
    "member_notices_record",
    "member_number_check",
    "miles_expire",
    "miles_expiry_remind",
    "miles_post",
    "miles_post_many",
    "miles_reverse",
    "miles_transfer",
    "partner_accrual_reverse",
    "partner_accrue",
    "partner_authenticate",
    "partner_create",
    "partner_key_issue",
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
    "transfer_fee",
    "transfer_quote",
    "transfer_sent_this_year",
    "valid_until_after_next",
]
