"""The OpenAPI schema says what the reservations API really answers, and every /api/ answer is JSON in the error shape."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.reservations.api_support import BOOKINGS, assert_error, bookable_flight, booking_body, fares

LOCATOR = "/api/v1/bookings/{record_locator}/"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def statuses(schema, path: str, method: str) -> set[str]:  # noqa: ANN001
    return set(schema["paths"][path][method]["responses"])


def resolve(schema, ref_or_schema: dict) -> dict:  # noqa: ANN001
    if "allOf" in ref_or_schema:
        return resolve(schema, ref_or_schema["allOf"][0])
    ref = ref_or_schema.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        (BOOKINGS, "get", {"200", "400", "401", "403", "404", "429"}),
        (BOOKINGS, "post", {"201", "400", "401", "403", "409", "413", "415", "429"}),
        (LOCATOR, "get", {"200", "400", "401", "403", "404", "429"}),
        (f"{LOCATOR}boarding-passes/", "get", {"200", "400", "401", "403", "404", "429"}),
        (f"{LOCATOR}payments/", "post", {"200", "201", "400", "401", "402", "403", "404", "409", "413", "415", "429"}),
        (f"{LOCATOR}cancel/", "post", {"200", "400", "401", "403", "404", "409", "429"}),
        (f"{LOCATOR}seats/", "post", {"200", "400", "401", "403", "404", "409", "429"}),
        (f"{LOCATOR}check-in/", "post", {"201", "400", "401", "403", "404", "409", "429"}),
        ("/api/v1/flights/{id}/seat-map/", "get", {"200", "400", "404", "429"}),
        ("/api/v1/flight-status/", "get", {"200", "400", "404", "429"}),
        ("/api/v1/customers/", "get", {"200", "400", "401", "403", "404", "429"}),
    ],
)
def test_each_operation_documents_the_statuses_it_answers(schema, path, method, expected):
    assert expected <= statuses(schema, path, method)


def test_a_page_out_of_range_is_the_documented_404(agent, api_as):
    assert_error(api_as(agent).get(BOOKINGS, {"page": 999}), 404, "not_found")
    assert_error(api_as(agent).get(BOOKINGS, {"page_size": "null"}), 400, "invalid")


def test_the_check_in_list_may_not_be_empty_and_seats_have_a_pattern(schema):
    check_in = schema["components"]["schemas"]["CheckInInputRequest"]
    seat = schema["components"]["schemas"]["SeatInputRequest"]

    assert check_in["properties"]["passengers"]["minItems"] == 1
    assert check_in["additionalProperties"] is False
    assert seat["properties"]["seat"]["pattern"] == "^[0-9]{1,3}[A-Za-z]$"


def test_a_card_payment_requires_the_card_and_a_voucher_payment_its_code(schema):
    body = schema["paths"][f"{LOCATOR}payments/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    variants = {}
    for option in resolve(schema, body)["oneOf"]:
        component = resolve(schema, option)
        method = resolve(schema, component["properties"]["method"])
        for value in method["enum"]:
            variants[value] = component

    assert set(variants) == {"card", "voucher", "miles", "counter"}
    assert "card" in variants["card"]["required"]
    assert "voucher_code" in variants["voucher"]["required"]
    assert "card" not in variants["miles"].get("required", [])


@pytest.mark.parametrize(
    "path", ["/api/v1/flights/%0A/seat-map/", "/api/v1/nope/", "/api/nope", "/api", "/api/v1", "/api/schema/nope"]
)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_unknown_and_malformed_api_paths_answer_json_in_the_error_shape(client, db, path, accept):
    response = client.get(path, HTTP_ACCEPT=accept)

    assert response["Content-Type"].startswith("application/json")
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_errors_of_real_endpoints_are_json_even_for_a_browser(client, db, accept):
    method_not_allowed = client.delete("/api/v1/flights/search/", HTTP_ACCEPT=accept)
    unauthenticated = client.get(f"{BOOKINGS}%0A/", HTTP_ACCEPT=accept)

    assert_error(method_not_allowed, 405, "method_not_allowed")
    assert_error(unauthenticated, 401, "not_authenticated")
    assert method_not_allowed["Content-Type"].startswith("application/json")


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/api/nope", {"a": 1})

    assert_error(response, 404, "not_found")


def test_pages_outside_the_api_still_get_the_sites_404(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("method", "suffix"), [("post", "cancel/"), ("get", "cancel-quote/")])
def test_cancelling_a_cancelled_booking_is_the_400_its_schema_names(schema, agent, api_as, method, suffix):
    # given a booking an agent made and cancelled
    fares()
    client = api_as(agent)
    created = client.post(BOOKINGS, booking_body(bookable_flight()), format="json")
    assert created.status_code == 201, created.content
    locator = created.json()["record_locator"]
    assert client.post(f"{BOOKINGS}{locator}/cancel/", {}, format="json").status_code == 200

    # when it is cancelled again, or the refund of cancelling it is asked for
    response = getattr(client, method)(f"{BOOKINGS}{locator}/{suffix}", **({"format": "json"} if method == "post" else {}))

    # then the answer is 400 `already_cancelled`, and the operation's schema documents that code under 400, not 409
    assert_error(response, 400, "already_cancelled")
    responses = schema["paths"][f"{LOCATOR}{suffix}"][method]["responses"]
    assert "`already_cancelled`" in responses["400"]["description"]
    assert "already cancelled" not in responses.get("409", {}).get("description", "").lower()
