"""What the portal trip tests share: the airline's fares, flights at known times, the search and booking steps."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from reservations import services
from reservations.models import Booking, Flight
from tests.reservations.factories import FlightFactory, RouteFactory, airport

SEARCH = "/flights/"
TEST_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


@pytest.fixture(name="fares")
def fares_fixture(db):
    """The airline's real fare families, booking classes and taxes (Light / Standard / Flex)."""
    services.fares_ensure()


def departure_in(days: int, hour: int = 9, minute: int = 0) -> datetime:
    return (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def make_flight(
    origin: str = "LHR", destination: str = "CDG", *, at: datetime | None = None, minutes: int = 75, **kwargs: Any
) -> Flight:
    route = RouteFactory(origin=airport(origin), destination=airport(destination), block_minutes=minutes)
    at = at or departure_in(3)
    return FlightFactory(route=route, scheduled_departure=at, scheduled_arrival=at + timedelta(minutes=minutes), **kwargs)


def search_params(
    out: Flight, back: Flight | None = None, *, adults: int = 1, children: int = 0, infants: int = 0, sort: str = "price"
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "trip_type": "round_trip" if back else "one_way",
        "origin": out.origin.iata_code,
        "destination": out.destination.iata_code,
        "departure_date": out.service_date.isoformat(),
        "adults": adults,
        "children": children,
        "infants": infants,
        "cabin": "economy",
        "sort": sort,
    }
    if back is not None:
        params["return_date"] = back.service_date.isoformat()
    return params


def book_url(params: dict[str, Any], *picks: tuple[Flight, str]) -> str:
    """The passengers page for these (flight, fare family code) choices, as the results form submits it."""
    chosen = {f"leg{n}": f"{flight.pk}:{family}" for n, (flight, family) in enumerate(picks, start=1)}
    return f"/book/?{urlencode({**params, **chosen})}"


def adult(n: int, given: str, family: str, **extra: str) -> dict[str, str]:
    return {f"p{n}-given_name": given, f"p{n}-family_name": family, **{f"p{n}-{k}": v for k, v in extra.items()}}


def infant(n: int, given: str, family: str, born: date | None = None) -> dict[str, str]:
    born = born or timezone.localdate() - timedelta(days=300)
    return adult(n, given, family, date_of_birth=born.isoformat())


def hold(client: Client, url: str, data: dict[str, str]) -> Booking:
    """Submit the passengers page and return the held booking whose seat choice (then payment) it leads to."""
    response = client.post(url, {"contact_email": "traveller@example.com", **data})
    assert response.status_code == 302, response.content.decode()[:3000]
    locator = re.search(r"/trips/([A-Z0-9]{6})/flights/1/seats/", response["Location"]).group(1)
    return Booking.objects.get(record_locator=locator)


def pay_form(client: Client, booking: Booking) -> dict[str, str]:
    """The payment form as rendered: its one-time key, ready for card details."""
    page = client.get(f"/trips/{booking.record_locator}/pay/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    return {"idempotency_key": key, "expiry": "12/30", "cvv": "123", "holder": "ADA LOVELACE"}
