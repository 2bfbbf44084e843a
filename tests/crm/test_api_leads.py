"""Leads through the API: marketing hands prospects over, sales works and converts them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Customer, Lead, LeadNote, TimelineEntry
from tests.crm.factories import CustomerFactory, LeadFactory

URL = "/api/v1/leads/"


def detail(lead, suffix: str = "") -> str:
    return f"{URL}{lead.pk}/{suffix}"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_marketer_hands_a_referred_prospect_to_a_sales_owner(marketer, agent, api_as):
    # given a customer who referred a friend
    referrer = CustomerFactory()
    payload = {
        "given_name": "Lin",
        "family_name": "Wei",
        "email": "LIN@example.com",
        "phone": "+8613800138000",
        "source": "referral",
        "referred_by": referrer.customer_number,
        "owner": agent.username,
        "interest": "Family trip to London",
    }
    # when a marketer creates the lead
    response = api_as(marketer).post(URL, payload, format="json")
    # then it is new, owned by the agent, linked to the referrer, and its first note says so
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "new" and body["owner"] == agent.username and body["created_by"] == marketer.username
    assert body["referred_by"] == referrer.customer_number and body["email"] == "lin@example.com"
    assert [n["text"] for n in body["notes"]] == ["Lead created"]
    assert Lead.objects.get().referred_by == referrer


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"family_name": "Wei"}, "given_name"),
        ({"given_name": "Lin", "family_name": "Wei", "source": "carrier-pigeon"}, "source"),
        ({"given_name": "Lin", "family_name": "Wei", "referred_by": "ZZZZZZZZ"}, "referred_by"),
        ({"given_name": "Lin", "family_name": "Wei", "owner": "nobody-by-that-name"}, "owner"),
        ({"given_name": "Lin", "family_name": "Wei", "status": "converted"}, "status"),
        ({"given_name": "Lin", "family_name": "Wei", "email": "not-an-email"}, "email"),
    ],
)
def test_invalid_lead_input_is_a_400_naming_the_field(marketer, api_as, payload, field):
    error = assert_error(api_as(marketer).post(URL, payload, format="json"), 400, "invalid")
    assert field in error["fields"]
    assert not Lead.objects.exists()


def test_analyst_reads_leads_but_cannot_create_them(analyst, api_as):
    lead = LeadFactory()
    client = api_as(analyst)
    assert client.get(detail(lead)).status_code == 200
    assert_error(client.post(URL, {"given_name": "A", "family_name": "B"}, format="json"), 403)


def test_leads_filter_by_status_and_source(agent, api_as):
    wanted = LeadFactory(status="qualified", source="event")
    LeadFactory(status="qualified", source="campaign")
    LeadFactory(status="new", source="event")
    body = api_as(agent).get(URL, {"status": "qualified", "source": "event"}).json()
    assert [r["id"] for r in body["results"]] == [wanted.pk]
    assert "status" in assert_error(api_as(agent).get(URL, {"status": "sleeping"}), 400)["fields"]


def test_lead_list_query_count_does_not_grow(agent, api_as):
    owner_referrer = CustomerFactory()
    client = api_as(agent)
    LeadFactory.create_batch(2, owner=agent, created_by=agent, referred_by=owner_referrer)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    LeadFactory.create_batch(20, owner=agent, created_by=agent, referred_by=owner_referrer)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(URL).json()["results"]) == 22
    assert len(many.captured_queries) == len(few.captured_queries)


def test_agent_corrects_a_leads_details_without_touching_its_status(agent, api_as):
    lead = LeadFactory(status="contacted")
    response = api_as(agent).patch(detail(lead), {"interest": "Business class to Tokyo", "company": "ACME"}, format="json")
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert (lead.interest, lead.company, lead.status) == ("Business class to Tokyo", "ACME", "contacted")
    assert LeadNote.objects.filter(lead=lead, text__startswith="Details changed").exists()
    assert "status" in assert_error(api_as(agent).patch(detail(lead), {"status": "new"}, format="json"), 400)["fields"]


def test_agent_works_a_lead_through_the_pipeline(agent, api_as):
    lead = LeadFactory()
    client = api_as(agent)
    for status in ("contacted", "qualified"):
        response = client.post(detail(lead, "advance/"), {"status": status, "note": f"now {status}"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
    notes = client.get(detail(lead)).json()["notes"]
    assert [(n["from_status"], n["to_status"]) for n in notes][:2] == [("contacted", "qualified"), ("new", "contacted")]


def test_a_transition_the_pipeline_does_not_allow_is_a_409_and_converting_by_advance_a_400(agent, api_as):
    lead = LeadFactory(status="contacted")
    assert_error(api_as(agent).post(detail(lead, "advance/"), {"status": "new"}, format="json"), 409, "invalid_transition")
    assert_error(api_as(agent).post(detail(lead, "advance/"), {"status": "converted"}, format="json"), 400, "use_convert")


def test_losing_a_lead_needs_a_reason(agent, api_as):
    lead = LeadFactory()
    error = assert_error(api_as(agent).post(detail(lead, "advance/"), {"status": "lost"}, format="json"), 400)
    assert "lost_reason" in error["fields"]
    response = api_as(agent).post(detail(lead, "advance/"), {"status": "lost", "lost_reason": "Chose a rival"}, format="json")
    assert response.json()["lost_reason"] == "Chose a rival"


def test_converting_a_lead_links_it_to_an_existing_customer(agent, api_as):
    lead = LeadFactory(status="qualified")
    customer = CustomerFactory()
    response = api_as(agent).post(detail(lead, "convert/"), {"customer_number": customer.customer_number}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["converted_customer"] == customer.customer_number
    assert TimelineEntry.objects.filter(customer=customer, kind="lead.converted").exists()


def test_converting_without_a_customer_creates_one_from_the_lead(agent, api_as):
    lead = LeadFactory(status="qualified", given_name="Lin", family_name="Wei")
    response = api_as(agent).post(detail(lead, "convert/"), {}, format="json")
    assert response.status_code == 200, response.content
    customer = Customer.objects.get(customer_number=response.json()["converted_customer"])
    assert (customer.given_name, customer.family_name) == ("Lin", "Wei")


def test_marketer_cannot_create_a_customer_by_converting(marketer, api_as):
    lead = LeadFactory(status="qualified")
    assert_error(api_as(marketer).post(detail(lead, "convert/"), {}, format="json"), 403)
    assert not Customer.objects.exists()


def test_converting_twice_is_a_409(agent, api_as):
    lead = LeadFactory(status="qualified")
    client = api_as(agent)
    assert client.post(detail(lead, "convert/"), {}, format="json").status_code == 200
    assert_error(client.post(detail(lead, "convert/"), {}, format="json"), 409, "already_converted")


def test_converting_to_an_unknown_customer_is_a_400(agent, api_as):
    lead = LeadFactory(status="qualified")
    error = assert_error(api_as(agent).post(detail(lead, "convert/"), {"customer_number": "ZZZZZZZZ"}, format="json"), 400)
    assert "customer_number" in error["fields"]


@pytest.mark.parametrize("lead_id", ["0", "abc", "99999999999999999999999", "-1", "1.5"])
def test_unknown_or_malformed_lead_ids_are_a_404(agent, api_as, lead_id):
    assert_error(api_as(agent).get(f"{URL}{lead_id}/"), 404, "not_found")
