"""Reactions to other apps' events and this app's customer-record extension."""

from django.utils.translation import gettext_lazy as _

from crm import registry

# --- Offers and promo codes -----------------------------------------------------------------------

registry.register_nav(
    registry.NavItem(
        registry.OFFICE, _("Offers"), "marketing_office:offer_list", permissions=("marketing.view_offer",),
        current=("offer_list", "offer_new", "offer"), order=62,
    ),
)  # fmt: skip
