"""In a real browser: an agent finds a customer and opens the 360; an agent takes a customer's call, books a
flight for them and takes the card payment, changes it to a dearer flight and charges the difference, then cancels
the booking with its refund, the booking page showing each state."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from crm.models import CustomerAccess
from crm.permissions import AGENT
from crm.services import customer_create
from reservations import services
from reservations.models import Booking, BookingStatus, PaymentStatus, RefundStatus, SegmentStatus
from tests.crm.factories import DEMO_PASSWORD, StaffFactory
from tests.reservations.portal_support import TEST_CARD, make_flight


def test_agent_logs_in_searches_with_a_typo_and_opens_the_customer_360(transactional_db, page, assert_accessible):
    # given an agent and a customer on file
    agent = StaffFactory(username="agent.e2e", roles=[AGENT])
    john = customer_create(data={"given_name": "John", "family_name": "Smith", "email": "john.smith@example.com"})
    customer_create(data={"given_name": "Maria", "family_name": "Garcia"})

    # when the agent logs in at the back-office
    page.goto("/office/")
    expect(page).to_have_url(re.compile(r"/office/login/"))
    assert_accessible(page)
    page.get_by_label("Username").fill("agent.e2e")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("search").first).to_be_visible()
    assert_accessible(page)

    # and searches with a typo in the name
    search = page.get_by_role("search").first
    search.get_by_role("searchbox").fill("Jonh Smiht")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=re.compile("John Smith"))).to_be_visible()
    assert_accessible(page)

    # and opens the customer's 360
    page.get_by_role("link", name=re.compile("John Smith")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("John Smith")
    expect(page.get_by_text(john.customer_number).first).to_be_visible()
    assert_accessible(page)

    # then the view is in the audit trail
    assert CustomerAccess.objects.filter(customer=john, user=agent, surface="office").exists()


def pay_by_card(page, name: str) -> None:  # noqa: ANN001
    """On the office payment page, charge the balance to the test card."""
    expect(page.get_by_role("heading", level=1)).to_contain_text("Payment for booking")
    card = page.get_by_role("region", name="Card")
    card.get_by_label("Card number").fill(TEST_CARD)
    card.get_by_label("Expiry date (MM/YY)").fill("12/30")
    card.get_by_label("Security code (CVV)").fill("123")
    card.get_by_label("Name on the card").fill(name)
    card.get_by_role("button", name=re.compile(r"^Charge ")).click()


def test_an_agent_books_changes_and_cancels_a_flight_for_a_caller(transactional_db, page, assert_accessible):
    # given the airline's fares, a flight to Paris in five days, a fuller and so dearer one the day after,
    # an agent and a customer on file
    services.fares_ensure()
    leaves = (timezone.now() + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0)
    first = make_flight("LHR", "CDG", at=leaves)
    fuller = make_flight("LHR", "CDG", at=leaves + timedelta(days=1), inventory={"economy": 4})
    StaffFactory(username="agent.calls", roles=[AGENT])
    grace = customer_create(
        data={"given_name": "Grace", "family_name": "Hopper", "email": "grace.hopper@example.com", "home_airport": "LHR"}
    )

    # when the agent logs in, finds the caller by name and opens her record
    page.goto("/office/login/")
    page.get_by_label("Username").fill("agent.calls")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    search = page.get_by_role("search").first
    search.get_by_role("searchbox").fill("Grace Hopper")
    search.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("Grace Hopper")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grace Hopper")

    # and books a one-way trip to Paris for her on the first flight at the Standard fare
    page.get_by_role("link", name="Book a trip for this customer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Book a trip for Grace Hopper")
    page.get_by_label("One way").check()
    page.locator("#id_origin").select_option("LHR")
    page.locator("#id_destination").select_option("CDG")
    page.get_by_label("Departure date").fill(first.service_date.isoformat())
    page.get_by_role("button", name="Search flights").click()
    page.locator(f'input[name="leg_1"][value="{first.pk}:ECO_STANDARD"]').check()
    assert_accessible(page)
    page.get_by_role("button", name="Continue to passengers").click()

    # then passenger 1 is the caller, pre-filled from her record
    expect(page.get_by_role("heading", name="Flights chosen")).to_be_visible()
    expect(page.locator("#id_p1-given_name")).to_have_value("Grace")
    expect(page.locator("#id_p1-family_name")).to_have_value("Hopper")
    page.get_by_role("button", name="Hold the seats and continue to payment").click()

    # when the agent takes her card payment
    booking = Booking.objects.get(customer=grace)
    assert booking.status == BookingStatus.HELD and booking.channel == "agent"
    pay_by_card(page, "GRACE HOPPER")

    # then the booking page shows it ticketed and paid in full on the first flight
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Booking {booking.record_locator}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ticketed")
    flights = page.get_by_role("region", name="Flights")
    expect(flights).to_contain_text(first.flight_code)
    expect(page.get_by_role("region", name="E-tickets and coupons")).to_contain_text(booking.tickets.get().number)
    assert_accessible(page)
    booking.refresh_from_db()
    paid_first = booking.paid_amount
    assert booking.status == BookingStatus.TICKETED and booking.balance_due == 0 and paid_first > 0

    # when the caller asks for the next day's flight: the agent sees the price and confirms the change
    flights.get_by_role("link", name="Change flight").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Change {first.flight_code}")
    page.get_by_role("textbox", name="Flights on").fill(fuller.service_date.isoformat())
    page.get_by_role("button", name="Show flights").click()
    page.get_by_role("row", name=re.compile(fuller.flight_code)).get_by_role("link", name="See the price").click()
    quote = page.get_by_role("region", name=f"Change to {fuller.flight_code}")
    expect(quote).to_contain_text("To pay")
    assert_accessible(page)
    quote.get_by_role("button", name="Confirm the change").click()

    # then the difference is due and the agent charges it to her card
    expect(page.locator(".message-success")).to_contain_text(f"Flight changed to {fuller.flight_code}")
    booking.refresh_from_db()
    difference = booking.balance_due
    assert difference > 0
    pay_by_card(page, "GRACE HOPPER")

    # and the booking page shows the new flight, ticketed and paid in full again
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ticketed")
    expect(flights).to_contain_text(fuller.flight_code)
    expect(flights).to_contain_text("Cancelled")  # the first flight's segment, kept as history
    booking.refresh_from_db()
    assert booking.balance_due == 0 and booking.paid_amount == paid_first + difference
    assert booking.segments.get(status=SegmentStatus.CONFIRMED).flight == fuller
    assert booking.payments.filter(status=PaymentStatus.SUCCEEDED).count() == 2

    # when the caller cancels the trip: the agent reads her the refund and confirms
    page.get_by_role("link", name="Cancel booking").click()
    refund = page.get_by_role("region", name="What the customer gets back")
    expect(refund).to_contain_text("Refund")
    assert_accessible(page)
    page.get_by_label("Reason for the cancellation").fill("Customer no longer travelling")
    page.get_by_label("Yes, cancel this booking").check()
    page.get_by_role("button", name="Cancel the booking").click()

    # then the booking page shows it cancelled, with the refund to her card
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Booking {booking.record_locator}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancelled")
    refunds = page.get_by_role("region", name="Refunds")
    expect(refunds).to_contain_text("Customer no longer travelling")
    expect(page.get_by_role("link", name="Cancel booking")).to_have_count(0)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    refund_rows = list(booking.refunds.all())
    assert refund_rows and all(r.status == RefundStatus.SUCCEEDED for r in refund_rows)
    assert booking.refunded_amount == sum(r.amount for r in refund_rows) > 0
