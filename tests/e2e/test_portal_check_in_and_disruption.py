"""In a real browser: a Light-fare passenger pays for two bags before getting the boarding pass, and a
disrupted passenger takes another flight from the link in the disruption e-mail."""

import email
import email.policy
import re
from datetime import timedelta

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from crm.permissions import AGENT, PASSENGER
from reservations import services
from reservations.models import BookingClass, CheckIn, FlightCabin, FlightStatus, Payment, PaymentStatus, SegmentStatus
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory, StaffFactory, UserFactory
from tests.reservations.check_in_helpers import paying_card, ticketed_booking
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import book
from tests.reservations.portal_support import TEST_CARD, make_flight


def assert_fits_a_phone(page) -> None:  # noqa: ANN001
    """At 390 px wide the page needs no sideways scroll."""
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size(size)


def passenger_login(page, username: str, next_url: str) -> None:  # noqa: ANN001
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("E-mail address").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def registered_passenger(username: str, given: str, family: str):  # noqa: ANN201
    user = UserFactory(username=username, roles=[PASSENGER])
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user, CustomerFactory(user=user, email=user.email, given_name=given, family_name=family)


def test_a_light_fare_passenger_pays_for_two_bags_before_getting_the_boarding_pass(transactional_db, page, assert_accessible):
    # given a passenger with a ticketed Light-fare booking (no free checked bag) on a flight in three hours
    services.fares_ensure()
    user, customer = registered_passenger("ines.garcia@example.com", "Ines", "Garcia")
    flight = make_flight("LHR", "MAD", at=(timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0))
    light = BookingClass.objects.get(code="Q")
    booking = ticketed_booking(
        flight=flight, customer=customer, booking_class=light, passengers=[{"given_name": "Ines", "family_name": "Garcia"}]
    )
    fee = light.fare_family.excess_bag_fee * 2
    passenger = booking.passengers.get()

    # when she checks in with two 20 kg bags
    passenger_login(page, user.username, f"/check-in/{booking.record_locator}/")
    page.get_by_role("link", name=f"Check in for {flight.flight_code}").click()
    page.locator(f"#id_p{passenger.pk}-bag_1").fill("20")
    page.locator(f"#id_p{passenger.pk}-bag_2").fill("20")
    page.get_by_label(re.compile("I confirm that no one in this party carries dangerous goods")).check()
    page.get_by_role("button", name="Check in", exact=True).click()

    # then the fees are quoted before anything else, and there is no boarding pass yet
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pay and check in")
    expect(page.locator("#check-in-total")).to_contain_text(f"{fee:.2f}")
    assert_accessible(page)
    assert_fits_a_phone(page)
    assert not CheckIn.objects.exists()
    page.goto(f"/check-in/{booking.record_locator}/")
    expect(page.get_by_role("link", name="Boarding pass for Ines")).to_have_count(0)
    page.go_back()

    # when she pays with the test card
    page.get_by_label("Card number").fill(TEST_CARD)
    page.get_by_label("Expiry date (MM/YY)").fill("12/30")
    page.get_by_label("Security code (CVV)").fill("123")
    page.get_by_label("Name on the card").fill("INES GARCIA")
    page.get_by_role("button", name=re.compile(r"^Pay .* and check in$")).click()

    # then she is checked in with both bags paid, and her boarding pass opens
    expect(page.locator(".message-success")).to_contain_text("You are checked in")
    payment = Payment.objects.get(booking=booking)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, fee)
    assert CheckIn.objects.get(passenger=passenger).bags == 2
    page.get_by_role("link", name="Boarding pass for Ines").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Boarding pass")


def test_a_disrupted_passenger_takes_another_flight_from_the_email_link(transactional_db, page, assert_accessible):
    # given a passenger's ticketed booking for two on a flight in three days, and a later flight on the route
    services.fares_ensure()
    user, customer = registered_passenger("tomas.novak@example.com", "Tomas", "Novak")
    departs = (timezone.now() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    flight = make_flight("LHR", "PRG", at=departs)
    later = FlightFactory(route=flight.route, scheduled_departure=departs + timedelta(hours=6))
    booking = book(customer=customer, flight=flight, names=[("Tomas", "Novak"), ("Eva", "Novak")])
    services.payment_take(booking=booking, method="card", idempotency_key="e2e-pay", card=paying_card())
    seats_before = FlightCabin.objects.get(flight=later, cabin="economy").available

    # when operations cancel the flight, the passenger is e-mailed
    staff = StaffFactory(username="ops.e2e", roles=[AGENT])
    services.flight_status_update(flight=flight, by=staff, status=FlightStatus.CANCELLED, reason="Technical fault")
    (message,) = [m for m in mail.outbox if booking.record_locator in m.subject and "cancelled" in m.subject]
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    html = parsed.get_body(preferencelist=("html",)).get_content()
    link = next(href for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', html) if later.flight_code in text)
    path = re.sub(r"^https?://[^/]+", "", link).replace("&amp;", "&")

    # and they follow the link to the later flight, logging in when asked
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("E-mail address").fill(user.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # then they see the choice to confirm, and nothing has changed yet
    expect(page.get_by_role("heading", level=2)).to_contain_text(f"to {later.flight_code}")
    assert_accessible(page)
    assert_fits_a_phone(page)
    assert booking.segments.get(status=SegmentStatus.CONFIRMED).flight_id == flight.pk
    # (all the options are one link away, listing the later flight)
    page.get_by_role("link", name="See all options").click()
    expect(page.locator("#alternatives")).to_contain_text(later.flight_code)
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.go_back()

    # when they confirm
    page.get_by_role("button", name="Confirm").click()

    # then they are on the later flight, its seats counted once, and the trip page says so
    expect(page.locator(".message-success")).to_contain_text(later.flight_code)
    assert [s.flight_id for s in booking.segments.filter(status=SegmentStatus.CONFIRMED)] == [later.pk]
    assert FlightCabin.objects.get(flight=later, cabin="economy").available == seats_before - 2
    expect(page.locator("#disruption-options")).to_have_count(0)

    # and following the same link again changes nothing more
    page.goto(path)
    expect(page.locator(".message-info, .message")).to_contain_text("already recorded")
    assert FlightCabin.objects.get(flight=later, cabin="economy").available == seats_before - 2
