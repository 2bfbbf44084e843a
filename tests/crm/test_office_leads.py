"""Back-office leads: marketing hands prospects to sales, sales works the pipeline and converts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Customer, Lead, LeadNote, TimelineEntry
from crm.permissions import ANALYST
from crm.services import customer_create
from tests.crm.factories import CustomerFactory, LeadFactory

LIST = reverse("office:lead_list")
CREATE = reverse("office:lead_create")
CONVERTED = reverse("office:lead_converted")


def lead_url(lead, name: str = "lead_detail") -> str:
    return reverse(f"office:{name}", args=[lead.pk])


@pytest.fixture
def referrer(db):
    return customer_create(data={"given_name": "Rita", "family_name": "Referrer", "email": "rita@example.com"})


# --- Handing a lead to sales ----------------------------------------------------------------


def test_marketer_hands_a_referral_to_sales_naming_the_referring_customer(marketer_client, marketer, referrer, agent):
    # when a marketer records a prospect Rita referred, for agent1 to work
    data = {
        "given_name": "Paul",
        "family_name": "Prospect",
        "email": "PAUL@example.com",
        "phone": "+33142685300",
        "source": "referral",
        "source_detail": "Friends fly free",
        "referred_by": referrer.customer_number.lower(),
        "owner": agent.username,
        "interest": "Family trip to Shanghai",
    }
    response = marketer_client.post(CREATE, data)
    # then the lead is new, linked to Rita, owned by the agent, and the marketer sees it
    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == lead_url(lead)
    assert (lead.status, lead.referred_by, lead.owner, lead.created_by, lead.email) == (
        "new", referrer, agent, marketer, "paul@example.com",
    )  # fmt: skip
    html = marketer_client.get(lead_url(lead)).content.decode()
    assert "Paul Prospect" in html and referrer.customer_number in html


def test_a_referral_from_the_360_starts_with_the_referrer_filled_in(supervisor_client, referrer):
    response = supervisor_client.get(CREATE, {"referred_by": referrer.customer_number})
    form = response.context["form"]
    assert form["referred_by"].value() == referrer.customer_number and form["source"].value() == "referral"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"referred_by": "ZZZZZZZZ"}, "referred_by"),
        ({"referred_by": "bad\x00"}, "referred_by"),
        ({"referred_by": ""}, "referred_by"),
        ({"phone": "12"}, "phone"),
        ({"email": "nope"}, "email"),
        ({"family_name": ""}, "family_name"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"owner": "nobody-here"}, "owner"),
    ],
)
def test_a_bad_lead_form_shows_the_error_and_creates_nothing(marketer_client, db, overrides, field):
    data = {"given_name": "Paul", "family_name": "Prospect", "source": "referral", "referred_by": "ZZZZZZZZ"}
    data.update(overrides)
    response = marketer_client.post(CREATE, data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Lead.objects.count() == 0


def test_agents_and_analysts_may_not_create_leads(agent_client, make_staff, client):
    assert agent_client.get(CREATE).status_code == 403
    client.force_login(make_staff(ANALYST), backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(CREATE, {"given_name": "A", "family_name": "B", "source": "campaign"}).status_code == 403
    assert Lead.objects.count() == 0


# --- The pipeline board ---------------------------------------------------------------------


def test_pipeline_shows_a_column_per_status_with_counts(agent_client):
    # given leads in several statuses
    LeadFactory.create_batch(3, status="new", source="campaign")
    LeadFactory(status="contacted", source="referral", given_name="Carla", family_name="Contacted")
    LeadFactory(status="lost", source="event")
    # when an agent opens the pipeline
    response = agent_client.get(LIST)
    # then there is a column per status, in pipeline order, with its count
    columns = response.context["columns"]
    assert [c["status"] for c in columns] == ["new", "contacted", "qualified", "converted", "lost"]
    assert [c["count"] for c in columns] == [3, 1, 0, 0, 1]
    assert "Carla Contacted" in response.content.decode()


def test_pipeline_filters_by_source(agent_client):
    LeadFactory.create_batch(2, status="new", source="campaign")
    LeadFactory(status="new", source="referral", given_name="Rolf", family_name="Referral")
    response = agent_client.get(LIST, {"source": "referral"})
    assert [c["count"] for c in response.context["columns"]] == [1, 0, 0, 0, 0]
    assert "Rolf Referral" in response.content.decode()


def test_a_long_column_is_capped_with_a_link_to_all_of_it(agent_client):
    # given more new leads than a column shows
    LeadFactory.create_batch(30, status="new")
    # when the board is shown, then the column holds 20 and links to the whole status
    response = agent_client.get(LIST)
    new = response.context["columns"][0]
    assert new["count"] == 30 and len(new["leads"]) == 20
    assert "?status=new" in response.content.decode()
    # and the status list has them all, 25 a page
    page = agent_client.get(LIST, {"status": "new", "page": 2}).context["page_obj"]
    assert page.number == 2 and len(page.object_list) == 5


def test_the_board_query_count_does_not_grow_with_leads(agent_client):
    LeadFactory.create_batch(2, status="new")
    agent_client.get(LIST)
    with CaptureQueriesContext(connection) as few:
        agent_client.get(LIST)
    LeadFactory.create_batch(30, status="qualified", owner=None)
    LeadFactory.create_batch(10, status="new", referred_by=CustomerFactory())
    with CaptureQueriesContext(connection) as many:
        agent_client.get(LIST)
    assert len(few) == len(many)


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"source": "\x00"}, {"page": "x"}, {"status": "new", "page": "-3"}])
def test_bad_filters_never_fail(agent_client, params):
    LeadFactory()
    assert agent_client.get(LIST, params).status_code == 200


# --- Working a lead -------------------------------------------------------------------------


def test_agent_moves_a_lead_along_the_pipeline_with_a_note(agent_client, agent):
    lead = LeadFactory(status="new")
    response = agent_client.post(lead_url(lead, "lead_advance"), {"status": "contacted", "note": "Called, interested"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "contacted"
    note = LeadNote.objects.filter(lead=lead, to_status="contacted").get()
    assert (note.from_status, note.text, note.author) == ("new", "Called, interested", agent)
    assert "Called, interested" in agent_client.get(lead_url(lead)).content.decode()


@pytest.mark.parametrize(
    ("status", "to_status"),
    [("new", "new"), ("contacted", "new"), ("converted", "qualified"), ("new", "converted"), ("lost", "qualified")],
)
def test_an_invalid_transition_shows_an_error_and_changes_nothing(agent_client, status, to_status):
    lead = LeadFactory(status=status)
    notes = LeadNote.objects.filter(lead=lead).count()
    response = agent_client.post(lead_url(lead, "lead_advance"), {"status": to_status})
    assert response.status_code == 200
    assert 'class="form-errors" role="alert"' in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == status
    assert LeadNote.objects.filter(lead=lead).count() == notes


def test_losing_a_lead_needs_a_reason(agent_client):
    lead = LeadFactory(status="contacted")
    response = agent_client.post(lead_url(lead, "lead_advance"), {"status": "lost", "lost_reason": "  "})
    assert response.status_code == 200
    assert "lost_reason" in response.context["advance_form"].errors
    lead.refresh_from_db()
    assert lead.status == "contacted"
    response = agent_client.post(lead_url(lead, "lead_advance"), {"status": "lost", "lost_reason": "Chose a competitor"})
    lead.refresh_from_db()
    assert response.status_code == 302 and (lead.status, lead.lost_reason) == ("lost", "Chose a competitor")


def test_the_detail_offers_only_allowed_moves(agent_client):
    lead = LeadFactory(status="contacted")
    form = agent_client.get(lead_url(lead)).context["advance_form"]
    assert {value for value, _ in form.fields["status"].widget.choices} == {"qualified", "lost"}


def test_agent_adds_a_contact_note(agent_client, agent):
    lead = LeadFactory()
    assert agent_client.post(lead_url(lead, "lead_note"), {"text": "Left a voicemail"}).status_code == 302
    assert LeadNote.objects.filter(lead=lead, text="Left a voicemail", author=agent, to_status="").exists()
    response = agent_client.post(lead_url(lead, "lead_note"), {"text": "   "})
    assert response.status_code == 200 and "text" in response.context["note_form"].errors


# --- Conversion -----------------------------------------------------------------------------


def test_converting_to_an_existing_customer_links_them_for_sales_and_marketing(agent_client, marketer_client, referrer):
    # given a qualified referral and the customer the prospect already is
    lead = LeadFactory(status="qualified", source="referral", referred_by=referrer, given_name="Paul", family_name="Prospect")
    paul = customer_create(data={"given_name": "Paul", "family_name": "Prospect"})
    # when the agent converts the lead to Paul's customer number
    response = agent_client.post(lead_url(lead, "lead_convert"), {"customer": paul.customer_number})
    # then the lead is converted and linked, Paul's timeline says so
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.status, lead.converted_customer) == ("converted", paul)
    assert TimelineEntry.objects.filter(customer=paul, kind="lead.converted").exists()
    # and sales follows Paul from the lead, and Paul's 360 shows where he came from
    paul_360 = reverse("office:customer_detail", args=[paul.customer_number])
    assert paul_360 in agent_client.get(lead_url(lead)).content.decode()
    assert lead_url(lead) in agent_client.get(paul_360).content.decode()
    # and marketing sees the referral became a customer
    converted = marketer_client.get(CONVERTED)
    assert list(converted.context["page_obj"].object_list) == [lead]
    assert paul.customer_number in converted.content.decode() and referrer.customer_number in converted.content.decode()
    # and Rita's 360 lists her referral, now a customer
    assert (
        paul.customer_number
        in agent_client.get(reverse("office:customer_detail", args=[referrer.customer_number])).content.decode()
    )


def test_converting_without_a_customer_number_creates_the_customer(agent_client):
    lead = LeadFactory(status="new", given_name="Nina", family_name="New", email="nina@example.com")
    assert agent_client.post(lead_url(lead, "lead_convert"), {"customer": ""}).status_code == 302
    lead.refresh_from_db()
    assert lead.status == "converted"
    assert lead.converted_customer == Customer.objects.get(email="nina@example.com")


def test_a_marketer_cannot_create_a_customer_by_converting(marketer_client):
    lead = LeadFactory(status="qualified")
    response = marketer_client.post(lead_url(lead, "lead_convert"), {"customer": ""})
    assert response.status_code == 200
    assert "customer" in response.context["convert_form"].errors
    lead.refresh_from_db()
    assert lead.status == "qualified" and Customer.objects.count() == 0


@pytest.mark.parametrize("status", ["lost", "converted"])
def test_lost_or_converted_leads_cannot_be_converted(agent_client, status):
    customer = CustomerFactory()
    lead = LeadFactory(status=status)
    response = agent_client.post(lead_url(lead, "lead_convert"), {"customer": customer.customer_number})
    assert response.status_code == 200
    assert response.context["convert_form"].errors
    lead.refresh_from_db()
    assert lead.status == status and lead.converted_customer is None


def test_converting_to_an_unknown_customer_number_changes_nothing(agent_client):
    lead = LeadFactory(status="qualified")
    response = agent_client.post(lead_url(lead, "lead_convert"), {"customer": "ZZZZZZZZ"})
    assert response.status_code == 200
    assert response.context["convert_form"].errors["customer"] == ["No customer with that number."]
    lead.refresh_from_db()
    assert lead.status == "qualified"


def test_analysts_may_look_but_not_work_leads(make_staff, client):
    client.force_login(make_staff(ANALYST), backend="django.contrib.auth.backends.ModelBackend")
    lead = LeadFactory()
    assert client.get(lead_url(lead)).status_code == 200
    assert "advance_form" not in client.get(lead_url(lead)).context
    assert client.post(lead_url(lead, "lead_advance"), {"status": "contacted"}).status_code == 403
    lead.refresh_from_db()
    assert lead.status == "new"


def test_unknown_or_huge_lead_ids_are_404(agent_client, db):
    for lead_id in [999999, 10**30]:
        assert agent_client.get(f"/office/leads/{lead_id}/").status_code == 404
        assert agent_client.post(f"/office/leads/{lead_id}/advance/", {"status": "contacted"}).status_code == 404
    assert agent_client.get("/office/leads/abc/").status_code == 404


def test_only_sales_staff_can_own_a_lead(supervisor_client, agent, marketer, analyst):
    # given staff in every role
    # when the lead form is shown
    owners = {u.username for u in supervisor_client.get(CREATE).context["form"].fields["owner"].queryset}
    # then agents and supervisors may own the lead, marketers and analysts may not
    assert agent.username in owners and "supervisor1" in owners
    assert marketer.username not in owners and analyst.username not in owners
