"""A passenger books Amsterdam to New York with a change in London, pays, checks in on both flights and opens
a boarding pass for each, in a real browser."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from crm.permissions import PASSENGER
from reservations import services
from reservations.models import Booking, BookingStatus, CheckIn, TripType
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory, UserFactory
from tests.reservations.portal_support import TEST_CARD, make_flight


def test_passenger_books_amsterdam_to_new_york_through_london_and_checks_in_on_both_flights(
    transactional_db, page, assert_accessible
):
    # given the airline's fares, Amsterdam-London in three hours and London-New York 90 minutes after it lands
    # (check-in is open for both), no direct flight, and a registered passenger
    services.fares_ensure()
    leaves = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    to_london = make_flight("AMS", "LHR", at=leaves, minutes=75)
    to_new_york = make_flight("LHR", "JFK", at=leaves + timedelta(minutes=75 + 90), minutes=480)
    user = UserFactory(username="anna.devries@example.com", roles=[PASSENGER])
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    CustomerFactory(user=user, email=user.email, given_name="Anna", family_name="de Vries")

    # when she logs in and searches a one-way trip from Amsterdam to New York
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill("anna.devries@example.com")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/flights/")
    page.get_by_label("One way").check()
    page.locator("#id_origin").select_option("AMS")
    page.locator("#id_destination").select_option("JFK")
    page.get_by_label("Departure date").fill(to_london.service_date.isoformat())
    page.get_by_role("button", name="Search flights").click()

    # then the journey through London is offered with its change, and the day has a price in the calendar
    results = page.get_by_role("table")
    expect(results).to_contain_text(f"{to_london.flight_code} + {to_new_york.flight_code}")
    expect(results).to_contain_text("Change in London (LHR), 1 h 30 min")
    expect(page.locator(".price-calendar li.current .price")).not_to_have_text("Not available")
    assert_accessible(page)
    # and the results fit a phone's width without sideways scrolling
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})

    # when she chooses the Standard fare for the whole journey and continues
    page.locator(f'input[name="leg1"][value="{to_london.pk}-{to_new_york.pk}:ECO_STANDARD"]').check()
    page.get_by_role("button", name="Continue to traveller details").click()

    # then both flights are listed as one journey with its fare rules and miles
    expect(page.get_by_role("heading", level=1)).to_have_text("Traveller details")
    chosen = page.locator(".itinerary")
    expect(chosen).to_contain_text(to_london.flight_code)
    expect(chosen).to_contain_text(to_new_york.flight_code)
    expect(chosen).to_contain_text("the same fare rules on every flight of this journey")
    expect(chosen).to_contain_text(re.compile(r"earns \d+ miles"))
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Hold my seats and continue").click()

    # and passes the seats step before paying
    expect(page.get_by_role("navigation", name="Booking steps").locator('[aria-current="step"]')).to_contain_text("Seats")
    page.get_by_role("link", name="Continue to payment").click()

    # and pays with the test card
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment")
    page.get_by_label("Card number").fill(TEST_CARD)
    page.get_by_label("Expiry date (MM/YY)").fill("12/30")
    page.get_by_label("Security code (CVV)").fill("123")
    page.get_by_label("Name on the card").fill("ANNA DE VRIES")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    # then it is one confirmed one-way booking with one e-ticket of two coupons
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    booking = Booking.objects.get(customer__user=user)
    assert booking.status == BookingStatus.TICKETED and booking.trip_type == TripType.ONE_WAY
    (ticket,) = booking.tickets.all()
    assert [c.segment.flight_id for c in ticket.coupons.order_by("number")] == [to_london.pk, to_new_york.pk]
    expect(page.get_by_text(ticket.number)).to_be_visible()

    # when she checks in on the Amsterdam flight, then on the London flight
    for flight in (to_london, to_new_york):
        page.goto(f"/check-in/{booking.record_locator}/")
        page.get_by_role("link", name=f"Check in for {flight.flight_code}").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Check in for")
        page.get_by_label(re.compile("I confirm that no one in this party carries dangerous goods")).check()
        page.get_by_role("button", name="Check in", exact=True).click()
        expect(page.locator(".message-success")).to_contain_text("You are checked in")

    # then the check-in page offers a boarding pass on each flight
    passes = page.get_by_role("link", name="Boarding pass for Anna")
    expect(passes).to_have_count(2)
    assert_accessible(page)
    for index, flight in enumerate((to_london, to_new_york)):
        page.get_by_role("link", name="Boarding pass for Anna").nth(index).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Boarding pass")
        expect(page.locator(".boarding-pass")).to_contain_text(flight.flight_code)
        expect(page.locator(".barcode img")).to_be_visible()
        page.go_back()
    assert sorted(CheckIn.objects.filter(segment__booking=booking).values_list("flight_id", flat=True)) == sorted(
        [to_london.pk, to_new_york.pk]
    )
