"""marketing services; one module per sub-domain, public names re-exported here."""

from marketing.services.campaigns import (
    birthday_campaigns_run,
    campaign_content_check,
    campaign_create,
    campaign_fan_out,
    campaign_recipients,
    campaign_run_start,
    deliveries_export,
    deliveries_merge,
    deliveries_sweep,
    delivery_send,
    unsubscribe,
    unsubscribe_token,
    unsubscribe_token_read,
)
from marketing.services.lists import (
    ImportRejected,
    RowError,
    static_list_import,
)
from marketing.services.offers import (
    offer_create,
    promo_code_new,
    promo_codes_export,
    promo_codes_issue,
    promo_codes_merge,
)
from marketing.services.segments import (
    Preview,
    rules_clean,
    segment_compile,
    segment_create,
    segment_preview,
    segment_recount,
    segment_update,
)

__all__ = [
    "ImportRejected",
    "Preview",
    "RowError",
    "birthday_campaigns_run",
    "campaign_content_check",
    "campaign_create",
    "campaign_fan_out",
    "campaign_recipients",
    "campaign_run_start",
    "deliveries_export",
    "deliveries_merge",
    "deliveries_sweep",
    "delivery_send",
    "offer_create",
    "promo_code_new",
    "promo_codes_export",
    "promo_codes_issue",
    "promo_codes_merge",
    "rules_clean",
    "segment_compile",
    "segment_create",
    "segment_preview",
    "segment_recount",
    "segment_update",
    "static_list_import",
    "unsubscribe",
    "unsubscribe_token",
    "unsubscribe_token_read",
]
