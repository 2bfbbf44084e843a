"""Never a 500 from the reservations API: malformed bodies, queries, ids, methods and media, for every
endpoint, as a passenger who owns the booking, as staff and anonymously; every 4xx in the one error shape.
"""

from __future__ import annotations

import json

import pytest

from reservations import services
from reservations.models import Booking, Channel, FlightCabin, Payment
from tests.crm.test_api_errors import BODIES, QUERIES, _fire, assert_error_shape
from tests.reservations.api_support import bookable_flight, fares

JSON = "application/json"
KEYS = (
    "segments", "passengers", "contact_email", "contact_phone", "purpose", "customer", "method", "amount", "card",
    "voucher_code", "idempotency_key", "reason", "waive_reason", "segment", "passenger", "seat", "seats", "bags",
)  # fmt: skip
RESERVATION_BODIES = {
    **BODIES,
    "nulls everywhere (reservations)": (json.dumps(dict.fromkeys(KEYS)).encode(), JSON),
    "objects everywhere (reservations)": (json.dumps({k: {"$gt": ""} for k in KEYS}).encode(), JSON),
    "arrays everywhere (reservations)": (json.dumps({k: [1, [2]] for k in KEYS}).encode(), JSON),
    "huge numbers": (json.dumps(dict.fromkeys(KEYS, 10**30)).encode(), JSON),
    "huge strings (reservations)": (json.dumps(dict.fromkeys(KEYS, "x" * 100_000)).encode(), JSON),
    "NUL characters (reservations)": (json.dumps(dict.fromkeys(KEYS, "a\u0000b")).encode(), JSON),
    "nested junk": (
        json.dumps(
            {
                "segments": [{"flight_id": "1e400", "cabin": None, "fare_family": {"a": 1}}, None, 5, "x"],
                "passengers": [
                    {
                        "passenger_type": "ADT",
                        "given_name": "\u0000",
                        "family_name": ["x"],
                        "assistance": "WCHR",
                        "date_of_birth": "1990-02-30",
                        "nationality": "ZZ",
                        "document_expiry": 5,
                    },
                    [],
                    None,
                ],
                "card": {"number": "4242 4242 4242 4242", "expiry_month": 13, "expiry_year": -1, "cvv": None, "holder": ""},
                "method": "card",
                "amount": "-1",
                "idempotency_key": "\u00e9\u00e9",
                "passenger": -1,
                "segment": 10**20,
                "seat": "99Z",
                "seats": [{"passenger": 1}],
                "bags": [{"passenger": 1, "weights_kg": ["NaN", "Infinity", -5]}],
            }
        ).encode(),
        JSON,
    ),  # fmt: skip
    "too many passengers": (
        json.dumps(
            {
                "segments": [{"flight_id": 1, "cabin": "economy", "fare_family": "ECO_STANDARD"}],
                "passengers": [{"passenger_type": "ADT", "given_name": "A", "family_name": "B"}] * 500,
                "contact_email": "a@example.com",
            }
        ).encode(),
        JSON,
    ),
}

ENDPOINTS = [
    ("get", "/api/v1/flights/search/"),
    ("get", "/api/v1/flights/{flight}/seat-map/"),
    ("get", "/api/v1/flight-status/"),
    ("get", "/api/v1/bookings/"),
    ("post", "/api/v1/bookings/"),
    ("get", "/api/v1/bookings/{booking}/"),
    ("post", "/api/v1/bookings/{booking}/payments/"),
    ("post", "/api/v1/bookings/{booking}/cancel/"),
    ("post", "/api/v1/bookings/{booking}/seats/"),
    ("post", "/api/v1/bookings/{booking}/check-in/"),
    ("get", "/api/v1/bookings/{booking}/boarding-passes/"),
]
RESERVATION_QUERIES = [
    *QUERIES,
    "origin=%00&destination=%00&date=%00", "origin=LHR&destination=CDG&date=2026-01-01&adults=99999999999999999999",
    "origin=LHR&destination=CDG&date=9999-12-31", "origin=LHR&destination=CDG&date=0001-01-01&infants=-1",
    "flight=AU1&date=2026-01-01", "flight=%00&date=%00", "flight=AU99999999&date=2026-01-01", "cabin=%00", "status=%00",
]  # fmt: skip
BAD_LOCATORS = ["ZZZZZZ", "%00", "%ED%A0%80", "A" * 5000, "ÄÖÜÄÖÜ", "..", "a.b", "1%20OR%201=1", "-1", "0OIL1I"]
BAD_FLIGHT_IDS = ["0", "-1", "abc", "99999999999999999999999", "1e5", "%00", "1.5", " 1"]


