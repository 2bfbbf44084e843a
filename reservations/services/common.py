"""Small helpers every reservations service shares: who acted, whose timeline a booking belongs on."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError
from crm.models import Customer, User
from crm.services import timeline_record
from crm.timeline import label
from reservations import pricing, rules
from reservations.models import (
    Airport,
    Booking,
    ChargeKind,
    Coupon,
    Flight,
    FlightCabin,
)
from reservations.rules import ACTIVE_BOOKING as ACTIVE_BOOKING
from reservations.rules import BOOKING_CUTOFF as BOOKING_CUTOFF
from reservations.rules import FLIGHT_CLOSED as FLIGHT_CLOSED
from reservations.rules import LIVE_COUPONS as LIVE_COUPONS
from reservations.services.inventory import _lock_inventory


def _is_staff_with(user: User | None, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff and user.has_perm(perm))


def _actor(user: User | None) -> User | None:
    return user if user is not None and user.is_authenticated else None


def _people(booking: Booking) -> list[Customer]:
    """The booker and every traveller with a customer record: whose timeline a booking event belongs on."""
    travellers = Customer.objects.filter(trips__booking=booking).distinct()
    found = {c.pk: c for c in [booking.customer, *travellers] if c is not None}
    return list(found.values())


def _booker_timeline(
    booking: Booking, *, kind: str, message: str, params: dict, data: dict | None = None, by: User | None = None
) -> None:
    if booking.customer_id:
        timeline_record(
            customer=booking.customer,
            kind=kind,
            message=message,
            params=params,
            data={"record_locator": booking.record_locator, **(data or {})},
            actor=by,
        )


MAX_SEATS = 9


MIN_CONNECTION = timedelta(minutes=45)


def connection_time(*, landing: Flight, leaving: Flight) -> timedelta:
    """The least time between two flights of one booking: a change of flights at one airport takes that
    airport's minimum connecting time, anything else ``MIN_CONNECTION``. Load both flights' airports."""
    if leaving.origin_id == landing.destination_id:
        return rules.minimum_connection(leaving.origin)
    return MIN_CONNECTION


# Fare value carried by a segment: what was charged for flying it, less what was credited back.
FARE_VALUE_KINDS = (ChargeKind.FARE, ChargeKind.FARE_DIFFERENCE, ChargeKind.CREDIT, ChargeKind.DISCOUNT)


def booking_total_recompute(*, booking: Booking) -> Booking:
    """The booking total is the sum of its charges; call after adding or removing one."""
    total = sum((c.amount for c in booking.charges.all()), Decimal(0))
    booking.total_amount = pricing.money(total)
    booking.save(update_fields=["total_amount", "updated_at"])
    return booking


def _lock_for_change(*, booking: Booking, flights: list[tuple[int, str]]) -> tuple[dict[tuple[int, str], FlightCabin], Booking]:
    """Flight cabins first (by primary key), then the booking: the order every writer follows."""
    inventory = _lock_inventory(wanted=flights)
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking.pk)
    return inventory, locked


def _coupons_of(booking: Booking) -> list[Coupon]:
    return list(Coupon.objects.filter(ticket__booking=booking).select_related("ticket"))


def _waiver_reason(*, by: User | None, waive_reason: str) -> str:
    """A fee waiver needs the Supervisor's permission and a reason; the reason is the audit trail."""
    if not waive_reason:
        return ""
    reason = waive_reason.strip()
    if not reason:
        message = _("Give the reason for waiving the fee.")
        raise ApplicationError(message, code="waiver_reason_required", fields={"waive_reason": [message]})
    if not _is_staff_with(by, "reservations.waive_fees"):
        raise ApplicationError(_("Only a supervisor can waive fees."), code="forbidden", status=403)
    return reason[:300]


def _waiver_audit(*, booking: Booking, amount: Decimal, kind: str, reason: str, by: User | None) -> None:
    if booking.customer_id:
        timeline_record(
            customer=booking.customer,
            kind="booking.fee_waived",
            message=gettext_noop("%(fee)s of %(amount)s %(currency)s waived on booking %(locator)s: %(reason)s"),
            params={
                "fee": label("reservations.charge_kind", str(kind)),
                "amount": str(amount),
                "currency": booking.currency,
                "locator": booking.record_locator,
                "reason": reason,
            },
            data={"record_locator": booking.record_locator, "fee": kind, "amount": str(amount), "reason": reason},
            actor=by,
        )


def _local(moment: datetime, airport: Airport) -> str:
    return moment.astimezone(ZoneInfo(airport.time_zone)).strftime("%Y-%m-%d %H:%M")
