"""Back-office customer pages: the 360, create and edit, consent by phone, timeline and change history."""

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import registry
from crm.models import ConsentEvent, Customer, CustomerAccess, TimelineEntry
from crm.permissions import MARKETER
from crm.services import consent_record, customer_access_record, customer_create, lead_create, timeline_record

PASSPORT = "K7654321"
NATIONAL_ID = "ID99887766"


def detail(customer, page: str = "customer_detail") -> str:
    return reverse(f"office:{page}", args=[customer.customer_number])


@pytest.fixture
def documented(db):
    return customer_create(
        data={
            "given_name": "Grace",
            "family_name": "Hopper",
            "email": "grace@example.com",
            "phone": "+442079460958",
            "passport_number": PASSPORT,
            "national_id_number": NATIONAL_ID,
            "home_airport": "JFK",
            "special_assistance": ["WCHR"],
        }
    )


@pytest.fixture
def editor_without_documents(make_staff, client):
    """A marketer who was also allowed to edit profiles, but still not to see documents."""
    user = make_staff(MARKETER, username="marketeditor")
    user.user_permissions.add(Permission.objects.get(codename="change_customer", content_type__app_label="crm"))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def valid_form(**overrides) -> dict:
    data = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+442079460958",
        "seat_preference": "aisle",
        "preferred_language": "en",
        "home_airport": "lhr",
        "special_assistance": ["WCHR", "DEAF"],
        "travel_purposes": ["business"],
    }
    data.update(overrides)
    return data


def current_form_data(client, customer) -> dict:
    """What the edit form posts back when nobody touches it."""
    form = client.get(detail(customer, "customer_edit")).context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return data


# --- The 360 and its audit ------------------------------------------------------------------


def test_opening_the_360_writes_an_access_row(agent_client, agent, documented):
    # when an agent opens the customer 360
    response = agent_client.get(detail(documented))
    # then the page shows the customer and the access is logged: who, which customer, which page
    assert response.status_code == 200
    access = CustomerAccess.objects.get()
    assert (access.user, access.customer, access.surface) == (agent, documented, "office")
    assert access.path == detail(documented)
    assert access.view_name == "office:customer_detail"


@pytest.mark.parametrize("page", ["customer_edit", "customer_timeline", "customer_history"])
def test_every_customer_page_is_audited(supervisor_client, supervisor, documented, page):
    response = supervisor_client.get(detail(documented, page))
    assert response.status_code == 200
    access = CustomerAccess.objects.get()
    assert (access.user, access.customer, access.view_name) == (supervisor, documented, f"office:{page}")


def test_marketer_sees_the_passport_masked_and_never_in_clear(marketer_client, documented):
    # when a marketer opens the 360
    response = marketer_client.get(detail(documented))
    html = response.content.decode()
    # then document numbers are masked and the plaintext is nowhere in the page
    assert response.status_code == 200
    assert PASSPORT not in html and NATIONAL_ID not in html
    assert "••••••21" in html
    # and they may not edit the record at all
    assert marketer_client.get(detail(documented, "customer_edit")).status_code == 403


def test_agent_sees_the_passport_on_the_360_and_in_the_edit_form(agent_client, documented):
    assert PASSPORT in agent_client.get(detail(documented)).content.decode()
    form_html = agent_client.get(detail(documented, "customer_edit")).content.decode()
    assert f'value="{PASSPORT}"' in form_html and f'value="{NATIONAL_ID}"' in form_html


def test_editor_without_document_permission_sees_masked_numbers_and_cannot_change_them(editor_without_documents, documented):
    client = editor_without_documents
    # when they open the edit form
    html = client.get(detail(documented, "customer_edit")).content.decode()
    # then the numbers are masked, not editable, and not in the HTML
    assert PASSPORT not in html and NATIONAL_ID not in html
    assert "••••••21" in html
    assert 'name="passport_number"' not in html
    # and a crafted post that sets them changes only the permitted fields
    data = valid_form(given_name="Grace", family_name="Hopper", passport_number="Z0000000", national_id_number="X1")
    response = client.post(detail(documented, "customer_edit"), data)
    assert response.status_code == 302
    documented.refresh_from_db()
    assert documented.passport_number == PASSPORT and documented.national_id_number == NATIONAL_ID
    assert documented.seat_preference == "aisle"


def test_the_360_shows_every_registered_panel(agent_client, documented):
    # given another app's panel on the 360
    registry.register(
        registry.CustomerExtension(
            label="test_panel",
            panel=lambda request, customer: registry.Panel(
                title="Frequent flyer", template="office/crm/panels/consent.html", context={"consents": {}}, order=5
            ),
        )
    )
    try:
        html = agent_client.get(detail(documented)).content.decode()
    finally:
        registry._extensions.pop("test_panel")
    # then both that panel and crm's own consent panel are there, each under its title
    assert "<h2" in html and "Frequent flyer" in html and "Consent" in html
    assert html.count("<h1") == 1


