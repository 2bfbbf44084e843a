"""The frequent flyer programme in a real browser: a member flies and sees the miles and the way to the next
tier, spends them on an award ticket (taxes by card), every miles page fits a phone, and an agent sees the
membership on the customer's 360."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from crm.errors import ApplicationError
from crm.models import CustomerAccess
from crm.permissions import AGENT
from loyalty import services as loyalty_services
from loyalty.models import EntryKind, MilesEntry
from reservations import services
from reservations.models import Booking, BookingStatus, PaymentMethod, PaymentStatus
from tests.crm.factories import DEMO_PASSWORD, StaffFactory
from tests.loyalty.factories import credit, member
from tests.loyalty.flights import flown_booking, ticketed_booking, traveller
from tests.loyalty.redemption_support import SHORT_HAUL_ECONOMY, chart_ensure
from tests.reservations.portal_support import TEST_CARD, make_flight

PHONE = {"width": 390, "height": 844}
WELCOME_BONUS = 5000
# LHR-JFK: 3,442 great-circle miles between the two airports; a Blue member earns them all on a 100% fare.
LHR_JFK_MILES = 3442
# Silver: 25,000 qualifying miles or 30 flights.
SILVER_MILES, SILVER_FLIGHTS = 25000, 30


def _verified(user) -> None:  # noqa: ANN001
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])


def _log_in(page, email: str) -> None:  # noqa: ANN001
    page.goto("/accounts/login/?next=/miles/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_member_flies_sees_miles_and_tier_progress_then_pays_an_award_ticket_with_them(
    transactional_db, page, assert_accessible, make_passenger
):
    # given the airline's fares and award chart, and Inès, a Blue member with a 5,000-mile welcome bonus
    services.fares_ensure()
    chart_ensure()
    user, customer = make_passenger("ines.moreau@example.com", given_name="Inès", family_name="Moreau")
    _verified(user)
    ines = member(customer)
    credit(ines, WELCOME_BONUS)

    # when she flies London-New York on her frequent flyer number and the flight lands: the arrival event
    # queues the accrual task after the landing commits (Celery runs it at once in tests)
    flown = flown_booking(passengers=[traveller(ines)], customer=customer)
    accrual = MilesEntry.objects.get(member=ines, kind=EntryKind.ACCRUAL)
    assert (accrual.award_miles, accrual.qualifying_miles, accrual.qualifying_segments) == (LHR_JFK_MILES, LHR_JFK_MILES, 1)

    # and she logs in to the portal and opens her miles
    _log_in(page, "ines.moreau@example.com")
    expect(page).to_have_url(re.compile(r"/miles/$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)

    # then the balance is the bonus plus the flight, and the progress to Silver counts the flight
    balance = WELCOME_BONUS + LHR_JFK_MILES
    expect(page.locator(".miles-summary .balance")).to_contain_text(f"{balance:,}")
    expect(page.locator(".miles-summary dd").last).to_have_text(f"{LHR_JFK_MILES:,} qualifying miles, 1 flight")
    expect(page.locator("progress.tier-progress")).to_have_attribute("value", str(LHR_JFK_MILES * 100 // SILVER_MILES))
    expect(page.locator(".progress-text")).to_have_text(
        f"{SILVER_MILES - LHR_JFK_MILES:,} miles or {SILVER_FLIGHTS - 1} flights to Silver"
    )

    # and the statement has the flight's line, with its miles
    page.get_by_role("link", name="Statement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Statement")
    flight_line = page.locator(".statement .entry").filter(has_text=f"Flight {flown.flight.flight_code} LHR–JFK")
    expect(flight_line).to_have_count(1)
    expect(flight_line).to_contain_text(f"+{LHR_JFK_MILES:,}")
    expect(flight_line.locator(".entry-figures .muted")).to_have_text(f"{LHR_JFK_MILES:,} qualifying, 1 flight")
    assert_accessible(page)

    # and the claim page for a flight flown without her number is one link away
    page.get_by_role("link", name=re.compile("^Back to")).click()
    page.get_by_role("link", name="Claim missing miles").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Claim missing miles")
    page.go_back()

    # when she looks for a way to spend them, and searches a flight to Paris from the award page
    paris = make_flight("LHR", "CDG", at=(timezone.now() + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0))
    page.get_by_role("link", name="Spend miles").click()
    expect(page.locator("#miles-balance")).to_contain_text(f"{balance:,}")
    page.get_by_role("link", name="Search flights").click()
    page.get_by_label("One way").check()
    page.locator("#id_origin").select_option("LHR")
    page.locator("#id_destination").select_option("CDG")
    page.get_by_label("Departure date").fill(paris.service_date.isoformat())
    page.get_by_role("button", name="Search flights").click()
    expect(page.get_by_role("table")).to_contain_text(paris.flight_code)

    # and books the Standard fare for herself
    page.locator(f'input[name="leg1"][value="{paris.pk}:ECO_STANDARD"]').check()
    page.get_by_role("button", name="Continue to traveller details").click()
    expect(page.locator("#id_p1-given_name")).to_have_value("Inès")
    page.get_by_role("button", name="Hold my seats and continue").click()
    page.get_by_role("link", name="Continue to payment").click()

    # then the payment page offers the fares for the chart's price in miles
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment")
    booking = Booking.objects.exclude(pk=flown.booking.pk).get(customer=customer)
    miles_offer = page.locator("#pay-with-miles")
    expect(miles_offer).to_contain_text(f"for {SHORT_HAUL_ECONOMY:,} miles")
    expect(miles_offer).to_contain_text(f"Your balance: {balance:,} miles.")
    assert_accessible(page)

    # when she pays the fares with miles
    miles_offer.get_by_role("button", name=re.compile(r"^Pay .* with Miles$")).click()
    expect(page.locator(".message-success")).to_contain_text("Please pay the rest by card")

    # and the taxes and fees by card
    booking.refresh_from_db()
    taxes = booking.balance_due
    assert taxes > 0
    page.get_by_label("Card number").fill(TEST_CARD)
    page.get_by_label("Expiry date (MM/YY)").fill("12/30")
    page.get_by_label("Security code (CVV)").fill("123")
    page.get_by_label("Name on the card").fill("INES MOREAU")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    # then the booking is ticketed, paid partly in miles and partly by card
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and booking.balance_due == 0
    paid = dict(booking.payments.filter(status=PaymentStatus.SUCCEEDED).values_list("method", "amount"))
    assert set(paid) == {PaymentMethod.MILES, PaymentMethod.CARD} and paid[PaymentMethod.CARD] == taxes

    # and back on her miles the balance went down by the award's price
    page.goto("/miles/")
    expect(page.locator(".miles-summary .balance")).to_contain_text(f"{balance - SHORT_HAUL_ECONOMY:,}")
    # and the statement's newest line is the redemption
    page.get_by_role("link", name="Statement").click()
    newest = page.locator(".statement .entry").first
    expect(newest).to_contain_text(f"Miles used to pay for booking {booking.record_locator}")
    expect(newest).to_contain_text(f"-{SHORT_HAUL_ECONOMY:,}")


# --- Every miles page on a 390px phone ---------------------------------------------------------------


@pytest.fixture
def phone(browser, live_server):
    """A 390px-wide browser logged in as ``user`` (the session cookie of a test client's login)."""
    contexts = []

    def open_as(user):  # noqa: ANN001, ANN202
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport=PHONE)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


