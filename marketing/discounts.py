"""Promo codes at booking: marketing's discount hook for reservations (``reservations.hooks.DiscountHook``).

``apply`` decides from the draft booking and reads only; ``redeem`` locks the code's row inside
``booking_create``'s transaction, so a single-use code is used once however many bookings race for
it (the losers' bookings roll back with the refusal); ``release`` gives the code back when the hold
lapses or the booking is cancelled before ticketing.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from loyalty.models import Member, MemberStatus
from marketing.models import Offer, OfferKind, PromoCode, PromoCodeStatus
from reservations import hooks
from reservations.models import Booking, Flight
from reservations.pricing import money

NAME = "marketing_promo_codes"


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={"discount_code": [message]})


def _eligible(offer: Offer, lines: tuple[hooks.PriceLine, ...]) -> tuple[list[hooks.PriceLine], str | None]:
    """The fare lines the offer covers, or the refusal code when none is: route first, then cabin."""
    if not (offer.origins or offer.destinations or offer.routes or offer.cabins):
        return list(lines), None
    ends = {
        pk: (origin, destination)
        for pk, origin, destination in Flight.objects.filter(pk__in={line.flight_id for line in lines}).values_list(
            "pk", "origin__iata_code", "destination__iata_code"
        )
    }

    def on_route(line: hooks.PriceLine) -> bool:
        origin, destination = ends.get(line.flight_id, ("", ""))
        if offer.origins and origin not in offer.origins:
            return False
        if offer.destinations and destination not in offer.destinations:
            return False
        return not offer.routes or f"{origin}-{destination}" in offer.routes

    routed = [line for line in lines if on_route(line)]
    if not routed:
        return [], "promo_wrong_route"
    cabined = [line for line in routed if not offer.cabins or line.cabin in offer.cabins]
    if not cabined:
        return [], "promo_wrong_cabin"
    return cabined, None


def _is_member(customer_id: int) -> bool:
    return Member.objects.filter(customer_id=customer_id, status=MemberStatus.ACTIVE).exists()


class PromoCodes:
    """Marketing's promo codes, registered as a discount hook under ``marketing_promo_codes``."""

    def apply(self, *, code: str, draft: hooks.BookingDraft) -> hooks.Discount | None:
        promo = PromoCode.objects.select_related("offer").filter(code=code).first()
        if promo is None:
            return None
        offer, now = promo.offer, timezone.now()
        if promo.status == PromoCodeStatus.REDEEMED:
            raise _refuse(_("This code has already been used."), "promo_used")
        if promo.status == PromoCodeStatus.VOID:
            raise _refuse(_("This code has been withdrawn."), "promo_withdrawn")
        if now < offer.valid_from:
            message = _("This code can be used from %(date)s.") % {"date": date_format(offer.valid_from, "DATE_FORMAT")}
            raise _refuse(message, "promo_not_yet_valid")
        if now >= offer.valid_until:
            raise _refuse(_("This code has expired."), "promo_expired")
        if promo.customer_id is not None and (draft.customer is None or draft.customer.pk != promo.customer_id):
            raise _refuse(_("This code was issued to someone else; sign in as its recipient to use it."), "promo_not_yours")
        if offer.kind == OfferKind.BONUS_MILES and (draft.customer is None or not _is_member(draft.customer.pk)):
            # Credited to the booker's account once the booking is ticketed: without one there is nowhere to credit.
            raise _refuse(
                _("Bonus miles need a frequent flyer number: join the programme, sign in, and use the code again."),
                "promo_needs_member",
            )
        if offer.currency and offer.currency != draft.currency:
            message = _("This code is valid only for bookings paid in %(currency)s.") % {"currency": offer.currency}
            raise _refuse(message, "promo_wrong_currency")
        if offer.minimum_spend and draft.fare_total + draft.taxes_total < offer.minimum_spend:
            message = _("This code needs a booking of at least %(amount)s %(currency)s.") % {
                "amount": offer.minimum_spend,
                "currency": offer.currency,
            }
            raise _refuse(message, "promo_minimum_spend")
        lines, refusal = _eligible(offer, draft.fare_lines)
        if refusal == "promo_wrong_route":
            raise _refuse(_("This code is not valid on these flights."), refusal)
        if refusal == "promo_wrong_cabin":
            raise _refuse(_("This code is not valid in this cabin."), refusal)
        if offer.kind == OfferKind.BONUS_MILES:
            # Nothing off the fare: the code's line on the booking says what it is worth instead.
            miles = int(offer.value)
            return hooks.Discount(
                code=promo.code,
                description=_("Bonus miles: %(miles)s") % {"miles": intcomma(miles)},
                amount=Decimal(0),
                data={"promo_code_id": promo.pk, "bonus_miles": miles},
            )
        covered = sum((line.amount for line in lines), Decimal(0))
        percent = offer.kind == OfferKind.PERCENTAGE
        amount = money(covered * offer.value / Decimal(100)) if percent else min(offer.value, covered)
        if amount <= 0:
            raise _refuse(_("This code takes nothing off these fares."), "promo_nothing_off")
        return hooks.Discount(
            code=promo.code,
            description=_("Promotion: %(name)s") % {"name": offer.name},
            amount=amount,
            data={"promo_code_id": promo.pk},
        )

    def redeem(self, *, discount: hooks.Discount, booking: Booking) -> None:
        promo = PromoCode.objects.select_for_update().filter(pk=discount.data["promo_code_id"]).first()
        if promo is None or promo.status != PromoCodeStatus.ISSUED:
            # Another booking took it between pricing and now: this booking rolls back with the refusal.
            raise _refuse(_("This code has already been used."), "promo_used")
        promo.status = PromoCodeStatus.REDEEMED
        promo.redeemed_booking = booking
        promo.redeemed_record_locator = booking.record_locator
        promo.redeemed_at = timezone.now()
        promo.save(update_fields=["status", "redeemed_booking", "redeemed_record_locator", "redeemed_at"])

    def release(self, *, code: str, booking: Booking) -> None:
        PromoCode.objects.filter(code=code, status=PromoCodeStatus.REDEEMED, redeemed_booking=booking).update(
            status=PromoCodeStatus.ISSUED,
            redeemed_booking=None,
            redeemed_record_locator="",
            redeemed_at=None,
            released_at=timezone.now(),
        )
