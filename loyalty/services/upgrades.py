"""Upgrading a flight to a higher cabin with miles.

Reservations already moves a party to another fare on the same flight (``booking_change_flight`` with a
fare family of another cabin: seats taken in the new cabin, released in the old, fare difference and
change fee charged, tickets reissued). An upgrade is that change, paid in one go with miles at the award
chart's difference between the two cabins: the miles pay everything the change added, so nothing else
is owed. Change and payment share one transaction: too few miles and nothing moves.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.models import User
from loyalty.services.redemption import (
    UpgradeQuote,
    _not_enough,
    miles_payer,
    miles_spendable,
    upgrade_quote,
)
from reservations import services as reservations
from reservations.models import Booking, FareFamily, Payment, PaymentMethod, Segment, SegmentStatus


def _fare_family_for(cabin: str, code: str | None) -> FareFamily:
    families = FareFamily.objects.filter(cabin=cabin).order_by("rank", "pk")
    family = families.filter(code=code).first() if code else families.first()
    if family is None:
        message = _("There is no fare to upgrade to in this cabin.")
        raise ApplicationError(message, code="fare_unavailable", fields={"fare_family" if code else "cabin": [message]})
    return family


def upgrade_with_miles_quote(*, booking: Booking, segment: Segment, cabin: str, fare_family: str | None = None) -> UpgradeQuote:
    """What the upgrade would cost in miles; refuses a non-member, a lower cabin, a flight not on the booking."""
    miles_payer(booking=booking)
    current = Segment.objects.select_related("flight__route").filter(pk=segment.pk, booking=booking).first()
    if current is None or current.status != SegmentStatus.CONFIRMED:
        message = _("Choose a flight of this booking.")
        raise ApplicationError(message, code="invalid_segment", fields={"segment": [message]})
    family = _fare_family_for(cabin, fare_family)
    return upgrade_quote(booking=booking, segment=current, to_cabin=cabin, infant_percent=family.infant_percent)


def upgrade_with_miles(
    *, booking: Booking, segment: Segment, cabin: str, by: User | None = None, fare_family: str | None = None
) -> Payment:
    """Move ``segment``'s party up to ``cabin`` on the same flight and pay what that adds with the booker's miles.

    Returns the miles payment. Refused before anything changes when the booker is not a member, the
    cabin is not higher, or the miles (pooled for a household's head) are too few; reservations' own
    change rules (cut-off, checked-in travellers, seats in the cabin) refuse the rest.
    """
    quote = upgrade_with_miles_quote(booking=booking, segment=segment, cabin=cabin, fare_family=fare_family)
    member = miles_payer(booking=booking)
    spendable = miles_spendable(member=member)
    if spendable < quote.miles:
        raise _not_enough(quote.miles, spendable)
    family = _fare_family_for(cabin, fare_family)
    with transaction.atomic():
        changed = reservations.booking_change_flight(
            booking=booking, segment=segment, new_flight_id=segment.flight_id, fare_family=family.code, by=by
        )
        upgraded = (
            Segment.objects.filter(booking=changed, flight_id=segment.flight_id, status=SegmentStatus.CONFIRMED)
            .order_by("-pk")
            .first()
        )
        return reservations.payment_take(
            booking=changed,
            method=PaymentMethod.MILES,
            idempotency_key=f"upgrade-{upgraded.pk}",
            details={"upgrade_segment": str(upgraded.pk)},
            by=by,
        )