def test_unknown_or_malformed_customer_numbers_are_404(agent_client, db):
    for number in ["ZZZZZZZZ", "not-a-number", "A" * 40, "%00", "ÄÖÜ"]:
        for page in ["customer_detail", "customer_edit", "customer_timeline", "customer_history"]:
            url = reverse(f"office:{page}", args=[number])
            assert agent_client.get(url).status_code == 404, url
    assert CustomerAccess.objects.count() == 0


def test_an_erased_customer_is_404(agent_client, documented):
    from crm.services import customer_erase

    customer_erase(customer=documented)
    assert agent_client.get(detail(documented)).status_code == 404


def test_the_360_query_count_does_not_grow_with_history(agent_client, agent):
    def make(n: int) -> Customer:
        customer = customer_create(data={"given_name": "Query", "family_name": f"Count{n}", "passport_number": f"P{n}0000"})
        for i in range(n):
            timeline_record(customer=customer, kind="test.event", summary=f"Event {i}", actor=agent)
            consent_record(customer=customer, channel="email", purpose="marketing", granted=i % 2 == 0, source="office", by=agent)
            customer_access_record(customer=customer, user=agent, surface="office", path="/x")
            lead_create(data={"given_name": "Ref", "family_name": str(i), "source": "referral", "referred_by": customer})
        return customer

    small, large = make(1), make(30)
    agent_client.get(detail(small))  # warm caches (content types, permissions)
    counts = []
    for customer in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = agent_client.get(detail(customer))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 30


def test_timeline_is_newest_first_and_paginated(agent_client, agent):
    # given 45 timeline entries (plus the creation entry)
    customer = customer_create(data={"given_name": "Time", "family_name": "Line"})
    start = timezone.now() - dt.timedelta(days=1)
    for i in range(45):
        timeline_record(
            customer=customer, kind="test.event", summary=f"Event {i:02d}", occurred_at=start + dt.timedelta(minutes=i)
        )
    # when the 360 is opened, then the newest 20 show, newest first
    first = agent_client.get(detail(customer))
    page = first.context["timeline_page"]
    assert [e.summary for e in page.object_list][:2] == ["Customer record created", "Event 44"]
    assert len(page.object_list) == 20 and page.paginator.num_pages == 3
    assert "?page=2#timeline" in first.content.decode()
    # and page 3 holds the oldest
    third = agent_client.get(detail(customer), {"page": 3}).context["timeline_page"]
    assert third.object_list[len(third.object_list) - 1].summary == "Event 00"


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999", "1e9", "\x00", "9" * 50])
def test_bad_page_numbers_land_on_a_real_page(agent_client, documented, page):
    for name in ["customer_detail", "customer_timeline", "customer_history"]:
        assert agent_client.get(detail(documented, name), {"page": page}).status_code == 200


def test_timeline_page_lists_entries(agent_client, documented):
    timeline_record(customer=documented, kind="booking.created", summary="Booked AU123 LHR-JFK")
    html = agent_client.get(detail(documented, "customer_timeline")).content.decode()
    assert "Booked AU123 LHR-JFK" in html and "booking.created" in html


def test_marketer_sees_no_timeline_and_analyst_no_consent(marketer_client, documented, make_staff, client):
    from crm.permissions import ANALYST

    timeline_record(customer=documented, kind="booking.created", summary="Booked AU123 LHR-JFK")
    assert "Booked AU123" not in marketer_client.get(detail(documented)).content.decode()
    assert marketer_client.get(detail(documented, "customer_timeline")).status_code == 403
    consent_record(customer=documented, channel="sms", purpose="marketing", granted=True, source="portal", method="secret-method")
    client.force_login(make_staff(ANALYST), backend="django.contrib.auth.backends.ModelBackend")
    assert "secret-method" not in client.get(detail(documented)).content.decode()


# --- Create ---------------------------------------------------------------------------------

CREATE = reverse("office:customer_create")


def test_agent_creates_a_customer_without_a_portal_login(agent_client, agent):
    # when an agent fills in the form
    response = agent_client.post(CREATE, valid_form(passport_number="k 123 4567"))
    # then the customer exists, without a login, and the agent lands on the 360
    customer = Customer.objects.get(email="ada@example.com")
    assert response.status_code == 302 and response["Location"] == detail(customer)
    assert customer.user is None
    assert customer.home_airport == "LHR"
    assert customer.special_assistance == ["WCHR", "DEAF"] and customer.travel_purposes == ["business"]
    assert customer.passport_number == "K1234567"
    assert TimelineEntry.objects.filter(customer=customer, kind="customer.created", actor=agent).exists()


def test_create_form_uses_checkboxes_and_labels_every_input(agent_client):
    html = agent_client.get(CREATE).content.decode()
    assert 'type="checkbox" name="special_assistance" value="WCHR"' in html
    assert 'type="checkbox" name="travel_purposes" value="business"' in html
    assert 'name="passport_number"' in html  # agents may set documents
    assert '<label for="id_given_name"' in html and '<label for="id_phone"' in html


def test_an_invalid_phone_shows_the_error_and_creates_nothing(agent_client):
    response = agent_client.post(CREATE, valid_form(phone="12345"))
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert "Enter a valid phone number" in response.content.decode()
    assert Customer.objects.count() == 0


