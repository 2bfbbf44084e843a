"""Reactions to other apps' events and this app's customer-record extension.

Static list memberships are the customer's data: they appear in "download my data", go with an erased
customer and move to the survivor of a merge, as promo codes issued to the customer do. Segments hold no
customer: they are rules, read when used.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.dispatch import receiver
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from crm import events as crm_events
from crm import registry
from crm.celery import task_enqueue
from crm.models import Customer
from crm.permissions import MARKETER
from loyalty import events as loyalty_events
from marketing.models import StaticList, StaticListMember
from reservations import events as reservations_events

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


# --- Campaigns at the office: a marketer's office home is the campaign list ---

registry.register_nav(
    registry.NavItem(
        registry.OFFICE, _("Campaigns"), "marketing_office:campaign_list", ("marketing.view_campaign",),
        current=("campaign_list", "campaign_new", "campaign_detail", "campaign_edit", "campaign_preview"), order=61,
        home_for=(MARKETER,),
    ),
    registry.NavItem(
        registry.OFFICE, _("Calendar"), "marketing_office:calendar", ("marketing.view_campaign",), current=("calendar",),
        order=63,
    ),
)  # fmt: skip


# --- Conversions: a ticketed booking may be what a campaign led to ---------------------------------


@receiver(reservations_events.booking_ticketed, dispatch_uid="marketing.conversion.booking_ticketed")
def _booking_ticketed(sender, *, booking_id: int, **payload) -> None:  # noqa: ANN001, ANN003
    """Credited on the campaigns queue: the event is already committed, so the task is queued now."""
    task_enqueue("marketing.tasks.conversion_record", booking_id=booking_id)


registry.register_nav(
    registry.NavItem(
        registry.OFFICE, _("Campaign results"), "marketing_office:results_overview", permissions=("marketing.view_campaign",),
        current=("results_overview", "campaign_results"), order=65,
    ),
)  # fmt: skip
# --- Triggered campaigns: each event queues a task on the campaigns queue, which starts the runs ---


@receiver(crm_events.customer_verified, dispatch_uid="marketing.triggers.customer_verified")
def welcome_on_verified(sender, *, customer_id: int, **_payload: Any) -> None:  # noqa: ANN001
    """The welcome goes when the e-mail is proved (a real address, and consent can have been given), not at sign-up."""
    task_enqueue("marketing.tasks.campaign_triggers_fire", trigger="registered", customer_ids=[customer_id])


@receiver(reservations_events.booking_ticketed, dispatch_uid="marketing.triggers.booking_ticketed")
def cross_sell_on_ticketed(sender, *, booking_id: int, **_payload: Any) -> None:  # noqa: ANN001
    task_enqueue("marketing.tasks.triggers_on_booking_ticketed", booking_id=booking_id)


@receiver(reservations_events.flight_arrived, dispatch_uid="marketing.triggers.flight_arrived")
def flown_on_arrival(sender, *, coupon_ids: list[int], **_payload: Any) -> None:  # noqa: ANN001
    if coupon_ids:
        task_enqueue("marketing.tasks.triggers_on_flight_arrived", coupon_ids=coupon_ids)


@receiver(loyalty_events.tier_changed, dispatch_uid="marketing.triggers.tier_changed")
def on_tier_changed(sender, *, customer_id: int | None, **_payload: Any) -> None:  # noqa: ANN001
    if customer_id is not None:
        task_enqueue("marketing.tasks.campaign_triggers_fire", trigger="tier_changed", customer_ids=[customer_id])


@receiver(loyalty_events.miles_expiring, dispatch_uid="marketing.triggers.miles_expiring")
def on_miles_expiring(sender, *, customer_id: int | None, **_payload: Any) -> None:  # noqa: ANN001
    if customer_id is not None:
        task_enqueue("marketing.tasks.campaign_triggers_fire", trigger="miles_expiring", customer_ids=[customer_id])


# --- Next best offer: a panel of the customer 360, for whoever may see the customer ---


def next_best_offer_panel(request, customer: Customer) -> registry.Panel | None:  # noqa: ANN001
    from marketing import services

    if not request.user.has_perm("crm.view_customer") or customer.anonymized_at is not None:
        return None
    recommendation = services.next_best_offer(customer=customer)
    reason = services.recommendation_reason_text(recommendation.reason, recommendation.data) if recommendation else ""
    return registry.Panel(
        title=str(_("Next best offer")),
        template="office/marketing/panels/next_best_offer.html",
        context={"recommendation": recommendation, "reason": reason},
        order=85,
    )


registry.register(registry.CustomerExtension(label="next_best_offer", panel=next_best_offer_panel, order=85))


@receiver(reservations_events.booking_ticketed, dispatch_uid="marketing.bonus_miles.booking_ticketed")
def bonus_miles_on_ticketed(sender, *, booking_id: int, **_payload: Any) -> None:  # noqa: ANN001
    """A bonus-miles code used on the booking is credited once it is ticketed (paid), not when merely held."""
    task_enqueue("marketing.tasks.bonus_miles_credit", booking_id=booking_id)


@receiver(reservations_events.booking_cancelled, dispatch_uid="marketing.bonus_miles.booking_cancelled")
def bonus_miles_on_cancelled(sender, *, booking_id: int, reason: str, **_payload: Any) -> None:  # noqa: ANN001
    """Cancelled by the customer: the bonus was for a trip no longer taken. The airline's own cancellation keeps it."""
    if reason == "voluntary":
        task_enqueue("marketing.tasks.bonus_miles_reverse", booking_id=booking_id)


# --- The passenger's marketing preferences ----------------------------------------------------------

registry.register_nav(
    registry.NavItem(
        registry.PORTAL, _("Marketing preferences"), "marketing_portal:marketing_preferences",
        audience=registry.SIGNED_IN, current=("marketing_preferences",), order=65,
    ),
)  # fmt: skip
