"""Never a 500 from the adjustment, household, transfer and fraud review endpoints: malformed bodies and queries, as staff,
as a passenger who is a member (with an invitation waiting) and anonymously."""

from __future__ import annotations

import json

import pytest

from loyalty import services
from loyalty.models import FraudFlag, FraudSignal
from tests.crm.test_api_errors import BODIES, QUERIES, _fire, assert_error_shape
from tests.loyalty.factories import credit, member

JSON = "application/json"
KEYS = (
    "kind",
    "award_miles",
    "qualifying_miles",
    "reason",
    "note",
    "frequent_flyer_number",
    "family_name",
    "miles",
    "transfer_id",
    "decision",
)
LOYALTY_BODIES = {
    **BODIES,
    "nulls everywhere (loyalty)": (json.dumps(dict.fromkeys(KEYS)).encode(), JSON),
    "huge numbers (loyalty)": (json.dumps(dict.fromkeys(KEYS, 10**30)).encode(), JSON),
    "NUL characters (loyalty)": (json.dumps(dict.fromkeys(KEYS, "a\u0000b")).encode(), JSON),
    "negative numbers": (json.dumps({**dict.fromkeys(KEYS, -5), "reason": "x", "kind": "goodwill"}).encode(), JSON),
    "well formed but absurd": (
        json.dumps(
            {
                "kind": "goodwill",
                "award_miles": -999999,
                "reason": "x" * 300,
                "frequent_flyer_number": "1" * 20,
                "family_name": "\u00e9" * 100,
                "miles": 10_000_000,
                "transfer_id": "not-a-uuid",
                "note": "",
            }
        ).encode(),
        JSON,
    ),  # fmt: skip
}
ENDPOINTS = [
    ("post", "/api/v1/loyalty/members/{number}/adjustments/"),
    ("get", "/api/v1/loyalty/adjustments/"),
    ("get", "/api/v1/loyalty/adjustments/{adjustment}/"),
    ("post", "/api/v1/loyalty/adjustments/{adjustment}/approve/"),
    ("post", "/api/v1/loyalty/adjustments/{adjustment}/reject/"),
    ("get", "/api/v1/loyalty/household/"),
    ("post", "/api/v1/loyalty/household/"),
    ("post", "/api/v1/loyalty/household/invitations/"),
    ("delete", "/api/v1/loyalty/household/invitations/{sent}/"),
    ("post", "/api/v1/loyalty/household/invitations/{received}/accept/"),
    ("post", "/api/v1/loyalty/household/invitations/{received}/decline/"),
    ("post", "/api/v1/loyalty/household/leave/"),
    ("delete", "/api/v1/loyalty/household/members/{other}/"),
    ("get", "/api/v1/loyalty/transfers/quote/"),
    ("post", "/api/v1/loyalty/transfers/"),
    ("get", "/api/v1/loyalty/fraud-flags/"),
    ("post", "/api/v1/loyalty/fraud-flags/{flag}/review/"),
]
LOYALTY_QUERIES = [
    *QUERIES,
    "miles=abc",
    "miles=-1",
    "miles=1e9",
    "miles=99999999999999999999",
    "miles=%00",
    "status=bogus",
    "member=%00",
]

pytestmark = pytest.mark.usefixtures("generous_throttles")


@pytest.fixture
def clients(agent, api_clients, passenger, api_as):
    return {**api_clients, "agent": api_as(agent)}


@pytest.fixture
def objects(passenger, agent):
    """The passenger is a member with miles and an invitation waiting for them; another household's head has one out."""
    own = member(passenger[1])
    credit(own, 50000)
    other = member()
    elsewhere = member()
    services.household_create(member=elsewhere)
    sent = services.household_invite(head=elsewhere, number=other.number, family_name=other.customer.family_name)
    received = services.household_invite(head=elsewhere, number=own.number, family_name=own.customer.family_name)
    adjustment = services.adjustment_request(member=other, kind="goodwill", award_miles=10**5, reason="x", by=agent)
    flag = FraudFlag.objects.create(member=other, signal=FraudSignal.PARTNER_VELOCITY, key="test:input", details={})
    return {
        "number": own.number, "adjustment": adjustment.pk, "sent": sent.pk, "received": received.pk, "other": other.number,
        "flag": flag.pk,
    }  # fmt: skip


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if e[0] != "get"], ids=lambda v: str(v))
def test_malformed_bodies_never_cause_a_500(clients, objects, method, template):
    path = template.format(**objects)
    for who, client in clients.items():
        for name, (body, content_type) in LOYALTY_BODIES.items():
            response = _fire(client, method, path, body, content_type)
            assert_error_shape(response, f"{who} {method.upper()} {path} with {name}")


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if e[0] == "get"], ids=lambda v: str(v))
def test_malformed_query_strings_never_cause_a_500(clients, objects, method, template):
    path = template.format(**objects)
    for who, client in clients.items():
        for query in LOYALTY_QUERIES:
            response = _fire(client, method, f"{path}?{query}")
            assert_error_shape(response, f"{who} GET {path}?{query[:40]}")


def test_unknown_ids_are_404_in_the_error_shape(clients, objects):
    for path in ("/api/v1/loyalty/adjustments/999999999/", "/api/v1/loyalty/adjustments/99999999999999999999999/"):
        response = clients["staff"].get(path)
        assert response.status_code == 404
        assert_error_shape(response, path)
    for path in ("/api/v1/loyalty/fraud-flags/999999999/review/", "/api/v1/loyalty/fraud-flags/99999999999999999999999/review/"):
        response = clients["staff"].post(path, {"decision": "cleared", "note": "x"}, format="json")
        assert response.status_code == 404
        assert_error_shape(response, path)
    response = clients["passenger"].post("/api/v1/loyalty/household/invitations/999999999999999999/accept/")
    assert response.status_code == 404
    assert_error_shape(response, "unknown invitation")
