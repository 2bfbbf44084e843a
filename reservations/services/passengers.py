"""A traveller's details on an existing booking: their frequent flyer number, added, corrected or removed
after booking (on the trip, at check-in, by an agent), checked as at booking."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, NotFound
from crm.models import Customer, User
from crm.services import timeline_record
from reservations import hooks, rules, selectors
from reservations.models import Booking, BookingPassenger, Channel, Coupon, Segment
from reservations.services.common import _is_staff_with

FREQUENT_FLYER_FIELD = "frequent_flyer_number"
FREQUENT_FLYER_MAX = BookingPassenger._meta.get_field(FREQUENT_FLYER_FIELD).max_length
# Staff change a booking's travellers with the permission the office asks for any change to a booking.
CHANGE_TRAVELLERS = "reservations.change_booking"


def _field(passenger_id: int) -> str:
    return f"passengers.{passenger_id}.{FREQUENT_FLYER_FIELD}"


def _may_change(*, by: User | None, booking: Booking, passengers: list[BookingPassenger]) -> None:
    """Staff with the permission; the booker for anyone on the booking; a co-traveller for themselves (and
    the infant on their lap), as ``selectors.booking_reach`` has it. ``by`` None: the caller vouches (the
    online check-in found by reference and family name, which lets its holder check the whole party in)."""
    if by is None:
        return
    if by.is_authenticated and by.is_staff:
        if not _is_staff_with(by, CHANGE_TRAVELLERS):
            raise ApplicationError(_("You may not change this booking's travellers."), code="forbidden", status=403)
        return
    customer = getattr(by, "customer", None) if by.is_authenticated else None
    reach = selectors.booking_reach(booking=booking, customer=customer)
    if reach is None:
        raise NotFound(_("No booking with this reference."))
    if any(not reach.shows(p.pk) for p in passengers):
        reach.require_booker()


def _timeline(*, booking: Booking, passenger: BookingPassenger, before: str, by: User | None, channel: str) -> None:
    """On the booker's timeline and the traveller's own, as other booking changes are."""
    if not before:
        message, change = gettext_noop("Frequent flyer number added for traveller %(sequence)d on booking %(locator)s"), "added"
    elif passenger.frequent_flyer_number:
        message, change = (
            gettext_noop("Frequent flyer number changed for traveller %(sequence)d on booking %(locator)s"),
            "changed",
        )
    else:
        message, change = (
            gettext_noop("Frequent flyer number removed for traveller %(sequence)d on booking %(locator)s"),
            "removed",
        )
    people: dict[int, Customer] = {c.pk: c for c in (booking.customer, passenger.customer) if c is not None}
    for person in people.values():
        timeline_record(
            customer=person,
            kind="booking.frequent_flyer_changed",
            message=message,
            params={"sequence": passenger.sequence, "locator": booking.record_locator},
            data={
                "record_locator": booking.record_locator,
                "passenger": passenger.sequence,
                "change": change,
                "frequent_flyer_number": passenger.frequent_flyer_number,
                "channel": channel,
            },
            actor=by,
        )


def passengers_frequent_flyer_set(
    *, booking: Booking, numbers: Mapping[int, str], by: User | None, channel: str
) -> list[BookingPassenger]:
    """Give travellers of ``booking`` these frequent flyer numbers (by passenger id; "" removes one).

    All or nothing: every new number passes the passenger checks (``hooks.TRAVELLER_UPDATE``: loyalty's
    check digit, active member, family name) before any is saved, and refusals come back together, each
    under ``passengers.<id>.frequent_flyer_number``. A traveller with no flight left to take, on board, or
    on a booking no longer active is refused (``rules.frequent_flyer_refusal``). A number as it already
    was is left alone. Returns the travellers, as saved, in the order asked.
    """
    return _frequent_flyer_set(booking_id=booking.pk, numbers=numbers, by=by, channel=channel)


@transaction.atomic
def _frequent_flyer_set(*, booking_id: int, numbers: Mapping[int, str], by: User | None, channel: str) -> list[BookingPassenger]:
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown channel."), fields={"channel": [_("Unknown channel.")]})
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking_id)
    rows = {
        p.pk: p
        for p in BookingPassenger.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(booking=locked, pk__in=list(numbers))
        .order_by("pk")
    }
    if len(rows) != len(numbers):
        raise NotFound(_("This traveller is not on this booking."))
    passengers = [rows[pk] for pk in numbers]
    _may_change(by=by, booking=locked, passengers=passengers)

    errors: dict[str, list[str]] = {}
    cleaned: dict[int, str] = {}
    for pk, number in numbers.items():
        cleaned[pk] = (number or "").strip()
        if len(cleaned[pk]) > FREQUENT_FLYER_MAX:
            errors[_field(pk)] = [_("A frequent flyer number has at most %(max)d characters.") % {"max": FREQUENT_FLYER_MAX}]
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="invalid_frequent_flyer_number", fields=errors)
    changing = [p for p in passengers if cleaned[p.pk] != p.frequent_flyer_number]
    if not changing:
        return passengers

    coupons = list(Coupon.objects.filter(ticket__booking=locked).select_related("ticket"))
    segments = list(Segment.objects.filter(booking=locked).select_related("flight"))
    for p in changing:
        refusal = rules.frequent_flyer_refusal(booking=locked, passenger=p, coupons=coupons, segments=segments)
        if refusal is not None:
            raise refusal

    before = {p.pk: p.frequent_flyer_number for p in changing}
    for p in changing:
        p.frequent_flyer_number = cleaned[p.pk]
    hooks.passengers_check(passengers=[(f"passengers.{p.pk}", p) for p in changing], booking=locked, stage=hooks.TRAVELLER_UPDATE)
    for p in changing:
        p.save(update_fields=[FREQUENT_FLYER_FIELD])
        _timeline(booking=locked, passenger=p, before=before[p.pk], by=by, channel=channel)
    return passengers


def passenger_frequent_flyer_set(*, passenger: BookingPassenger, number: str, by: User | None, channel: str) -> BookingPassenger:
    """One traveller's number (see ``passengers_frequent_flyer_set``); a refusal names the traveller's own
    field, ``frequent_flyer_number``."""
    own = f"passengers.{passenger.pk}"
    try:
        return _frequent_flyer_set(booking_id=passenger.booking_id, numbers={passenger.pk: number}, by=by, channel=channel)[0]
    except ApplicationError as refused:
        refused.fields = {
            (key.removeprefix(f"{own}.") if key != own else FREQUENT_FLYER_FIELD): messages
            for key, messages in refused.fields.items()
        }
        raise
