"""A passenger searches, books two adults and an infant, pays, gets the e-ticket e-mail, checks in with a
seat and a bag and opens the boarding pass, in a real browser."""

import re
from datetime import timedelta

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from crm.permissions import PASSENGER
from reservations import services
from reservations.models import Booking, BookingStatus, CheckIn
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory, UserFactory
from tests.reservations.portal_support import TEST_CARD, make_flight


def test_passenger_books_a_family_pays_checks_in_with_seat_and_bag_and_opens_the_boarding_pass(
    transactional_db, page, assert_accessible
):
    # given the airline's fares, a flight to Paris in three hours (check-in is open) and a registered passenger
    services.fares_ensure()
    flight = make_flight("LHR", "CDG", at=(timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0))
    user = UserFactory(username="mei.chen@example.com", roles=[PASSENGER])
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    CustomerFactory(user=user, email=user.email, given_name="Mei", family_name="Chen")

    # when she searches a one-way trip for two adults and an infant
    page.goto("/flights/")
    assert_accessible(page)
    page.get_by_label("One way").check()
    page.locator("#id_origin").select_option("LHR")
    page.locator("#id_destination").select_option("CDG")
    page.get_by_label("Departure date").fill(flight.service_date.isoformat())
    page.get_by_label("Adults (12+)").fill("2")
    page.get_by_label("Infants (under 2)").fill("1")
    page.get_by_role("button", name="Search flights").click()
    expect(page.get_by_role("table")).to_contain_text(flight.flight_code)
    assert_accessible(page)

    # and chooses the Standard fare, logging in when asked
    page.locator(f'input[name="leg1"][value="{flight.pk}:ECO_STANDARD"]').check()
    page.get_by_role("button", name="Continue to traveller details").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("E-mail address").fill("mei.chen@example.com")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # and enters the travellers (she is pre-filled from her record)
    expect(page.get_by_role("heading", level=1)).to_have_text("Traveller details")
    expect(page.locator("#id_p1-given_name")).to_have_value("Mei")
    assert_accessible(page)
    page.locator("#id_p2-given_name").fill("Wei")
    page.locator("#id_p2-family_name").fill("Chen")
    page.locator("#id_p3-given_name").fill("Bao")
    page.locator("#id_p3-family_name").fill("Chen")
    page.locator("#id_p3-date_of_birth").fill((timezone.localdate() - timedelta(days=200)).isoformat())
    page.get_by_role("button", name="Hold my seats and continue").click()

    # and, at the seats step before paying, takes seat 4B for Wei
    expect(page.get_by_role("navigation", name="Booking steps").locator('[aria-current="step"]')).to_contain_text("Seats")
    assert_accessible(page)
    booking = Booking.objects.get(customer__user=user)
    assert booking.status == BookingStatus.HELD and booking.infants == 1
    page.get_by_label("Traveller").select_option(label="Wei Chen")
    page.get_by_role("radio", name=re.compile(r"^4B\b")).check()
    page.get_by_role("button", name="Take this seat").click()
    expect(page.locator(".message-success")).to_contain_text("4B")
    page.get_by_role("link", name="Continue to payment").click()

    # and pays with the test card
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment")
    expect(page.get_by_role("navigation", name="Booking steps").locator('[aria-current="step"]')).to_contain_text("Payment")
    assert_accessible(page)
    page.get_by_label("Card number").fill(TEST_CARD)
    page.get_by_label("Expiry date (MM/YY)").fill("12/30")
    page.get_by_label("Security code (CVV)").fill("123")
    page.get_by_label("Name on the card").fill("MEI CHEN")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    # then the booking is confirmed with its e-tickets, and the e-ticket e-mail arrived
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    for ticket in booking.tickets.all():
        expect(page.get_by_text(ticket.number)).to_be_visible()
    receipts = [m for m in mail.outbox if booking.record_locator in m.subject + m.body]
    assert receipts and receipts[0].to == [booking.contact_email]

    # when she checks in by booking reference and family name
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Check in").click()
    assert_accessible(page)
    page.get_by_label("Booking reference").fill(booking.record_locator)
    page.get_by_label("Family name").fill("chen")
    page.get_by_role("button", name="Find my booking").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(booking.record_locator)

    # and takes seat 4A on the seat map for herself
    page.get_by_role("link", name="Choose seats").click()
    expect(page.locator(".seat-map")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Traveller").select_option(label="Mei Chen")
    page.get_by_role("radio", name=re.compile(r"^4A\b")).check()
    page.get_by_role("button", name="Take this seat").click()
    expect(page.locator(".message-success")).to_contain_text("4A")
    page.get_by_role("link", name="Done").click()

    # and checks in both adults (the infant on her lap) with one 20 kg bag
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check in for")
    assert_accessible(page)
    mei = booking.passengers.get(given_name="Mei")
    page.locator(f"#id_p{mei.pk}-bag_1").fill("20")
    page.get_by_label(re.compile("I confirm that no one in this party carries dangerous goods")).check()
    page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.locator(".message-success")).to_contain_text("You are checked in")

    # then she opens her boarding pass: seat 4A, one bag, a readable barcode
    page.get_by_role("link", name="Boarding pass for Mei").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Boarding pass")
    expect(page.locator(".boarding-pass")).to_contain_text("4A")
    barcode = page.locator(".barcode img")
    expect(barcode).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", barcode.element_handle()) > 100
    assert_accessible(page)
    check_in = CheckIn.objects.get(passenger=mei)
    assert (check_in.seat, check_in.bags) == ("4A", 1)
    assert CheckIn.objects.get(segment__booking=booking, passenger__given_name="Wei").seat == "4B"
    assert CheckIn.objects.filter(segment__booking=booking).count() == 3
