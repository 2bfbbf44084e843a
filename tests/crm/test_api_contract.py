"""The OpenAPI schema says what the customer-record API really accepts and answers.

Each test names a rule the schema states and shows a request that used to break it now answered per schema.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from drf_spectacular.generators import SchemaGenerator

from crm.models import LeadNote
from crm.validation import validate_national_id_number, validate_passport_number, validate_single_line_text
from tests.crm.factories import CustomerFactory, LeadFactory

CUSTOMERS = "/api/v1/customers/"
LEADS = "/api/v1/leads/"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def component(schema, name: str) -> dict:  # noqa: ANN001
    return schema["components"]["schemas"][name]


def resolve(schema, node: dict) -> dict:  # noqa: ANN001
    if len(node.get("allOf", [])) == 1:
        return resolve(schema, node["allOf"][0])
    ref = node.get("$ref")
    return component(schema, ref.rsplit("/", 1)[1]) if ref else node


def accepts_blank(schema, node: dict) -> bool:  # noqa: ANN001
    """Whether the empty string is valid for this property's schema (the parts this API uses)."""
    node = resolve(schema, node)
    if "oneOf" in node or "anyOf" in node:
        return any(accepts_blank(schema, branch) for branch in node.get("oneOf", node.get("anyOf")))
    if "allOf" in node:
        return all(accepts_blank(schema, branch) for branch in node["allOf"])
    if "enum" in node:
        return "" in node["enum"]
    if "format" in node or node.get("minLength", 0) > 0:
        return False
    return "pattern" not in node or re.search(node["pattern"], "") is not None


def assert_error(response, status: int, code: str) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"} and body["error"]["code"] == code
    return body["error"]


def test_a_customer_with_blank_codes_and_no_email_is_answered_as_the_schema_says(schema, supervisor, api_as):
    # given the customer record's schema
    customer = component(schema, "Customer")["properties"]
    # when a customer is created with names only
    response = api_as(supervisor).post(CUSTOMERS, {"given_name": "Ana", "family_name": "Lima"}, format="json")
    # then every field that answers "" is one the schema lets be blank (codes, the e-mail)
    assert response.status_code == 201, response.content
    blank = [name for name, value in response.json().items() if value == ""]
    assert {"title", "gender", "email", "nationality", "country", "meal_preference", "preferred_cabin"} <= set(blank)
    assert [name for name in blank if not accepts_blank(schema, customer[name])] == []


def test_the_customer_list_documents_that_email_and_codes_may_be_blank(schema, supervisor, api_as):
    # given a customer with no e-mail and no codes
    CustomerFactory(email="", title="", gender="", nationality="", preferred_cabin="")
    # when staff list customers
    rows = api_as(supervisor).get(CUSTOMERS).json()["results"]
    # then the blank values are ones the list's schema allows
    summary = component(schema, "CustomerSummary")["properties"]
    blank = {name for row in rows for name, value in row.items() if value == ""}
    assert "email" in blank
    assert [name for name in blank if not accepts_blank(schema, summary[name])] == []


def test_a_leads_first_note_has_a_blank_from_status_the_schema_allows(schema, agent, api_as):
    # given a lead whose first note has no previous status
    lead = LeadFactory(status="new")
    LeadNote.objects.create(lead=lead, from_status="", to_status="", text="Called back")
    # when it is read
    notes = api_as(agent).get(f"{LEADS}{lead.pk}/").json()["notes"]
    # then from_status is "" and the schema's LeadNote says it may be
    assert notes[0]["from_status"] == ""
    assert accepts_blank(schema, component(schema, "LeadNote")["properties"]["from_status"])


def test_request_bodies_are_documented_as_json_that_refuses_unknown_keys(schema, supervisor, api_as):
    # given the schema of the customer and consent bodies
    for name in ("CustomerInputRequest", "PatchedCustomerInputRequest", "ConsentInputRequest", "LeadInputRequest"):
        assert component(schema, name)["additionalProperties"] is False
    body = schema["paths"]["/api/v1/customers/{customer_number}/consents/"]["post"]["requestBody"]
    assert list(body["content"]) == ["application/json"]
    # when a consent carries a key the schema does not list
    customer = CustomerFactory()
    response = api_as(supervisor).post(
        f"{CUSTOMERS}{customer.customer_number}/consents/",
        {"channel": "sms", "purpose": "marketing", "granted": True, "extra": 1},
        format="json",
    )
    # then it is refused, naming the key
    assert assert_error(response, 400, "invalid")["fields"] == {"extra": ["Unknown or read-only field."]}


@pytest.mark.parametrize("param", ["created_before", "created_after", "gender", "preferred_cabin"])
def test_an_empty_date_or_choice_filter_is_a_400_not_ignored(param, supervisor, api_as):
    # given a customer list filter the schema types as a date-time or an enum
    # when it is sent empty
    response = api_as(supervisor).get(CUSTOMERS, {param: ""})
    # then it is refused like any other value that is not one, rather than silently filtering nothing
    assert param in assert_error(response, 400, "invalid")["fields"]


def test_an_empty_text_filter_is_still_accepted(supervisor, api_as):
    assert api_as(supervisor).get(CUSTOMERS, {"home_airport": ""}).status_code == 200


