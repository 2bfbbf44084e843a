"""Bonus miles offers: a promo code that takes nothing off the fare, and credits miles once the booking is ticketed.

The code is checked at booking (``marketing.discounts``: the booker must be a frequent flyer) and redeemed
with the booking; the miles follow ``booking_ticketed``, posted to the booker's account with the code as the
ledger's idempotency key, so a replayed event or a second run credits nothing more. A sweep credits those
whose task the broker lost; a booking the customer cancels after ticketing gives the miles back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from loyalty.models import EntryKind, Member, MemberStatus, MilesEntry
from loyalty.services import InsufficientMiles, Posting, miles_post, miles_reverse
from marketing.models import OfferKind, PromoCode, PromoCodeStatus
from reservations.models import Booking, BookingStatus

logger = logging.getLogger(__name__)


def bonus_miles_credit_for_booking(*, booking_id: int) -> list[MilesEntry]:
    """Credit the bonus miles of every bonus-miles code the ticketed booking redeemed; the entries posted now."""
    booking = Booking.objects.filter(pk=booking_id).only("pk", "customer_id", "record_locator").first()
    if booking is None:
        return []
    codes = list(
        PromoCode.objects.select_related("offer").filter(
            redeemed_booking_id=booking.pk, status=PromoCodeStatus.REDEEMED, offer__kind=OfferKind.BONUS_MILES
        )
    )
    if not codes:
        return []
    member = (
        Member.objects.filter(customer_id=booking.customer_id, status=MemberStatus.ACTIVE).first()
        if booking.customer_id
        else None
    )
    if member is None:
        # Checked at booking; a membership closed since leaves nowhere to credit.
        logger.warning("booking %s used bonus miles codes but its customer is no member", booking.record_locator)
        return []
    posted = []
    for code in codes:
        entry = miles_post(
            posting=Posting(
                member_id=member.pk,
                kind=EntryKind.BONUS,
                reason="promotion",
                key=_key(code.pk),
                award=int(code.offer.value),
                booking_id=booking.pk,
                details={"name": code.offer.name, "code": code.code, "record_locator": booking.record_locator},
            )
        )
        if entry is not None:
            posted.append(entry)
    return posted


def _key(promo_code_id: int) -> str:
    return f"promo:{promo_code_id}"


def bonus_miles_sweep(*, days: int = 30) -> int:
    """Credit the bonus miles of ticketed bookings whose credit never came (its task lost); the bookings credited."""
    credited = MilesEntry.objects.filter(idempotency_key=Concat(Value("promo:"), Cast(OuterRef("pk"), output_field=CharField())))
    booking_ids = list(
        PromoCode.objects.filter(
            status=PromoCodeStatus.REDEEMED,
            offer__kind=OfferKind.BONUS_MILES,
            redeemed_booking__status=BookingStatus.TICKETED,
            redeemed_at__gte=timezone.now() - timedelta(days=days),
        )
        .exclude(Exists(credited))
        .order_by("redeemed_booking_id")
        .values_list("redeemed_booking_id", flat=True)
        .distinct()[:1000]
    )
    return sum(bool(bonus_miles_credit_for_booking(booking_id=pk)) for pk in booking_ids)


def bonus_miles_reverse_for_booking(*, booking_id: int) -> list[MilesEntry]:
    """The customer cancelled the ticketed booking: the bonus miles its codes earned go back (once each)."""
    codes = PromoCode.objects.filter(redeemed_booking_id=booking_id, offer__kind=OfferKind.BONUS_MILES).values_list(
        "pk", flat=True
    )
    reversed_ = []
    for entry in MilesEntry.objects.filter(idempotency_key__in=[_key(pk) for pk in codes], kind=EntryKind.BONUS):
        try:
            reversal = miles_reverse(entry=entry, reason="booking_cancelled", details={"booking_id": booking_id})
        except InsufficientMiles:
            # Already spent: the ledger never goes below zero; the miles stay, as for any spent credit.
            logger.warning("bonus miles entry %s already spent; not reversed", entry.pk)
            continue
        if reversal is not None:
            reversed_.append(reversal)
    return reversed_
