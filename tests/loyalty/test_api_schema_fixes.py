"""What schemathesis found in the frequent flyer API, pinned down: the schema states the bounds the
endpoints enforce, a rule the schema cannot state is written in its description, and a method an
endpoint does not have is a 405 for everyone, not a 404 that depends on who asks."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.loyalty.factories import credit, member

pytestmark = pytest.mark.usefixtures("generous_throttles")


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _parameter(schema: dict, path: str, name: str, method: str = "get") -> dict:
    (found,) = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == name]
    return found


def test_transfer_quote_states_the_bounds_of_miles_it_enforces(schema, passenger, api_as):
    # Given the schema's bounds for the quote's `miles`
    bounds = _parameter(schema, "/api/v1/loyalty/transfers/quote/", "miles")["schema"]
    assert (bounds["minimum"], bounds["maximum"]) == (0, 10_000_000)
    assert "400" in schema["paths"]["/api/v1/loyalty/transfers/quote/"]["get"]["responses"]
    # When a member asks for a quote at and just past the maximum
    credit(member(passenger[1]), 1000)
    client = api_as(passenger[0])
    at_max = client.get("/api/v1/loyalty/transfers/quote/", {"miles": bounds["maximum"]})
    past_max = client.get("/api/v1/loyalty/transfers/quote/", {"miles": bounds["maximum"] + 1})
    # Then the schema's edge is the server's edge
    assert at_max.status_code == 200, at_max.content
    assert at_max.json()["miles"] == 10_000_000
    assert past_max.status_code == 400
    assert "miles" in past_max.json()["error"]["fields"]


def test_adjustments_member_filter_states_the_pattern_it_enforces(schema, supervisor, api_as, staff_objects):
    # Given the schema's pattern for the `member` filter: a 10-digit number, or empty
    pattern = _parameter(schema, "/api/v1/loyalty/adjustments/", "member")["schema"]["pattern"]
    assert pattern == "^([0-9]{10})?$"
    client = api_as(supervisor)
    # When staff filter with values inside the pattern and outside it (a NUL, letters, too long)
    matching = client.get("/api/v1/loyalty/adjustments/", {"member": staff_objects["number"]})
    unknown = client.get("/api/v1/loyalty/adjustments/", {"member": "0000000000"})
    empty = client.get("/api/v1/loyalty/adjustments/", {"member": ""})
    refused = [client.get("/api/v1/loyalty/adjustments/", {"member": v}) for v in ("\x80\x00", "é" * 10, "1" * 11, "123")]
    # Then every schema-valid value is answered, every other one refused naming the field
    assert [a["id"] for a in matching.json()["results"]] == [staff_objects["adjustment"]]
    assert unknown.status_code == 200 and unknown.json()["results"] == []
    assert empty.status_code == 200 and empty.json()["count"] == 1
    for response in refused:
        assert response.status_code == 400, response.content
        assert "member" in response.json()["error"]["fields"]


def test_statement_documents_that_date_to_may_not_precede_date_from(schema, passenger, api_as):
    # Given the rule is in the parameter's description (a schema cannot relate two parameters)
    for path in ("/api/v1/loyalty/me/statement/", "/api/v1/loyalty/members/{number}/statement/"):
        assert "date_from" in _parameter(schema, path, "date_to")["description"]
    member(passenger[1])
    # When a member's dates are the wrong way round
    response = api_as(passenger[0]).get("/api/v1/loyalty/me/statement/", {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    # Then the 400 names `date_to`, as described
    assert response.status_code == 400
    assert "date_to" in response.json()["error"]["fields"]


@pytest.fixture
def staff_objects(agent, supervisor):
    from loyalty import services

    target = member()
    adjustment = services.adjustment_request(member=target, kind="goodwill", award_miles=10**5, reason="x", by=agent)
    return {"number": target.number, "adjustment": adjustment.pk, "customer": target.customer.customer_number}


STAFF_ONLY = [
    "/api/v1/loyalty/members/{number}/",
    "/api/v1/loyalty/members/{number}/statement/",
    "/api/v1/loyalty/members/{number}/adjustments/",
    "/api/v1/loyalty/adjustments/{adjustment}/",
    "/api/v1/loyalty/adjustments/{adjustment}/approve/",
    "/api/v1/loyalty/customers/{customer}/enrol/",
    "/api/v1/loyalty/liability/",
    "/api/v1/customers/{customer}/",
]


@pytest.mark.parametrize("template", STAFF_ONLY)
def test_a_method_an_endpoint_lacks_is_405_for_passengers_and_staff_alike(template, staff_objects, passenger, marketer, api_as):
    # Given a staff endpoint, a passenger and a staff member without loyalty permissions
    path = template.format(**staff_objects)
    member(passenger[1])
    for who in (passenger[0], marketer):
        # When they send a method the endpoint does not have
        response = api_as(who).generic("TRACE", path)
        # Then the answer is 405 (it depends on the URL only, so it reveals nothing about the object)
        assert response.status_code == 405, (who, path, response.content)
    # And a method it has keeps its answer for a passenger: 404 for an object, 403 for a collection
    allowed = "POST" if template.endswith(("adjustments/", "approve/", "enrol/")) else "GET"
    response = api_as(passenger[0]).generic(allowed, path)
    assert response.status_code in (403, 404)
    # And anyone not logged in is still asked to log in first
    assert APIClient().generic("TRACE", path).status_code == 401


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        (
            "/api/v1/loyalty/household/invitations/",
            ["unknown_frequent_flyer_number", "frequent_flyer_name_mismatch", "invite_self"],
        ),
        ("/api/v1/loyalty/transfers/", ["unknown_frequent_flyer_number", "transfer_to_self", "transfer_too_small"]),
        ("/api/v1/loyalty/status-matches/", ["tier_not_higher", "card_expired"]),
        ("/api/v1/loyalty/members/{number}/adjustments/", ["adjustment_empty"]),
    ],
)
def test_business_rule_400s_are_documented_on_the_operation(schema, path, codes):
    # Given an operation that refuses some well-formed input for a business reason (schemathesis.toml allows it)
    described = schema["paths"][path]["post"]["responses"]["400"]["description"]
    # Then its 400 says which reasons, by code
    for code in codes:
        assert f"`{code}`" in described, (path, code)


def test_transfer_to_an_unknown_number_is_a_400_naming_the_field(passenger, api_as):
    from loyalty import numbers

    # Given a member with miles, and a well-formed number (right check digit) that names no member
    credit(member(passenger[1]), 50000)
    unknown = "100000000" + numbers.check_digit("100000000")
    # When they send miles to it
    body = {"frequent_flyer_number": unknown, "family_name": "Nobody", "miles": 5000}
    response = api_as(passenger[0]).post("/api/v1/loyalty/transfers/", body, format="json")
    # Then the 400 is the documented `unknown_frequent_flyer_number`, naming the field
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "unknown_frequent_flyer_number"
    assert "frequent_flyer_number" in response.json()["error"]["fields"]


PARTNER_STATEMENT = "/api/v1/loyalty/partner-statements/{month}/"
FRAUD_FLAGS = "/api/v1/loyalty/fraud-flags/"
FRAUD_REVIEW = "/api/v1/loyalty/fraud-flags/{id}/review/"


def _component(schema: dict, ref_holder: dict) -> dict:
    ref = ref_holder.get("$ref") or ref_holder["allOf"][0]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_partner_statement_month_states_the_pattern_it_enforces(schema, db):
    import re

    from django.utils import timezone

    from loyalty import services

    # Given the schema's pattern for the month, and a partner's key
    pattern = _parameter(schema, PARTNER_STATEMENT, "month")["schema"]["pattern"]
    partner = services.partner_create(code="harbour", name="Harbour Hotels", kind="hotel")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Partner {services.partner_key_issue(partner=partner)}")
    this_month = f"{timezone.localdate():%Y-%m}"
    values = ["2000-01", "2019-12", this_month, "2099-12", "1999-12", "2026-13", "2026-00", "2026-1", "２０２６-０１", "2026-01 "]
    for value in values:
        # When the partner asks for the month
        status = client.get(PARTNER_STATEMENT.format(month=value)).status_code
        # Then a month the pattern takes is answered (404 only when it has not begun), any other is a 400
        if re.search(pattern, value):
            assert status == (404 if value > this_month else 200), (value, status)
        else:
            assert status == 400, (value, status)
    # And the answers it may give are documented
    assert {"200", "400", "401", "404"} <= set(schema["paths"][PARTNER_STATEMENT]["get"]["responses"])
    assert schema["paths"][PARTNER_STATEMENT]["get"]["security"] == [{"partnerKey": []}]


def test_fraud_review_states_its_decisions_and_note_length(schema):
    from loyalty.models import ReviewStatus

    # Given the review's request body in the schema
    operation = schema["paths"][FRAUD_REVIEW]["post"]
    body = _component(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    # Then the decisions are the office form's two (not another enum's of the same field name), the note is
    # required and bounded as the model stores it, and unknown keys are refused
    assert _component(schema, body["properties"]["decision"])["enum"] == ["cleared", "confirmed"]
    assert (body["properties"]["note"]["minLength"], body["properties"]["note"]["maxLength"]) == (1, 300)
    assert set(body["required"]) == {"decision", "note"} and body["additionalProperties"] is False
    assert "`already_reviewed`" in operation["responses"]["409"]["description"]
    # And the list's status filter takes exactly the review statuses
    status = _parameter(schema, FRAUD_FLAGS, "status")["schema"]
    assert sorted(status["enum"]) == sorted(ReviewStatus.values)
