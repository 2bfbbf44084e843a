"""The membership API: a passenger's own membership and statement, staff by number (audited), enrolment."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm.models import CustomerAccess, TimelineEntry
from loyalty.models import EntryKind, Member
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import credit, member

ME = "/api/v1/loyalty/me/"
ME_ENROL = "/api/v1/loyalty/me/enrol/"
ME_STATEMENT = "/api/v1/loyalty/me/statement/"


def test_a_passenger_reads_their_own_membership_with_progress(passenger, api_as):
    m = member(customer=passenger[1])
    credit(m, 12500, qualifying=12500, segments=3)
    body = api_as(passenger[0]).get(ME).json()
    assert body["number"] == m.number and body["tier"] == "blue" and body["award_balance"] == 12500
    assert body["progress"] == {"next_tier": "silver", "miles_needed": 12500, "segments_needed": 27, "percent": 50}


def test_before_joining_me_is_404_not_a_member_and_enrol_joins_once(passenger, api_as):
    client = api_as(passenger[0])
    response = client.get(ME)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_a_member"
    created = client.post(ME_ENROL)
    assert created.status_code == 201 and created.json()["enrolment_channel"] == "api"
    again = client.post(ME_ENROL)
    assert again.status_code == 200 and again.json()["number"] == created.json()["number"]
    assert Member.objects.filter(customer=passenger[1]).count() == 1
    assert client.get(ME).status_code == 200


def test_my_statement_is_paginated_and_filtered_and_only_mine(passenger, make_passenger, api_as):
    m = member(customer=passenger[1])
    for i in range(30):
        credit(m, 10 + i)
    credit(m, 999, qualifying=999, segments=1, kind=EntryKind.ACCRUAL)
    other = member(customer=make_passenger("other@example.com")[1])
    credit(other, 424242)
    client = api_as(passenger[0])
    page = client.get(ME_STATEMENT).json()
    assert page["count"] == 31 and len(page["results"]) == 25
    assert page["results"][0]["award_miles"] == 999 and page["results"][0]["kind"] == "accrual"
    assert all(e["award_miles"] != 424242 for e in client.get(ME_STATEMENT, {"page": 2}).json()["results"])
    flights = client.get(ME_STATEMENT, {"kind": "accrual"}).json()
    assert [e["award_miles"] for e in flights["results"]] == [999]
    bad = client.get(ME_STATEMENT, {"date_from": "yesterday"})
    assert bad.status_code == 400 and "date_from" in bad.json()["error"]["fields"]
    empty = client.get(ME_STATEMENT, {"kind": ""})
    assert empty.status_code == 400 and "kind" in empty.json()["error"]["fields"]


def test_my_statement_reads_as_many_rows_whatever_the_history(passenger, api_as):
    m = member(customer=passenger[1])
    credit(m, 1)
    client = api_as(passenger[0])
    client.get(ME_STATEMENT)
    with CaptureQueriesContext(connection) as few:
        client.get(ME_STATEMENT)
    for i in range(30):
        credit(m, 5 + i)
    with CaptureQueriesContext(connection) as many:
        client.get(ME_STATEMENT)
    assert len(many) == len(few)


def test_staff_read_a_member_and_its_statement_and_each_read_is_audited(supervisor, api_as):
    m = member()
    credit(m, 3000)
    client = api_as(supervisor)
    assert client.get(f"/api/v1/loyalty/members/{m.number}/").json()["award_balance"] == 3000
    statement = client.get(f"/api/v1/loyalty/members/{m.number}/statement/").json()
    assert [e["award_miles"] for e in statement["results"]] == [3000]
    accesses = CustomerAccess.objects.filter(customer=m.customer, user=supervisor, surface="api")
    assert accesses.count() == 2
    assert client.get("/api/v1/loyalty/members/1234567890/").status_code == 404


def test_a_passenger_cannot_read_members_or_enrol_others(passenger, api_as):
    m = member()
    client = api_as(passenger[0])
    assert client.get(f"/api/v1/loyalty/members/{m.number}/").status_code == 404
    assert client.get(f"/api/v1/loyalty/members/{m.number}/statement/").status_code == 404
    other = CustomerFactory()
    assert client.post(f"/api/v1/loyalty/customers/{other.customer_number}/enrol/").status_code == 404
    assert not Member.objects.filter(customer=other).exists()
    assert not CustomerAccess.objects.exists()


def test_anonymous_gets_401_everywhere():
    client = APIClient()
    for url in (ME, ME_STATEMENT, "/api/v1/loyalty/members/1234567897/"):
        assert client.get(url).status_code == 401
    assert client.post(ME_ENROL).status_code == 401


def test_an_agent_enrols_a_customer_through_the_api(agent, api_as):
    customer = CustomerFactory()
    response = api_as(agent).post(f"/api/v1/loyalty/customers/{customer.customer_number}/enrol/")
    assert response.status_code == 201 and response.json()["enrolment_channel"] == "office"
    assert TimelineEntry.objects.get(customer=customer, kind="loyalty.enrolled").actor == agent
    assert api_as(agent).post(f"/api/v1/loyalty/customers/{customer.customer_number}/enrol/").status_code == 200
    assert api_as(agent).post("/api/v1/loyalty/customers/NOPE123/enrol/").status_code == 404


def test_a_marketer_may_read_members_but_not_enrol(marketer, api_as):
    m = member()
    client = api_as(marketer)
    assert client.get(f"/api/v1/loyalty/members/{m.number}/").status_code == 200
    other = CustomerFactory()
    assert client.post(f"/api/v1/loyalty/customers/{other.customer_number}/enrol/").status_code == 403


def test_the_schema_documents_the_loyalty_endpoints(client):
    response = client.get("/api/schema/", {"format": "json"})
    paths = response.json()["paths"]
    assert "/api/v1/loyalty/me/" in paths and "/api/v1/loyalty/members/{number}/statement/" in paths
    assert "/api/v1/loyalty/customers/{customer_number}/enrol/" in paths
    schemas = response.json()["components"]["schemas"]
    assert "Membership" in schemas and "MilesEntry" in schemas
