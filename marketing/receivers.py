"""Reactions to other apps' events and this app's customer-record extension.

Static list memberships are the customer's data: they appear in "download my data", go with an erased
customer and move to the survivor of a merge, as promo codes issued to the customer do. Segments hold no
customer: they are rules, read when used.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from crm import registry
from crm.models import Customer
from marketing.models import StaticList, StaticListMember

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


def export_lists(customer: Customer) -> dict[str, Any]:
    rows = StaticListMember.objects.filter(customer=customer).select_related("static_list").order_by("static_list__name")
    return {"static_lists": [{"name": m.static_list.name, "since": m.static_list.created_at.isoformat()} for m in rows]}


def erase_lists(customer: Customer) -> None:
    """An erased customer leaves every list (segments leave them out by themselves)."""
    lists = list(StaticListMember.objects.filter(customer=customer).values_list("static_list_id", flat=True))
    StaticListMember.objects.filter(customer=customer).delete()
    _recount(lists)


def merge_lists(survivor: Customer, loser: Customer) -> dict[str, int]:
    """The duplicate's list places move to the survivor, once per list."""
    already = StaticListMember.objects.filter(customer=survivor).values("static_list_id")
    both = StaticListMember.objects.filter(customer=loser, static_list_id__in=already)
    shared = list(both.values_list("static_list_id", flat=True))
    both.delete()
    _recount(shared)
    return {"static_list_members": StaticListMember.objects.filter(customer=loser).update(customer=survivor)}


def _recount(list_ids: list[int]) -> None:
    """Lists that lost a member show their new size."""
    if not list_ids:
        return
    counts = StaticListMember.objects.filter(static_list=OuterRef("pk")).values("static_list").annotate(n=Count("pk")).values("n")
    StaticList.objects.filter(pk__in=set(list_ids)).update(size=Coalesce(Subquery(counts), 0))


registry.register(
    registry.CustomerExtension(label="marketing", exporter=export_lists, eraser=erase_lists, merger=merge_lists, order=80)
)

registry.register_nav(
    registry.NavItem(
        registry.OFFICE, gettext_lazy("Segments"), "marketing_office:segment_list", ("marketing.view_segment",),
        current=("segment_list", "segment_new", "segment_detail", "segment_edit"), order=61,
    ),
)  # fmt: skip


def _merge_deliveries(survivor, loser) -> dict[str, int]:  # noqa: ANN001
    from marketing import services

    return services.deliveries_merge(survivor=survivor, loser=loser)


def _export_deliveries(customer) -> dict:  # noqa: ANN001
    from marketing import services

    return {"campaign_deliveries": services.deliveries_export(customer=customer)}


registry.register(registry.CustomerExtension(label="deliveries", exporter=_export_deliveries, merger=_merge_deliveries, order=90))


# --- The passenger's marketing preferences ----------------------------------------------------------

registry.register_nav(
    registry.NavItem(
        registry.PORTAL, _("Marketing preferences"), "marketing_portal:marketing_preferences",
        audience=registry.SIGNED_IN, current=("marketing_preferences",), order=65,
    ),
)  # fmt: skip
