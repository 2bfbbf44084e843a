"""In a real browser, in Chinese: a passenger switches the portal to 简体中文 with the header's language switcher,
then books a direct flight (with a seat) and a journey with a change in London, pays, checks in, opens the boarding
pass and the trip page; no page on the way shows a word of the interface's English, and each fits a phone.

The words that count as English are the catalogue's own (see tests/query_counts/test_chinese_pages.py); the
travellers' names, like the places and codes of the flights, are data, not interface."""

import re
from datetime import timedelta

from django.utils import timezone, translation
from playwright.sync_api import expect

from crm.permissions import PASSENGER
from reservations import services
from reservations.models import Booking, BookingStatus, CheckIn
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory, UserFactory
from tests.query_counts.test_chinese_pages import WORD, _english, _vocabulary
from tests.reservations.portal_support import TEST_CARD, make_flight

CHINESE = "zh-hans"


def zh(text: str, **values: str) -> str:
    """What a Chinese reader sees for this English string of the interface."""
    with translation.override(CHINESE):
        translated = translation.gettext(text)
    return translated % values if values else translated


class ChineseReader:
    """Reads every page visited and keeps the English words of the interface found on it, and any page wider than
    a phone."""

    def __init__(self, page, names: list[str]) -> None:  # noqa: ANN001
        self.page = page
        self.vocabulary = _vocabulary()
        self.names = {w.lower() for name in names for w in WORD.findall(name)}
        self.problems: list[str] = []

    def read(self) -> None:
        expect(self.page.locator("html")).to_have_attribute("lang", CHINESE)
        english = _english(self.page.content(), self.vocabulary, self.names)
        if english:
            self.problems.append(f"{self.page.url}: {' '.join(sorted(set(english)))}")
        # and the page, in Chinese, fits a phone's width without sideways scrolling
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": 390, "height": 844})
        width = self.page.evaluate("document.documentElement.scrollWidth")
        self.page.set_viewport_size(size)
        if width > 390:
            self.problems.append(f"{self.page.url}: {width} px wide at 390 px")

    def assert_no_english(self) -> None:
        assert not self.problems, "English left on Chinese pages, or pages too wide:\n" + "\n".join(self.problems)


def passenger(username: str, given: str, family: str):  # noqa: ANN201
    user = UserFactory(username=username, roles=[PASSENGER])
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    CustomerFactory(user=user, email=user.email, given_name=given, family_name=family)
    return user


def switch_to_chinese(page) -> None:  # noqa: ANN001
    """The header's language switcher, as a reader uses it."""
    page.goto("/")
    switcher = page.locator("form.language-switcher")
    switcher.get_by_label("Language").select_option(label="简体中文")
    switcher.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", CHINESE)


def log_in(page, reader: ChineseReader, username: str) -> None:  # noqa: ANN001
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    reader.read()
    page.get_by_label(zh("E-mail address")).fill(username)
    page.locator("input[type=password]").fill(DEMO_PASSWORD)
    page.get_by_role("button", name=zh("Log in"), exact=True).click()


def search_one_way(page, reader: ChineseReader, origin: str, destination: str, day) -> None:  # noqa: ANN001
    page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=zh("Book a flight")).click()
    page.get_by_label(zh("One way")).check()
    page.locator("#id_origin").select_option(origin)
    page.locator("#id_destination").select_option(destination)
    page.get_by_label(zh("Departure date")).fill(day.isoformat())
    page.get_by_role("button", name=zh("Search flights")).click()
    expect(page.get_by_role("table")).to_be_visible()
    reader.read()


def pay(page, reader: ChineseReader, name: str) -> None:  # noqa: ANN001
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Payment"))
    reader.read()
    page.get_by_label(zh("Card number")).fill(TEST_CARD)
    page.get_by_label(zh("Expiry date (MM/YY)")).fill("12/30")
    page.get_by_label(zh("Security code (CVV)")).fill("123")
    page.get_by_label(zh("Name on the card")).fill(name)
    page.get_by_role("button", name=re.compile("^" + re.escape(zh("Pay %(amount)s", amount="")))).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Your booking is confirmed"))
    reader.read()


