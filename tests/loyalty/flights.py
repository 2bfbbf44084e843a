"""Flown coupons made the honest way: booked, paid and ticketed, checked in, and the flight landed,
each through the reservations services.

The clock is moved for each step (booking a day before departure, check-in three hours before,
landing after the scheduled arrival), so a flight of any date can be flown, last week's or last
year's. Landing sends ``flight_arrived`` after commit like in production: in a test whose on-commit
callbacks run (``transaction=True``, or ``django_capture_on_commit_callbacks(execute=True)``) the
loyalty receiver credits the miles at once.

    flown = flown_booking(passengers=[traveller(member_a), traveller(member_b)])
    flown.coupons            # one FLOWN coupon per traveller, in passenger order

For several bookings on one flight: ``long_haul_flight()``, ``checked_in_booking(flight=...)`` for
each, then ``land(flight)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from unittest import mock

from django.utils import timezone

from crm.models import Cabin, Customer
from loyalty.models import Member
from reservations import services
from reservations.events import flight_arrived
from reservations.gateway import CARD_SUCCEEDS
from reservations.models import Booking, BookingClass, BookingPassenger, Channel, Coupon, Flight, PaymentMethod
from reservations.services.reference import great_circle_km
from tests.reservations.factories import (
    AircraftTypeFactory,
    BookingClassFactory,
    FareFamilyFactory,
    FlightFactory,
    RouteFactory,
    airport,
)

_numbers = itertools.count(1)
_keys = itertools.count(1)
# Booking-class letters for the fare families made here (the factories' own use "M").
_CLASSES = "BHKLQSTVWXYZ"


@contextmanager
def accrual_not_announced() -> Iterator[None]:
    """Landings in the block credit nothing by themselves (the loyalty receiver of flight_arrived is off):
    for tests that decide when the accrual runs, or that play a lost task."""
    from loyalty import receivers

    dispatch_uid = "loyalty.accrual.flight_arrived"
    flight_arrived.disconnect(dispatch_uid=dispatch_uid)
    try:
        yield
    finally:
        flight_arrived.connect(receivers.on_flight_arrived, dispatch_uid=dispatch_uid)


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """Every ``timezone.now()`` (and ``localdate()``) in the code under test answers ``moment``."""
    with mock.patch.object(timezone, "now", lambda: moment):
        yield


def big_aircraft():  # noqa: ANN201
    """A single-cabin 360-seat layout (rows 1-60, ABC DEF), for flights with many travellers."""
    return AircraftTypeFactory(
        code="BIG",
        name="Wide-body (test)",
        sections=[{"cabin": Cabin.ECONOMY, "first_row": 1, "last_row": 60, "layout": "ABC DEF"}],
    )


def route(origin: str, destination: str):  # noqa: ANN201
    """The route between two airports, its distance the great-circle kilometres the fares use."""
    o, d = airport(origin), airport(destination)
    km = great_circle_km(float(o.latitude), float(o.longitude), float(d.latitude), float(d.longitude))
    return RouteFactory(origin=o, destination=d, distance_km=km, block_minutes=max(60, km // 12))


def long_haul_flight(origin: str = "LHR", destination: str = "JFK", *, departure: datetime | None = None) -> Flight:
    """A 360-seat flight between two airports, departing ``departure`` (two days ago unless told)."""
    departure = departure or (timezone.now() - timedelta(days=2)).replace(second=0, microsecond=0)
    return FlightFactory(route=route(origin, destination), aircraft_type=big_aircraft(), scheduled_departure=departure)


def fare_family(*, earn_percent: int = 100, code: str = "") -> str:
    """An economy fare family earning ``earn_percent`` of the distance, with its own booking class."""
    code = code or f"ECO_EARN_{earn_percent}"
    family = FareFamilyFactory(code=code, name=code.title(), miles_earn_percent=earn_percent)
    if not family.booking_classes.exists():
        taken = set(BookingClass.objects.values_list("code", flat=True))
        BookingClassFactory(code=next(c for c in _CLASSES if c not in taken), fare_family=family)
    return code


def traveller(member: Member | None = None, *, number: str | None = None, **fields) -> services.PassengerRequest:
    """An adult; with ``member`` they carry that member's name and frequent flyer number (or ``number``)."""
    if member is not None:
        fields.setdefault("given_name", member.customer.given_name)
        fields.setdefault("family_name", member.customer.family_name)
        number = member.number if number is None else number
    serial = next(_numbers)
    fields.setdefault("given_name", f"Guest{serial}")
    fields.setdefault("family_name", "Traveller")
    return services.PassengerRequest(passenger_type="ADT", frequent_flyer_number=number or "", **fields)