def test_an_unknown_airport_from_the_service_becomes_a_field_error(agent_client):
    response = agent_client.post(CREATE, valid_form(home_airport="QQQ"))
    assert response.status_code == 200
    assert response.context["form"].errors["home_airport"] == ["Unknown IATA airport code."]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"given_name": ""},
        {"email": "not-an-email"},
        {"date_of_birth": "2999-01-01"},
        {"date_of_birth": "31/31/31"},
        {"home_airport": "L1"},
        {"special_assistance": ["NOPE"]},
        {"nationality": "XX"},
        {"given_name": "a\x00b"},
        {"emergency_contact_phone": "call me"},
    ],
)
def test_bad_input_is_a_form_error_never_a_500(agent_client, overrides):
    response = agent_client.post(CREATE, valid_form(**overrides))
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Customer.objects.count() == 0


def test_marketer_may_not_create_customers(marketer_client):
    assert marketer_client.post(CREATE, valid_form()).status_code == 403
    assert Customer.objects.count() == 0


# --- Edit and change history ----------------------------------------------------------------


def test_editing_records_who_changed_what_from_what_to_what(agent_client, agent, documented):
    # given Grace's record; when an agent changes her phone and meal
    data = current_form_data(agent_client, documented) | {"phone": "+14155550123", "meal_preference": "VGML"}
    response = agent_client.post(detail(documented, "customer_edit"), data)
    assert response.status_code == 302
    # then the change log keeps the agent, the old and the new value
    entry = LogEntry.objects.get_for_object(documented).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == agent
    assert entry.changes_dict["phone"] == ["+442079460958", "+14155550123"]
    # and the history page shows it, as from → to
    html = agent_client.get(detail(documented, "customer_history")).content.decode()
    assert "+442079460958" in html and "+14155550123" in html and "→" in html
    assert "Vegan meal" in html and agent.username in html
    # and the 360 shows recent changes too
    assert "+14155550123" in agent_client.get(detail(documented)).content.decode()


def test_a_passport_change_is_logged_only_as_a_change_never_in_clear(agent_client, documented):
    data = current_form_data(agent_client, documented) | {"passport_number": "N9999999"}
    assert agent_client.post(detail(documented, "customer_edit"), data).status_code == 302
    entries = LogEntry.objects.get_for_object(documented)
    for entry in entries:
        assert "N9999999" not in str(entry.changes) and PASSPORT not in str(entry.changes)
    update = entries.filter(action=LogEntry.Action.UPDATE).get()
    assert set(update.changes_dict) == {"passport_hash"}
    html = agent_client.get(detail(documented, "customer_history")).content.decode()
    assert "Passport number" in html and "N9999999" not in html and PASSPORT not in html


def test_saving_an_unchanged_form_changes_nothing(agent_client, documented):
    response = agent_client.post(detail(documented, "customer_edit"), current_form_data(agent_client, documented))
    assert response.status_code == 302
    assert not LogEntry.objects.get_for_object(documented).filter(action=LogEntry.Action.UPDATE).exists()
    assert not TimelineEntry.objects.filter(customer=documented, kind="profile.changed").exists()


def test_an_invalid_edit_changes_nothing(agent_client, documented):
    data = valid_form(given_name="Grace", family_name="", phone="nope")
    response = agent_client.post(detail(documented, "customer_edit"), data)
    assert response.status_code == 200
    assert {"family_name", "phone"} <= set(response.context["form"].errors)
    documented.refresh_from_db()
    assert documented.family_name == "Hopper" and str(documented.phone) == "+442079460958"


# --- Consent by phone -----------------------------------------------------------------------


def test_agent_records_a_consent_given_by_phone(agent_client, agent, documented):
    # when an agent records an SMS marketing consent the customer gave on the phone
    url = detail(documented, "customer_consent")
    response = agent_client.post(url, {"channel": "sms", "purpose": "marketing", "answer": "granted", "method": "Phone call"})
    # then it is in the history as the agent's, from the office, and shows on the 360
    assert response.status_code == 302 and response["Location"].endswith("#consent")
    event = ConsentEvent.objects.get(customer=documented)
    assert (event.channel, event.purpose, event.granted, event.source, event.method, event.recorded_by) == (
        "sms", "marketing", True, "office", "Phone call", agent,
    )  # fmt: skip
    html = agent_client.get(detail(documented)).content.decode()
    assert "Granted" in html and "Phone call" in html


def test_an_invalid_consent_form_changes_nothing(agent_client, documented):
    url = detail(documented, "customer_consent")
    response = agent_client.post(url, {"channel": "pigeon", "purpose": "marketing", "answer": "granted", "method": ""})
    assert response.status_code == 200
    assert {"channel", "method"} <= set(response.context["consent_form"].errors)
    assert ConsentEvent.objects.count() == 0


def test_consent_cannot_be_recorded_with_get_or_by_a_marketer(agent_client, marketer_client, documented):
    url = detail(documented, "customer_consent")
    assert agent_client.get(url).status_code == 405
    data = {"channel": "sms", "purpose": "marketing", "answer": "granted", "method": "x"}
    assert marketer_client.post(url, data).status_code == 403
    assert ConsentEvent.objects.count() == 0