def find_booking_to_check_in(page, reader: ChineseReader, booking: Booking, family: str) -> None:  # noqa: ANN001
    page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=zh("Check in")).click()
    reader.read()
    page.get_by_label(zh("Booking reference")).fill(booking.record_locator)
    page.get_by_label(zh("Family name")).fill(family)
    page.get_by_role("button", name=zh("Find my booking")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(booking.record_locator)
    reader.read()


def check_in(page, reader: ChineseReader, booking: Booking, flight) -> None:  # noqa: ANN001
    """From the booking's check-in page, check everyone in on this flight."""
    page.get_by_role("link", name=zh("Check in for %(flight)s", flight=flight.flight_code)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Check in for %(flight)s", flight=flight.flight_code))
    reader.read()
    page.locator("input[type=checkbox][name$=confirm]").check()
    page.get_by_role("button", name=zh("Check in"), exact=True).click()
    expect(page.locator(".message-success")).to_be_visible()
    reader.read()


def open_boarding_pass(page, reader: ChineseReader, given: str, flight, nth: int = 0) -> None:  # noqa: ANN001
    page.get_by_role("link", name=zh("Boarding pass for %(name)s", name=given)).nth(nth).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Boarding pass"))
    expect(page.locator(".boarding-pass")).to_contain_text(flight.flight_code)
    reader.read()


def open_trip(page, reader: ChineseReader, booking: Booking) -> None:  # noqa: ANN001
    page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=zh("My trips")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("My trips"))
    reader.read()
    page.get_by_role("link", name=re.compile(booking.record_locator)).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(booking.record_locator)
    reader.read()


def test_a_passenger_books_a_direct_flight_with_a_seat_and_checks_in_all_in_chinese(transactional_db, page):
    # given the airline's fares, a flight to Paris in three hours (check-in is open) and a registered passenger
    services.fares_ensure()
    flight = make_flight("LHR", "CDG", at=(timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0))
    user = passenger("mei.chen@example.com", "Mei", "Chen")
    reader = ChineseReader(page, ["Mei Chen"])

    # when she switches the portal to Chinese and searches a one-way trip to Paris
    switch_to_chinese(page)
    reader.read()
    search_one_way(page, reader, "LHR", "CDG", flight.service_date)
    expect(page.get_by_role("table")).to_contain_text(flight.flight_code)

    # and chooses the Standard fare, logging in when asked
    page.locator(f'input[name="leg1"][value="{flight.pk}:ECO_STANDARD"]').check()
    page.get_by_role("button", name=zh("Continue to traveller details")).click()
    log_in(page, reader, user.username)

    # and keeps her pre-filled details, holds the seat and takes 4A at the seats step
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Traveller details"))
    reader.read()
    page.get_by_role("button", name=zh("Hold my seats and continue")).click()
    expect(page.locator(".seat-map")).to_be_visible()
    reader.read()
    page.get_by_role("radio", name=re.compile(r"^4A\b")).check()
    page.get_by_role("button", name=zh("Take this seat")).click()
    expect(page.locator(".message-success")).to_contain_text("4A")
    reader.read()
    page.get_by_role("link", name=zh("Continue to payment")).click()

    # and pays with the test card
    pay(page, reader, "MEI CHEN")
    booking = Booking.objects.get(customer__user=user)
    assert booking.status == BookingStatus.TICKETED

    # and finds her booking to check in, checks in, opens her boarding pass and then the trip page
    find_booking_to_check_in(page, reader, booking, "chen")
    check_in(page, reader, booking, flight)
    open_boarding_pass(page, reader, "Mei", flight)
    expect(page.locator(".boarding-pass")).to_contain_text("4A")
    open_trip(page, reader, booking)

    # then she is checked in on seat 4A and no page she read had English of the interface left on it
    assert CheckIn.objects.get(segment__booking=booking).seat == "4A"
    reader.assert_no_english()


def test_a_passenger_books_a_journey_through_london_and_checks_in_on_both_flights_all_in_chinese(transactional_db, page):
    # given the airline's fares, Amsterdam-London in three hours and London-New York 90 minutes after it lands,
    # no direct flight, and a registered passenger
    services.fares_ensure()
    leaves = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    to_london = make_flight("AMS", "LHR", at=leaves, minutes=75)
    to_new_york = make_flight("LHR", "JFK", at=leaves + timedelta(minutes=75 + 90), minutes=480)
    user = passenger("anna.devries@example.com", "Anna", "de Vries")
    reader = ChineseReader(page, ["Anna de Vries"])

    # when she switches the portal to Chinese, logs in and searches Amsterdam to New York
    switch_to_chinese(page)
    page.get_by_role("link", name=zh("Log in"), exact=True).first.click()
    log_in(page, reader, user.username)
    search_one_way(page, reader, "AMS", "JFK", to_london.service_date)

    # then the journey through London is offered with its change
    expect(page.get_by_role("table")).to_contain_text(f"{to_london.flight_code} + {to_new_york.flight_code}")

    # when she chooses the Standard fare for the whole journey, holds it, passes the seats step and pays
    page.locator(f'input[name="leg1"][value="{to_london.pk}-{to_new_york.pk}:ECO_STANDARD"]').check()
    page.get_by_role("button", name=zh("Continue to traveller details")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Traveller details"))
    reader.read()
    page.get_by_role("button", name=zh("Hold my seats and continue")).click()
    expect(page.locator(".seat-map")).to_be_visible()
    reader.read()
    page.get_by_role("link", name=zh("Continue to payment")).click()
    pay(page, reader, "ANNA DE VRIES")
    booking = Booking.objects.get(customer__user=user)
    assert booking.status == BookingStatus.TICKETED

    # and checks in on both flights, opens a boarding pass for each and then the trip page
    find_booking_to_check_in(page, reader, booking, "de Vries")
    for flight in (to_london, to_new_york):
        check_in(page, reader, booking, flight)
        page.goto(f"/check-in/{booking.record_locator}/")
    for index, flight in enumerate((to_london, to_new_york)):
        open_boarding_pass(page, reader, "Anna", flight, nth=index)
        page.go_back()
    open_trip(page, reader, booking)

    # then she is checked in on both flights and no page she read had English of the interface left on it
    assert CheckIn.objects.filter(segment__booking=booking).count() == 2
    reader.assert_no_english()