# Each member page, and something of the member's own it shows (so the page is measured with its content).
MEMBER_PAGES = [
    ("/miles/", "Your next tier"),
    ("/miles/statement/", "LHR–SYD"),
    ("/miles/card/", "Featherstonehaugh-Cholmondeley"),
    ("/miles/claim/", "We have no e-ticket with this number."),
    ("/miles/redeem/", "Booking {locator}"),
    ("/miles/household/", "Start a household"),
    ("/miles/transfer/", "Recipient's frequent flyer number"),
    ("/miles/upgrade/{locator}/", "{flight}"),
]


def _fits_the_phone(page, assert_accessible) -> None:  # noqa: ANN001
    assert page.locator("h1").count() == 1, page.url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways: {width}px wide"
    assert_accessible(page)


def test_every_miles_page_fits_a_phone_and_passes_axe(transactional_db, phone, assert_accessible, make_passenger):
    # given a member with a long name, a bonus, a flown long-haul flight, a credited and a refused claim,
    # and a trip to come (for the upgrade page)
    services.fares_ensure()
    chart_ensure()
    user, customer = make_passenger(
        "long.name@example.com", given_name="Maximiliana-Josephine", family_name="Featherstonehaugh-Cholmondeley"
    )
    m = member(customer)
    credit(m, 123456)
    flown_booking(passengers=[traveller(m)], customer=customer, destination="SYD")
    # a flight flown without the number, claimed afterwards (credited), and a claim of an unknown ticket (refused)
    forgotten = flown_booking(
        passengers=[traveller(given_name=customer.given_name, family_name=customer.family_name)], destination="HKG"
    )
    loyalty_services.retro_claim_submit(member=m, ticket_number=forgotten.coupons[0].ticket.number)
    with pytest.raises(ApplicationError):
        loyalty_services.retro_claim_submit(member=m, ticket_number="8789999999999")  # a serial no test reaches
    paris = make_flight("LHR", "CDG", at=(timezone.now() + timedelta(days=5)).replace(second=0, microsecond=0))
    trip = ticketed_booking(flight=paris, passengers=[traveller(m)], customer=customer, family="ECO_STANDARD")
    page = phone(user)
    for path, content in MEMBER_PAGES:
        path, content = (text.format(locator=trip.record_locator, flight=paris.flight_code) for text in (path, content))
        # when each page is opened on a phone
        page.goto(path)
        # then it is the member's page, with one heading, no sideways scroll, and nothing serious for axe
        assert page.url.endswith(path), f"{path} went to {page.url}"
        expect(page.get_by_role("main")).to_contain_text(content)
        _fits_the_phone(page, assert_accessible)

    # and a passenger who is not a member gets the join page, which fits too
    other, _customer = make_passenger("not.a.member@example.com")
    page = phone(other)
    page.goto("/miles/")
    expect(page.get_by_role("button", name=re.compile("Join"))).to_be_visible()
    _fits_the_phone(page, assert_accessible)


