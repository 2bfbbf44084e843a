"""Bookings on the one customer record: the 360 panel, "download my data", erasure, merge and the
office search box, all reached through crm's registry as crm itself uses it."""

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import registry
from crm.selectors import customer_search
from crm.services import customer_create, customer_erase, customer_export, customer_merge
from reservations.models import Booking, BookingPassenger, CheckIn, Coupon, Payment, Refund, Ticket, TravelVoucher
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import PASSPORT, book, logged_in, pay_ticket_and_check_in


@pytest.fixture
def zenobia(db):
    return customer_create(data={"given_name": "Zenobia", "family_name": "Quaresma", "email": "zq@example.com"})


@pytest.fixture
def her_trip(zenobia):
    """Zenobia booked for herself and a friend without a record of their own; paid, ticketed, checked in."""
    booking = book(customer=zenobia, names=[("Zenobia", "Quaresma"), ("Octavia", "Thistlewood")], travellers=[zenobia, None])
    return pay_ticket_and_check_in(booking, refund=True)


def test_the_reservations_extension_is_registered_at_start_up():
    # given the app registry is ready, when we list the customer extensions
    labels = [ext.label for ext in registry.extensions()]
    # then reservations contributes every part of the record
    assert "reservations" in labels
    ext = next(e for e in registry.extensions() if e.label == "reservations")
    assert all([ext.panel, ext.exporter, ext.eraser, ext.merger, ext.searcher])


# --- Customer 360 -----------------------------------------------------------------------------


def test_the_360_shows_bookings_with_status_flights_tickets_payments_and_check_ins(agent, zenobia, her_trip):
    # when an agent opens the customer 360
    response = logged_in(agent).get(reverse("office:customer_detail", args=[zenobia.customer_number]))
    # then the bookings panel lists the booking, linked to its office page, with what happened on it
    html = response.content.decode()
    assert response.status_code == 200
    booking_url = reverse("reservations_office:booking_detail", args=[her_trip.record_locator])
    assert f'href="{booking_url}"' in html
    ticket = her_trip.tickets.first()
    assert ticket.number in html
    assert "4242" in html and "Ticketed" in html
    assert her_trip.segments.first().flight.flight_code in html
    assert reverse("reservations_office:book_search", args=[zenobia.customer_number]) in html


def test_the_bookings_panel_is_left_out_for_roles_that_may_not_see_bookings(marketer, zenobia, her_trip):
    # when a marketer (customer view, no bookings) opens the customer 360
    response = logged_in(marketer).get(reverse("office:customer_detail", args=[zenobia.customer_number]))
    # then the page works and shows no booking
    assert response.status_code == 200
    assert her_trip.record_locator not in response.content.decode()


def test_the_360_runs_the_same_number_of_queries_however_many_bookings(agent, zenobia, django_assert_max_num_queries):
    # given a customer with one booking, and the page's query count
    client = logged_in(agent)
    url = reverse("office:customer_detail", args=[zenobia.customer_number])
    pay_ticket_and_check_in(book(customer=zenobia, names=[("Zenobia", "Quaresma")], travellers=[zenobia]))
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    # when she has many more bookings with more passengers on other flights
    for _ in range(6):
        booking = book(customer=zenobia, flight=FlightFactory(), names=[("Zenobia", "Quaresma"), ("Ann", "Other")])
        pay_ticket_and_check_in(booking)
    # then the 360 needs no more queries than before
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert client.get(url).status_code == 200


# --- Download my data -------------------------------------------------------------------------


def test_download_my_data_holds_bookings_passengers_flights_money_tickets_and_check_ins(zenobia, her_trip):
    # when the customer's data is exported through crm
    data = json.loads(json.dumps(customer_export(customer=zenobia), cls=DjangoJSONEncoder))
    # then the reservations part holds the booking with everything on it
    (booking,) = data["reservations"]["bookings"]
    assert booking["record_locator"] == her_trip.record_locator and booking["booked_by_you"] is True
    assert [p["given_name"] for p in booking["passengers"]] == ["Zenobia", "Octavia"]
    assert booking["passengers"][0]["document_number"] == f"{PASSPORT}0"
    (segment,) = booking["segments"]
    assert segment["flight"] == her_trip.segments.get().flight.flight_code
    assert len(segment["seats"]) == 2 and len(segment["check_ins"]) == 2
    assert segment["check_ins"][0]["bags"] == 1
    assert {c["kind"] for c in booking["charges"]} == {"fare", "tax"}
    (payment,) = booking["payments"]
    assert payment["card_brand"] == "VISA" and payment["card_last4"] == "4242"
    assert "tok_test" not in json.dumps(data)
    assert booking["refunds"][0]["amount"] == "10.00"
    assert len(booking["tickets"]) == 2 and booking["tickets"][0]["coupons"][0]["status"] == "checked_in"


