"""What the reservations API tests share: a small fare set, a bookable flight, request bodies, the error shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reservations.models import Flight
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory, FlightFactory, TaxRuleFactory

BOOKINGS = "/api/v1/bookings/"


def fares() -> dict[str, str]:
    """Economy Light and Standard, a fuel surcharge; fare family codes by name."""
    light = FareFamilyFactory(code="ECO_LIGHT", name="Light", rank=1, change_fee=Decimal("80.00"), baggage_pieces=0)
    BookingClassFactory(code="Q", fare_family=light, price_per_km=Decimal("0.1500"), minimum_fare=Decimal("39.00"))
    standard = BookingClassFactory().fare_family
    TaxRuleFactory()
    return {"light": light.code, "standard": standard.code}


def bookable_flight(**kwargs: Any) -> Flight:
    return FlightFactory(**kwargs)


def booking_body(
    flight: Flight, *, fare_family: str = "ECO_STANDARD", passengers: list[dict] | None = None, **extra: Any
) -> dict:
    return {
        "segments": [{"flight_id": flight.pk, "cabin": "economy", "fare_family": fare_family}],
        "passengers": passengers or [{"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace"}],
        "contact_email": "ada@example.com",
        **extra,
    }


def assert_error(response, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
