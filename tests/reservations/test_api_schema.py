"""The OpenAPI schema documents every reservations endpoint, its bodies and its error answers."""

import pytest
import yaml
from django.core.management import call_command

OPERATIONS = {
    ("get", "/api/v1/flights/search/"),
    ("get", "/api/v1/flights/{id}/seat-map/"),
    ("get", "/api/v1/flight-status/"),
    ("get", "/api/v1/bookings/"),
    ("post", "/api/v1/bookings/"),
    ("get", "/api/v1/bookings/{record_locator}/"),
    ("post", "/api/v1/bookings/{record_locator}/payments/"),
    ("post", "/api/v1/bookings/{record_locator}/cancel/"),
    ("post", "/api/v1/bookings/{record_locator}/seats/"),
    ("post", "/api/v1/bookings/{record_locator}/check-in/"),
    ("get", "/api/v1/bookings/{record_locator}/boarding-passes/"),
    ("patch", "/api/v1/bookings/{record_locator}/passengers/{sequence}/"),
}
PUBLIC = {"/api/v1/flights/search/", "/api/v1/flights/{id}/seat-map/", "/api/v1/flight-status/"}
ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    """Generated once, validated against the OpenAPI spec, failing on any drf-spectacular warning."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _json_schema(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def test_every_reservations_endpoint_is_documented(schema):
    documented = {(method, path) for path, ops in schema["paths"].items() for method in ops if method != "parameters"}
    assert documented >= OPERATIONS


def test_every_operation_documents_the_error_shape(schema):
    for method, path in OPERATIONS:
        responses = schema["paths"][path][method]["responses"]
        for code in ("400", "429"):
            assert _json_schema(responses[code])["$ref"] == ERROR_REF, (method, path, code)
        if path not in PUBLIC:
            assert {"401", "403"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)


def test_public_endpoints_need_no_login_and_bookings_do(schema):
    for path in PUBLIC:
        assert {} in schema["paths"][path]["get"].get("security", [{}]), path
        assert "401" not in schema["paths"][path]["get"]["responses"], path
    assert {} not in schema["paths"]["/api/v1/bookings/"]["get"]["security"]


def test_booking_payment_and_conflict_answers_are_documented(schema):
    create = schema["paths"]["/api/v1/bookings/"]["post"]
    assert _json_schema(create["requestBody"])["$ref"].endswith("/BookingCreateInputRequest")
    assert _json_schema(create["responses"]["201"])["$ref"].endswith("/Booking")
    assert _json_schema(create["responses"]["409"])["$ref"] == ERROR_REF
    pay = schema["paths"]["/api/v1/bookings/{record_locator}/payments/"]["post"]
    assert {"200", "201", "402", "409"} <= set(pay["responses"])
    assert "Idempotency-Key" in {p["name"] for p in pay["parameters"]}
    search = {p["name"] for p in schema["paths"]["/api/v1/flights/search/"]["get"]["parameters"]}
    assert search == {"origin", "destination", "date", "cabin", "adults", "children", "infants", "sort", "connections"}


def test_card_fields_are_write_only_in_the_schema(schema):
    components = schema["components"]["schemas"]
    assert {"number", "cvv"} <= set(components["CardInputRequest"]["properties"])
    assert all("cvv" not in s.get("properties", {}) for name, s in components.items() if not name.endswith("Request"))


def test_a_travellers_frequent_flyer_number_change_is_documented(schema):
    change = schema["paths"]["/api/v1/bookings/{record_locator}/passengers/{sequence}/"]["patch"]
    assert _json_schema(change["requestBody"])["$ref"].endswith("/PatchedPassengerChangeInputRequest")
    assert _json_schema(change["responses"]["200"])["$ref"].endswith("/BookingPassenger")
    assert {p["name"] for p in change["parameters"]} == {"record_locator", "sequence"}
    check_in = schema["components"]["schemas"]["CheckInInputRequest"]["properties"]
    assert check_in["frequent_flyer_numbers"]["items"]["$ref"].endswith("/FrequentFlyerNumberInputRequest")