# --- The office: the member panel on the customer's 360 ---------------------------------------------


def test_agent_sees_the_membership_on_the_customer_360_and_opens_the_member_page(
    transactional_db, page, assert_accessible, make_passenger
):
    # given a Gold-bound member with a bonus on file, and an agent
    _user, customer = make_passenger("olu.adeyemi@example.com", given_name="Olu", family_name="Adeyemi")
    m = member(customer)
    credit(m, 12345, qualifying=30000, segments=4)
    StaffFactory(username="agent.miles", roles=[AGENT])

    # when the agent logs in and opens the customer's record
    page.goto("/office/login/")
    page.get_by_label("Username").fill("agent.miles")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("search").first).to_be_visible()
    page.goto(f"/office/customers/{customer.customer_number}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Olu Adeyemi")

    # then the programme's panel shows the number, the tier, the balance and the way to Gold
    panel = page.locator("#loyalty")
    expect(panel).to_contain_text(m.number)
    expect(panel).to_contain_text("Silver")
    expect(panel).to_contain_text("12,345")
    expect(panel).to_contain_text("20,000 miles or 56 flights to Gold")
    assert_accessible(page)

    # when the agent opens the member page from the panel
    panel.get_by_role("link", name="Member page").click()
    expect(page).to_have_url(re.compile(rf"/office/loyalty/members/{m.number}/$"))
    expect(page.get_by_role("main")).to_contain_text("Olu Adeyemi")
    expect(page.get_by_role("main")).to_contain_text("12,345")
    assert_accessible(page)
    # then both looks are audited
    assert CustomerAccess.objects.filter(customer=customer, surface="office").count() >= 2