def test_one_line_text_has_the_pattern_of_the_rule_that_refuses_control_characters(schema, supervisor, api_as):
    # given the pattern the schema states for names
    pattern = re.compile(component(schema, "CustomerInputRequest")["properties"]["given_name"]["pattern"])

    # then it refuses exactly the characters the rule refuses (the basic plane)
    def rule_accepts(text: str) -> bool:
        try:
            validate_single_line_text(text)
        except ValidationError:
            return False
        return True

    disagree = [cp for cp in range(0x10000) if bool(pattern.search(f"a{chr(cp)}b")) != rule_accepts(f"a{chr(cp)}b")]
    assert disagree == [], [unicodedata.name(chr(cp), hex(cp)) for cp in disagree[:5]]
    # and a name the pattern refuses is a 400, one it allows is created
    assert_error(api_as(supervisor).post(CUSTOMERS, {"given_name": "A\x15B", "family_name": "X"}, format="json"), 400, "invalid")
    assert api_as(supervisor).post(CUSTOMERS, {"given_name": "Zoë‍", "family_name": "O'Neil"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("field", "rule", "values"),
    [
        ("passport_number", validate_passport_number, ["", "ab12345", " AB 123 45 ", "1234", "AB-12345", "x" * 21]),
        ("national_id_number", validate_national_id_number, ["", "12-34", " ab 12 ", "-12", "12-", "a_b"]),
    ],
)
def test_document_numbers_have_the_pattern_of_their_rule(schema, field, rule, values):
    # given the pattern the schema states for the document number
    node = component(schema, "CustomerInputRequest")["properties"][field]
    string = next(branch for branch in node["oneOf"] if "pattern" in branch)
    pattern, longest = re.compile(string["pattern"]), string["maxLength"]

    # then it accepts what the rule accepts (as typed, within the length), and refuses what it refuses
    def rule_accepts(text: str) -> bool:
        try:
            rule(text.strip())
        except ValidationError:
            return False
        return len(text) <= longest

    assert [v for v in values if bool(pattern.search(v)) and len(v) <= longest] == [v for v in values if rule_accepts(v)]


def test_a_preferred_language_is_one_of_the_documented_list(schema, supervisor, api_as):
    # given the languages the schema lists
    languages = component(schema, "LanguageEnum")["enum"]
    assert "en" in languages and "xx" not in languages
    # when a customer is created with one outside it, then it is refused; with one inside, created
    assert_error(
        api_as(supervisor).post(CUSTOMERS, {"given_name": "A", "family_name": "B", "preferred_language": "xx"}, format="json"),
        400,
        "invalid",
    )
    created = api_as(supervisor).post(
        CUSTOMERS, {"given_name": "A", "family_name": "B", "preferred_language": languages[-1]}, format="json"
    )
    assert created.status_code == 201 and created.json()["preferred_language"] == languages[-1]


def test_a_transition_the_lead_status_does_not_allow_is_the_documented_409(schema, agent, api_as):
    # given the advance and convert operations' documented answers
    advance = schema["paths"]["/api/v1/leads/{id}/advance/"]["post"]
    assert "409" in advance["responses"] and "409" in schema["paths"]["/api/v1/leads/{id}/convert/"]["post"]["responses"]
    # and the statuses advance takes (conversion is its own operation)
    status_enum = resolve(schema, component(schema, "LeadAdvanceInputRequest")["properties"]["status"])["enum"]
    assert "converted" not in status_enum and "lost" in status_enum
    # when a lost lead is made lost again, or converted
    lead = LeadFactory(status="lost", lost_reason="Chose another airline")
    client = api_as(agent)
    again = client.post(f"{LEADS}{lead.pk}/advance/", {"status": "lost", "lost_reason": "still"}, format="json")
    convert = client.post(f"{LEADS}{lead.pk}/convert/", {}, format="json")
    # then both are a 409 conflict with the lead's current status
    assert_error(again, 409, "invalid_transition")
    assert_error(convert, 409, "invalid_transition")


def test_every_operation_documents_the_web_servers_414(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "414" not in operation["responses"]
    ]
    assert missing == []


def test_a_json_number_or_string_where_the_schema_says_text_or_boolean_is_refused(supervisor, api_as):
    # given a customer whose consent is recorded through the API
    customer = CustomerFactory()
    url = f"{CUSTOMERS}{customer.customer_number}/consents/"
    client = api_as(supervisor)
    # when `method` is a number and `granted` a string, against the schema's string and boolean
    response = client.post(url, {"channel": "sms", "purpose": "service", "granted": "true", "method": 0}, format="json")
    # then both are refused, and nothing is recorded; the same with JSON types is recorded
    assert set(assert_error(response, 400, "invalid")["fields"]) == {"method", "granted"}
    assert customer.consent_events.count() == 0
    ok = client.post(url, {"channel": "sms", "purpose": "service", "granted": True, "method": "phone"}, format="json")
    assert ok.status_code == 201, ok.content


def test_a_form_body_is_still_read_with_form_conventions(supervisor, api_as):
    # given a form-encoded body (every value is text), which the schema does not document but the API reads
    customer = CustomerFactory()
    response = api_as(supervisor).post(
        f"{CUSTOMERS}{customer.customer_number}/consents/", {"channel": "sms", "purpose": "service", "granted": "true"}
    )
    # then it is recorded as before
    assert response.status_code == 201, response.content
    assert response.json()["granted"] is True