pytestmark = pytest.mark.usefixtures("generous_throttles")


@pytest.fixture
def objects(passenger):
    fares()
    flight = bookable_flight()
    booking = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Own", family_name="Booking")],
        contact_email="own@example.com",
        channel=Channel.PORTAL,
        customer=passenger[1],
    )
    return {"flight": flight.pk, "booking": booking.record_locator}


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if e[0] != "get"], ids=lambda v: str(v))
def test_malformed_bodies_never_cause_a_500(api_clients, objects, method, template):
    path = template.format(**objects)
    for who, client in api_clients.items():
        for name, (body, content_type) in RESERVATION_BODIES.items():
            response = _fire(client, method, path, body, content_type, HTTP_IDEMPOTENCY_KEY="fuzz")
            assert_error_shape(response, f"{who} {method.upper()} {path} with {name}")
            # cancelling needs no fields: an empty body is the one well-formed request here
            legitimate = template.endswith("/cancel/") and name == "empty body" and who != "anonymous"
            assert response.status_code >= 400 or legitimate, f"{who} {path} with {name} was accepted"
    # and nothing was booked, paid or taken beyond the one booking of the fixture
    assert Booking.objects.count() == 1
    assert not Payment.objects.exists()
    cancelled = template.endswith("/cancel/")
    assert FlightCabin.objects.get(flight_id=objects["flight"], cabin="economy").sold == (0 if cancelled else 1)


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if e[0] == "get"], ids=lambda v: str(v))
def test_malformed_query_strings_never_cause_a_500(api_clients, objects, method, template):
    path = template.format(**objects)
    for who, client in api_clients.items():
        for query in RESERVATION_QUERIES:
            assert_error_shape(_fire(client, method, f"{path}?{query}"), f"{who} GET {path}?{query[:40]}")


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if "{" in e[1]], ids=lambda v: str(v))
def test_unknown_and_malformed_ids_are_a_404_in_the_error_shape(api_clients, objects, method, template):
    for who, client in api_clients.items():
        for value in BAD_LOCATORS if "{booking}" in template else BAD_FLIGHT_IDS:
            path = template.format(booking=value, flight=value)
            response = _fire(client, method, path, b"{}")
            assert_error_shape(response, f"{who} {method.upper()} {path[:60]}")
            if who != "anonymous":
                assert response.status_code == 404, f"{who} {path[:60]}: {response.status_code}"


@pytest.mark.parametrize(("method", "template"), ENDPOINTS, ids=lambda v: str(v))
def test_unsupported_methods_media_and_bad_tokens_answer_in_the_error_shape(api_clients, objects, method, template):
    path = template.format(**objects)
    for who, client in api_clients.items():
        for other in ("put", "patch", "delete", "trace"):
            assert_error_shape(_fire(client, other, path, b"{}"), f"{who} {other.upper()} {path}")
        assert _fire(client, "head", path).status_code < 500
        assert_error_shape(
            _fire(client, method, path, b"{}", HTTP_ACCEPT="application/xml"), f"{who} {method} {path} Accept: xml"
        )
        assert_error_shape(
            _fire(client, method, path, b"{}", HTTP_AUTHORIZATION="Token \x00bogus"), f"{who} {method} {path} bad token"
        )


@pytest.mark.parametrize(("method", "template"), ENDPOINTS, ids=lambda v: str(v))
def test_format_suffixes_never_cause_a_500(api_clients, objects, method, template):
    path = template.format(**objects).rstrip("/")
    for who, client in api_clients.items():
        for suffix in (".json", ".api", ".xml", ".json/"):
            response = _fire(client, method, path + suffix, b"{}", HTTP_ACCEPT="application/json")
            assert_error_shape(response, f"{who} {method.upper()} {path}{suffix}")
