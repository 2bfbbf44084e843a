"""What the redemption tests share: the award chart, a member's held booking, paying it with miles."""

from __future__ import annotations

import importlib
import itertools

import pytest
from django.apps import apps

from crm.models import Customer
from loyalty.models import AwardZone
from reservations import services
from reservations.models import Booking, Channel, Flight, Payment, PaymentMethod
from tests.reservations.api_support import bookable_flight, fares
from tests.reservations.factories import RouteFactory, airport

_keys = itertools.count(1)
# LHR-CDG is 348 km (216 miles): the short-haul zone, 7,500 miles a seat in economy; the fuel surcharge is 25.00.
SHORT_HAUL_ECONOMY = 7500


def chart_ensure() -> None:
    """The chart the migration seeds (a transactional test's flush empties it)."""
    if not AwardZone.objects.exists():
        importlib.import_module("loyalty.migrations.0006_award_chart").seed_chart(apps, None)


@pytest.fixture(name="chart")
def chart_fixture(db):
    chart_ensure()


@pytest.fixture(name="flight")
def flight_fixture(chart) -> Flight:
    fares()
    return bookable_flight()


def long_flight(distance_km: int, destination: str = "JFK") -> Flight:
    route = RouteFactory(origin=airport("LHR"), destination=airport(destination), distance_km=distance_km, block_minutes=480)
    return bookable_flight(route=route)


def held_booking(customer: Customer | None, flight: Flight, *, passengers: list[services.PassengerRequest] | None = None,
                 fare_family: str = "ECO_STANDARD", cabin: str = "economy") -> Booking:  # fmt: skip
    """The customer's held booking of ``flight``; they travel alone unless ``passengers`` says otherwise."""
    party = passengers or [
        services.PassengerRequest(
            passenger_type="ADT", given_name=customer.given_name if customer else "Ada",
            family_name=customer.family_name if customer else "Lovelace",
        )
    ]  # fmt: skip
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin=cabin, fare_family=fare_family)],
        passengers=party,
        contact_email="booker@example.com",
        channel=Channel.PORTAL,
        customer=customer,
    )


def pay_miles(booking: Booking, *, by=None, amount=None) -> Payment:  # noqa: ANN001
    return services.payment_take(
        booking=booking, method=PaymentMethod.MILES, idempotency_key=f"miles-{next(_keys)}", amount=amount, by=by
    )


def pay_card(booking: Booking, *, by=None) -> Payment:  # noqa: ANN001
    from django.utils import timezone

    from reservations.gateway import CARD_SUCCEEDS

    card = services.CardDetails(
        number=CARD_SUCCEEDS, expiry_month=12, expiry_year=timezone.localdate().year + 2, cvv="737", holder="ADA LOVELACE"
    )
    return services.payment_take(
        booking=booking, method=PaymentMethod.CARD, idempotency_key=f"card-{next(_keys)}", card=card, by=by
    )
