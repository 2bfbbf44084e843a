"""The customer registry stands up to a faulty or missing contribution: a panel or API section that raises is
left out, a label is registered once, and a merge proves that nothing still points at the merged-away customer."""

import dataclasses
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from crm import registry, services
from crm.errors import Conflict
from crm.models import Customer, OutboundEmail, TimelineEntry
from reservations.models import Booking
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import BookingFactory

pytestmark = pytest.mark.django_db


def _broken(*args, **kwargs):
    raise RuntimeError("the loyalty database is down")


@pytest.fixture
def broken_extension():
    registry.register(registry.CustomerExtension(label="test_broken", panel=_broken, api_section=_broken, order=1))
    yield
    registry.unregister("test_broken")


@pytest.fixture
def reservations_without_merger():
    """reservations as if it had forgotten its merger: its tables are then tables no merger handles."""
    original = next(e for e in registry.extensions() if e.label == "reservations")
    registry.unregister("reservations")
    registry.register(dataclasses.replace(original, merger=None))
    yield
    registry.unregister("reservations")
    registry.register(original)


def test_a_panel_that_raises_is_logged_and_left_out_and_the_360_still_renders(agent_client, broken_extension, caplog):
    # given a registered panel that raises
    customer = CustomerFactory()
    # when an agent opens the customer 360
    with caplog.at_level(logging.ERROR, logger="crm.registry"):
        response = agent_client.get(reverse("office:customer_detail", args=[customer.customer_number]))
    # then the page renders with the other apps' panels, and the failure is logged with its traceback
    assert response.status_code == 200
    html = response.content.decode()
    assert "Consent" in html and customer.family_name in html
    failures = [r for r in caplog.records if "test_broken" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info and "loyalty database" in str(failures[0].exc_info[1])


def test_registering_the_same_label_twice_is_an_error():
    with pytest.raises(ImproperlyConfigured, match="reservations"):
        registry.register(registry.CustomerExtension(label="reservations"))
    # and the first registration still stands
    assert next(e for e in registry.extensions() if e.label == "reservations").merger is not None


def test_registering_the_same_attribute_or_attachment_twice_is_an_error():
    existing = registry.attributes()[0]
    with pytest.raises(ImproperlyConfigured):
        registry.register_attribute(dataclasses.replace(existing))
    with pytest.raises(ImproperlyConfigured):
        registry.register_attachment("reservations.eticket_receipt_pdf", lambda params: None)


def test_a_merge_is_refused_and_rolled_back_when_a_table_no_merger_handles_still_points_at_the_loser(
    supervisor, reservations_without_merger
):
    # given a duplicate with a timeline (crm moves it) and a booking (no merger moves it any more)
    survivor, loser = CustomerFactory(), CustomerFactory()
    services.timeline_record(customer=loser, kind="note", summary="Called about a refund")
    booking = BookingFactory(customer=loser)
    # when a supervisor merges them
    with pytest.raises(Conflict) as refused:
        services.customer_merge(survivor=survivor, loser=loser, by=supervisor)
    # then the merge is refused, naming the table, and nothing changed: not even what crm had already moved
    assert refused.value.code == "merge_incomplete"
    assert "reservations.Booking" in refused.value.message
    assert Customer.objects.filter(pk=loser.pk).exists()
    assert Booking.objects.get(pk=booking.pk).customer_id == loser.pk
    assert TimelineEntry.objects.filter(customer=loser, kind="note").count() == 1
    assert not TimelineEntry.objects.filter(customer=survivor).exists()


def test_the_merge_api_answers_409_in_the_error_shape_when_the_merge_is_refused(supervisor, api_as, reservations_without_merger):
    survivor, loser = CustomerFactory(), CustomerFactory()
    BookingFactory(customer=loser)
    response = api_as(supervisor).post(
        f"/api/v1/customers/{survivor.customer_number}/merge/", {"loser": loser.customer_number}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "merge_incomplete"
    assert Customer.objects.filter(pk=loser.pk).exists()


def test_a_merge_moves_every_row_that_points_at_the_loser_including_its_emails(supervisor):
    # given a duplicate with queued e-mail, a booking and a timeline
    survivor, loser = CustomerFactory(), CustomerFactory()
    email = OutboundEmail.objects.create(to=loser.email or "x@example.com", template="crm/verify", customer=loser)
    booking = BookingFactory(customer=loser)
    # when merged
    services.customer_merge(survivor=survivor, loser=loser, by=supervisor)
    # then the loser is gone and everything that was theirs now points at the survivor
    assert not Customer.objects.filter(pk=loser.pk).exists()
    assert OutboundEmail.objects.get(pk=email.pk).customer_id == survivor.pk
    assert Booking.objects.get(pk=booking.pk).customer_id == survivor.pk


def test_references_count_every_row_pointing_at_a_customer_whatever_its_delete_rule():
    customer = CustomerFactory()
    services.timeline_record(customer=customer, kind="note", summary="x")  # CASCADE
    BookingFactory(customer=customer)  # SET_NULL
    services.consent_record(customer=customer, channel="email", purpose="marketing", granted=True, source="office")  # PROTECT
    found = registry.references(customer)
    assert found["crm.TimelineEntry"] == TimelineEntry.objects.filter(customer=customer).count() >= 1
    assert found["reservations.Booking"] == 1 and found["crm.ConsentEvent"] == 1
    assert registry.references(CustomerFactory()) == {}


def test_the_360_api_has_each_apps_section_for_those_who_may_see_it(agent, marketer, api_as, broken_extension, caplog):
    # given a customer with a booking, and a section that raises
    customer = CustomerFactory()
    BookingFactory(customer=customer)
    url = f"/api/v1/customers/{customer.customer_number}/360/"
    # when an agent (who sees bookings) and a marketer (who does not) read the 360
    with caplog.at_level(logging.ERROR, logger="crm.registry"):
        as_agent = api_as(agent).get(url)
    as_marketer = api_as(marketer).get(url)
    # then each gets the record and the sections their role opens; the failing one is left out and logged
    assert as_agent.status_code == 200 and as_marketer.status_code == 200
    body = as_agent.json()
    assert body["customer"]["customer_number"] == customer.customer_number
    assert set(body["sections"]) == {"crm", "reservations", "loyalty"}
    assert len(body["sections"]["reservations"]["bookings"]) == 1
    assert body["sections"]["reservations"]["flights_last_12_months"] == 0
    assert {c["channel"] for c in body["sections"]["crm"]["consents"]} >= {"email"}
    assert set(as_marketer.json()["sections"]) == {"crm", "loyalty"}  # marketers see members, not bookings
    assert any("test_broken" in r.getMessage() for r in caplog.records)


def test_a_passenger_cannot_read_anyones_360(passenger, api_as):
    _user, own = passenger
    response = api_as(passenger[0]).get(f"/api/v1/customers/{own.customer_number}/360/")
    assert response.status_code == 404


def _queries_for_360(client, customer) -> int:  # noqa: ANN001
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/customers/{customer.customer_number}/360/")
    assert response.status_code == 200
    return len(queries)


def test_the_360_api_costs_the_same_queries_for_one_booking_or_eight(agent, api_as):
    from tests.reservations.factories import BookingPassengerFactory, SegmentFactory

    client = api_as(agent)
    few, many = CustomerFactory(), CustomerFactory()
    for customer, bookings in ((few, 1), (many, 8)):
        for _ in range(bookings):
            booking = BookingFactory(customer=customer)
            BookingPassengerFactory(booking=booking, sequence=1, customer=customer)
            SegmentFactory(booking=booking)
    _queries_for_360(client, few)  # warm the permission and content-type caches
    assert _queries_for_360(client, few) == _queries_for_360(client, many)