def ticketed_booking(
    *,
    flight: Flight,
    passengers: list[services.PassengerRequest],
    earn_percent: int = 100,
    family: str = "",
    customer: Customer | None = None,
) -> Booking:
    """A booking made the day before departure and paid by card: ticketed, each coupon open."""
    family = family or fare_family(earn_percent=earn_percent)
    with clock(flight.scheduled_departure - timedelta(days=1)):
        booking = services.booking_create(
            segments=[services.SegmentRequest(flight_id=flight.pk, cabin=Cabin.ECONOMY, fare_family=family)],
            passengers=passengers,
            contact_email="booker@example.com",
            channel=Channel.PORTAL,
            customer=customer,
        )
        card = services.CardDetails(
            number=CARD_SUCCEEDS, expiry_month=12, expiry_year=timezone.now().year + 2, cvv="737", holder="Booker"
        )
        services.payment_take(booking=booking, method=PaymentMethod.CARD, idempotency_key=f"flown-{next(_keys)}", card=card)
    return booking


def checked_in_booking(
    *,
    flight: Flight,
    passengers: list[services.PassengerRequest],
    earn_percent: int = 100,
    family: str = "",
    customer: Customer | None = None,
) -> Booking:
    """A ticketed booking whose travellers all checked in 3 hours before departure."""
    booking = ticketed_booking(flight=flight, passengers=passengers, earn_percent=earn_percent, family=family, customer=customer)
    with clock(flight.scheduled_departure - timedelta(hours=3)):
        services.check_in(
            booking=booking,
            segment=booking.segments.get(),
            passengers=list(booking.passengers.order_by("sequence")),
            channel=Channel.PORTAL,
        )
    return booking


def land(flight: Flight) -> int:
    """The flight landed 10 minutes after its scheduled arrival: its checked-in coupons are flown."""
    with clock(flight.scheduled_arrival + timedelta(minutes=10)):
        return services.flight_arrive(flight=flight)


@dataclass
class FlownBooking:
    booking: Booking
    flight: Flight
    passengers: list[BookingPassenger]
    coupons: list[Coupon]  # in passenger order


def coupons_of(booking: Booking) -> list[Coupon]:
    return list(
        Coupon.objects.filter(ticket__booking=booking)
        .select_related("ticket__passenger", "segment__flight")
        .order_by("ticket__passenger__sequence", "segment__sequence")
    )


def flown_booking(
    *,
    passengers: list[services.PassengerRequest] | None = None,
    flight: Flight | None = None,
    origin: str = "LHR",
    destination: str = "JFK",
    departure: datetime | None = None,
    earn_percent: int = 100,
    customer: Customer | None = None,
) -> FlownBooking:
    """One booking on one flight, flown: booked, paid, checked in and landed through the services."""
    flight = flight or long_haul_flight(origin, destination, departure=departure)
    booking = checked_in_booking(
        flight=flight, passengers=passengers or [traveller()], earn_percent=earn_percent, customer=customer
    )
    land(flight)
    flight.refresh_from_db()
    return FlownBooking(
        booking=booking,
        flight=flight,
        passengers=list(booking.passengers.order_by("sequence")),
        coupons=coupons_of(booking),
    )
