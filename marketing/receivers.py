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


def _merge_promo_codes(survivor, loser) -> dict[str, int]:  # noqa: ANN001
    from marketing import services

    return services.promo_codes_merge(survivor=survivor, loser=loser)


def _export_promo_codes(customer) -> dict:  # noqa: ANN001
    from marketing import services

    return {"promo_codes": services.promo_codes_export(customer=customer)}


registry.register(
    registry.CustomerExtension(label="promo_codes", exporter=_export_promo_codes, merger=_merge_promo_codes, order=70)
)
