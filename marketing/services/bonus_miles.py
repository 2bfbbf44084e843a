"""Bonus miles offers: a promo code that takes nothing off the fare, and credits miles once the booking is ticketed.

The code is checked at booking (``marketing.discounts``: the booker must be a frequent flyer) and redeemed
with the booking; the miles follow ``booking_ticketed``, posted to the booker's account with the code as the
ledger's idempotency key, so a replayed event or a second run credits nothing more.
"""

from __future__ import annotations

import logging

from loyalty.models import EntryKind, Member, MemberStatus, MilesEntry
from loyalty.services import Posting, miles_post
from marketing.models import OfferKind, PromoCode, PromoCodeStatus
from reservations.models import Booking

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
                key=f"promo:{code.pk}",
                award=int(code.offer.value),
                booking_id=booking.pk,
                details={"name": code.offer.name, "code": code.code, "record_locator": booking.record_locator},
            )
        )
        if entry is not None:
            posted.append(entry)
    return posted
