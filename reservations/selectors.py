"""Reads shared by the office, the portal, the API and tasks, with the joins each page needs."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from crm.errors import NotFound
from reservations.models import RECORD_LOCATOR_ALPHABET, Booking, BookingPassenger, Segment


def booking_queryset() -> QuerySet[Booking]:
    """Bookings with what every booking page shows: passengers, segments with their flights."""
    return Booking.objects.select_related("customer").prefetch_related(
        Prefetch("passengers", queryset=BookingPassenger.objects.order_by("sequence")),
        Prefetch(
            "segments",
            queryset=Segment.objects.select_related(
                "flight__origin", "flight__destination", "flight__aircraft_type", "fare_family", "booking_class"
            ).order_by("sequence"),
        ),
    )


def normalize_record_locator(text: str) -> str:
    return "".join(text.split()).upper()


def booking_get(*, record_locator: str) -> Booking:
    """For staff (the caller has checked the permission)."""
    locator = normalize_record_locator(record_locator)
    if len(locator) != 6 or any(ch not in RECORD_LOCATOR_ALPHABET for ch in locator):
        raise NotFound("No booking with this reference.")
    booking = booking_queryset().filter(record_locator=locator).first()
    if booking is None:
        raise NotFound("No booking with this reference.")
    return booking


def booking_get_for_passenger(*, user, record_locator: str) -> Booking:  # noqa: ANN001
    """A passenger's own booking: booked by them or with them on it; anyone else's is 'not found'."""
    booking = booking_get(record_locator=record_locator)
    customer = getattr(user, "customer", None) if user and user.is_authenticated else None
    if customer is None:
        raise NotFound("No booking with this reference.")
    if booking.customer_id != customer.pk and not any(p.customer_id == customer.pk for p in booking.passengers.all()):
        raise NotFound("No booking with this reference.")
    return booking


def bookings_for_customer(*, customer) -> QuerySet[Booking]:  # noqa: ANN001
    """Bookings the customer made or travels on, newest first."""
    from django.db.models import Q

    return booking_queryset().filter(Q(customer=customer) | Q(passengers__customer=customer)).distinct()