def test_a_traveller_on_someone_elses_booking_gets_only_their_own_part(zenobia):
    # given Zenobia travels on a booking her colleague made for two people
    colleague = CustomerFactory()
    booking = book(customer=colleague, names=[("Bob", "Booker"), ("Zenobia", "Quaresma")], travellers=[colleague, zenobia])
    pay_ticket_and_check_in(booking)
    # when Zenobia's data is exported
    (exported,) = customer_export(customer=zenobia)["reservations"]["bookings"]
    # then she gets her own passenger record and ticket, not the colleague's data or payments
    assert exported["booked_by_you"] is False
    assert [p["given_name"] for p in exported["passengers"]] == ["Zenobia"]
    assert len(exported["tickets"]) == 1
    assert "payments" not in exported and "contact_email" not in exported
    assert "Booker" not in json.dumps(exported, cls=DjangoJSONEncoder)


# --- Erasure ----------------------------------------------------------------------------------


def test_erasure_removes_the_travellers_names_and_documents_but_keeps_money_and_tickets(zenobia, her_trip):
    # given the money and travel records on the booking
    counts = {m: m.objects.count() for m in (Payment, Refund, Ticket, Coupon, CheckIn)}
    # when the customer is erased
    customer_erase(customer=zenobia)
    # then no passenger of hers keeps a name, birth date, document or contact
    for p in BookingPassenger.objects.filter(booking=her_trip):
        assert (p.given_name, p.family_name) == ("Erased", "Erased")
        assert p.date_of_birth is None and not p.document_number and not p.meal
    booking = Booking.objects.get(pk=her_trip.pk)
    assert booking.contact_email == "" and not booking.contact_phone
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reservations_bookingpassenger WHERE given_name IN ('Zenobia', 'Octavia')")
        assert cursor.fetchone()[0] == 0
    # and the payments (brand and last 4), refunds, tickets, coupons and check-ins are all still there
    assert {m: m.objects.count() for m in counts} == counts
    assert Payment.objects.get(booking=her_trip).card_last4 == "4242"
    assert booking.total_amount > 0 and booking.paid_amount == booking.total_amount


def test_erasure_leaves_co_travellers_with_their_own_record_alone(zenobia):
    # given Zenobia booked for herself and a friend who has a customer record of her own
    friend = CustomerFactory(given_name="Philippa", family_name="Own")
    booking = book(customer=zenobia, names=[("Zenobia", "Quaresma"), ("Philippa", "Own")], travellers=[zenobia, friend])
    # when Zenobia is erased
    customer_erase(customer=zenobia)
    # then only Zenobia's passenger record is anonymized
    names = list(booking.passengers.order_by("sequence").values_list("given_name", flat=True))
    assert names == ["Erased", "Philippa"]


# --- Merge ------------------------------------------------------------------------------------


def test_merging_duplicates_moves_bookings_passengers_and_vouchers_to_the_survivor(supervisor, zenobia):
    # given a duplicate record that made a booking, travels on it, and holds a voucher
    duplicate = CustomerFactory(given_name="Zenobia", family_name="Quaresma")
    booking = book(customer=duplicate, names=[("Zenobia", "Quaresma")], travellers=[duplicate])
    voucher = TravelVoucher.objects.create(
        code="GOODWILL01", customer=duplicate, initial_amount=50, balance=50, expires_on="2099-01-01"
    )
    # when the duplicate is merged into the survivor
    record = customer_merge(survivor=zenobia, loser=duplicate, by=supervisor)
    # then everything points at the survivor, and the counts are recorded
    assert Booking.objects.get(pk=booking.pk).customer == zenobia
    assert booking.passengers.get().customer == zenobia
    voucher.refresh_from_db()
    assert voucher.customer == zenobia
    assert record.moved["reservations"] == {"bookings": 1, "passengers": 1, "travel_vouchers": 1}


# --- Office search box ------------------------------------------------------------------------


def test_the_office_search_box_finds_the_customer_by_booking_reference(agent, zenobia, her_trip):
    # when an agent types the booking reference, in lower case with a space, into the customer search
    query = f"{her_trip.record_locator[:3].lower()} {her_trip.record_locator[3:].lower()}"
    response = logged_in(agent).get(reverse("office:customer_search"), {"q": query})
    # then the customer who booked is found
    assert response.status_code == 200
    assert zenobia in response.context["results"]


def test_the_office_search_box_finds_travellers_and_booker_by_ticket_number(zenobia):
    # given a booking made by a colleague on which Zenobia travels, ticketed
    colleague = CustomerFactory()
    booking = book(customer=colleague, names=[("Bob", "Booker"), ("Zenobia", "Quaresma")], travellers=[None, zenobia])
    pay_ticket_and_check_in(booking)
    ticket = Ticket.objects.get(passenger__customer=zenobia)
    # when someone searches for her 13-digit ticket number, written with a dash
    found = customer_search(query=f"{ticket.number[:3]}-{ticket.number[3:]}")
    # then Zenobia (the traveller) and her colleague (who booked) are found, nobody else
    assert set(found) == {zenobia, colleague}


def test_an_unknown_reference_finds_nobody(zenobia, her_trip):
    assert registry.search("ZZZZ22") == set()
    assert registry.search("8789999999999") == set()
