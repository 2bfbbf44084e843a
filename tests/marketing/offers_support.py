"""Offers, codes and bookings for the promo code tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from marketing import services as marketing
from marketing.models import Offer
from reservations import services
from reservations.models import Booking, Channel, Flight


def offer(**overrides: Any) -> Offer:
    now = timezone.now()
    fields = {
        "name": "Spring sale",
        "kind": "percentage",
        "value": Decimal("10"),
        "valid_from": now - timedelta(days=1),
        "valid_until": now + timedelta(days=30),
        **overrides,
    }
    return marketing.offer_create(**fields)


def code_for(offer_: Offer, customer=None) -> str:  # noqa: ANN001
    if customer is not None:
        return marketing.promo_codes_issue(offer=offer_, customers=[customer])[0].code
    return marketing.promo_codes_issue(offer=offer_, count=1)[0].code


def book(
    flight: Flight, *, code: str = "", customer=None, cabin: str = "economy", fare_family: str = "ECO_STANDARD", n: int = 0
) -> Booking:  # noqa: ANN001
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin=cabin, fare_family=fare_family)],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name=f"Ada{n}", family_name="Lovelace")],
        contact_email="ada@example.com",
        channel=Channel.PORTAL,
        customer=customer,
        discount_code=code,
    )
