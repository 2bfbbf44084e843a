"""Downstream apps take part in booking and check-in through reservations.hooks: discount codes priced as
discount charges and redeemed once, passenger checks that can refuse a traveller, and booking page panels."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.urls import reverse

from crm import registry
from crm.errors import ApplicationError
from reservations import hooks, services
from reservations.models import Booking, BookingStatus, Channel, ChargeKind, CheckIn, CouponStatus, FlightCabin
from tests.reservations.api_support import BOOKINGS, assert_error, bookable_flight, booking_body, fares
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.portal_support import adult, book_url, departure_in, fares_fixture, make_flight, search_params  # noqa: F401

pytestmark = pytest.mark.django_db


class SingleUseCodes:
    """A stand-in for marketing's promo codes: each code is worth a fixed amount and can be used once."""

    def __init__(self, codes: dict[str, Decimal]) -> None:
        self.codes = codes
        self.used: dict[str, str] = {}  # code -> record locator
        self.released: list[str] = []

    def apply(self, *, code: str, draft: hooks.BookingDraft) -> hooks.Discount | None:
        if code not in self.codes:
            return None
        if code in self.used:
            message = "This code has already been used."
            raise ApplicationError(message, code="discount_used", fields={"discount_code": [message]})
        return hooks.Discount(code=code, description=f"Promotion {code}", amount=self.codes[code])

    def redeem(self, *, discount: hooks.Discount, booking: Booking) -> None:
        assert discount.code not in self.used, "redeemed twice"
        self.used[discount.code] = booking.record_locator

    def release(self, *, code: str, booking: Booking) -> None:
        if self.used.get(code) == booking.record_locator:
            del self.used[code]
            self.released.append(code)


@pytest.fixture
def promo():
    hook = hooks.discounts.register("test_promo", SingleUseCodes({"SPRING20": Decimal("20.00"), "HUGE": Decimal("100000")}))
    yield hook
    hooks.discounts.unregister("test_promo")


def refuse_bad_ff_numbers(*, passenger, booking, stage):  # noqa: ANN001
    """A stand-in for loyalty's check: numbers starting with 'BAD' are not members."""
    if passenger.frequent_flyer_number.startswith("BAD"):
        message = f"{passenger.frequent_flyer_number} is not a frequent flyer number ({stage})."
        raise ApplicationError(message, code="unknown_frequent_flyer", fields={"frequent_flyer_number": [message]})


@pytest.fixture
def ff_check():
    hooks.passenger_checks.register("test_ff", refuse_bad_ff_numbers)
    yield
    hooks.passenger_checks.unregister("test_ff")


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


def book(flight, *, code: str = "", passengers: list[services.PassengerRequest] | None = None) -> Booking:  # noqa: ANN001
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=passengers
        or [
            services.PassengerRequest(passenger_type="ADT", given_name="Ada", family_name="Lovelace"),
            services.PassengerRequest(passenger_type="ADT", given_name="Charles", family_name="Babbage"),
        ],
        contact_email="ada@example.com",
        channel=Channel.PORTAL,
        discount_code=code,
    )


def seats_left(flight) -> int:  # noqa: ANN001
    return FlightCabin.objects.get(flight=flight, cabin="economy").available


# --- Discounts ------------------------------------------------------------------------------------


def test_a_registered_discount_lowers_the_price_as_discount_charges_on_the_fares(flight, promo):
    # given the price of two adults without a code
    full = book(flight).total_amount
    # when the same party books with a code worth 20.00, typed carelessly
    booking = book(flight, code=" spring20 ")
    # then the total is 20.00 lower, recorded as negative discount lines on the fare lines of each passenger
    assert booking.total_amount == full - Decimal("20.00")
    discounts = list(booking.charges.filter(kind=ChargeKind.DISCOUNT))
    assert sum(c.amount for c in discounts) == Decimal("-20.00")
    assert {c.passenger_id for c in discounts} == set(booking.passengers.values_list("pk", flat=True))
    assert all(c.code == "SPRING20" and c.segment_id and c.amount < 0 for c in discounts)
    assert promo.used == {"SPRING20": booking.record_locator}


def test_a_discount_never_takes_more_than_the_fares_nor_any_tax(flight, promo):
    booking = book(flight, code="HUGE")
    fares_total = sum(c.amount for c in booking.charges.filter(kind=ChargeKind.FARE))
    taxes = sum(c.amount for c in booking.charges.filter(kind=ChargeKind.TAX))
    assert booking.total_amount == taxes > 0
    assert sum(c.amount for c in booking.charges.filter(kind=ChargeKind.DISCOUNT)) == -fares_total


def test_a_single_use_code_is_redeemed_once_and_refused_the_second_time(flight, promo):
    first = book(flight, code="SPRING20")
    before = seats_left(flight)
    with pytest.raises(ApplicationError) as refused:
        book(flight, code="SPRING20")
    assert refused.value.code == "discount_used" and "discount_code" in refused.value.fields
    assert promo.used == {"SPRING20": first.record_locator}
    assert seats_left(flight) == before and Booking.objects.count() == 1


def test_an_unknown_code_is_refused_clearly_and_books_nothing(flight):
    # given no discount hook knows the code (none is registered)
    before = seats_left(flight)
    # when a party books with it
    with pytest.raises(ApplicationError) as refused:
        book(flight, code="NOSUCH")
    # then the code is named as unknown and nothing is held
    assert refused.value.code == "unknown_discount_code"
    assert refused.value.fields == {"discount_code": ["Unknown discount code."]}
    assert not Booking.objects.exists() and seats_left(flight) == before


def test_a_booking_refused_after_pricing_redeems_no_code(flight, promo, ff_check):
    party = [services.PassengerRequest(passenger_type="ADT", given_name="A", family_name="B", frequent_flyer_number="BAD1")]
    with pytest.raises(ApplicationError):
        book(flight, code="SPRING20", passengers=party)
    assert promo.used == {} and not Booking.objects.exists()


def test_a_hold_that_lapses_unpaid_gives_its_code_back(flight, promo):
    booking = book(flight, code="SPRING20")
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=booking.created_at)
    services.booking_expire_hold(booking_id=booking.pk)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.EXPIRED
    assert promo.released == ["SPRING20"] and promo.used == {}


def test_a_held_booking_cancelled_gives_its_code_back(flight, promo):
    booking = book(flight, code="SPRING20")
    services.booking_cancel(booking=booking, reason="Changed my mind")
    assert promo.released == ["SPRING20"]


def test_the_api_takes_a_discount_code_and_answers_unknown_codes_in_the_error_shape(passenger, api_as, flight, promo):
    client = api_as(passenger[0])
    refused = client.post(BOOKINGS, booking_body(flight, discount_code="WHATEVER"), format="json")
    error = assert_error(refused, 400, "unknown_discount_code")
    assert set(error["fields"]) == {"discount_code"}
    too_long = client.post(BOOKINGS, booking_body(flight, discount_code="X" * 21), format="json")
    assert "discount_code" in assert_error(too_long, 400)["fields"]

    booked = client.post(BOOKINGS, booking_body(flight, discount_code="spring20"), format="json")
    assert booked.status_code == 201, booked.content
    booking = Booking.objects.get(record_locator=booked.json()["record_locator"])
    assert sum(c.amount for c in booking.charges.filter(kind=ChargeKind.DISCOUNT)) == Decimal("-20.00")


@pytest.fixture
def portal_flight(fares):
    return make_flight("LHR", "CDG", at=departure_in(5))


def test_the_portal_booking_form_shows_an_unknown_code_next_to_the_field(passenger, passenger_client, portal_flight):
    url = book_url(search_params(portal_flight), (portal_flight, "ECO_LIGHT"))
    assert 'name="discount_code"' in passenger_client.get(url).content.decode()
    response = passenger_client.post(
        url, {"contact_email": "ada@example.com", "discount_code": "NOSUCH", **adult(1, "Ada", "Lovelace")}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown discount code." in html and 'id="error-summary"' in html
    assert not Booking.objects.exists()


# --- Passenger checks -----------------------------------------------------------------------------


def test_a_passenger_check_refuses_a_traveller_at_booking_under_their_own_field(flight, ff_check):
    party = [
        services.PassengerRequest(passenger_type="ADT", given_name="Ada", family_name="L", frequent_flyer_number="AU123"),
        services.PassengerRequest(passenger_type="ADT", given_name="Bob", family_name="L", frequent_flyer_number="BAD99"),
    ]
    before = seats_left(flight)
    with pytest.raises(ApplicationError) as refused:
        book(flight, passengers=party)
    assert refused.value.code == "unknown_frequent_flyer"
    assert list(refused.value.fields) == ["passengers.2.frequent_flyer_number"]
    assert "(booking)" in refused.value.message
    assert not Booking.objects.exists() and seats_left(flight) == before


def test_a_refused_traveller_comes_back_in_the_api_error_shape(passenger, api_as, flight, ff_check):
    party = [
        {"passenger_type": "ADT", "given_name": "Ada", "family_name": "L"},
        {"passenger_type": "ADT", "given_name": "Bob", "family_name": "L", "frequent_flyer_number": "BAD99"},
    ]
    response = api_as(passenger[0]).post(BOOKINGS, booking_body(flight, passengers=party), format="json")
    error = assert_error(response, 400, "unknown_frequent_flyer")
    assert list(error["fields"]) == ["passengers.1.frequent_flyer_number"]


def test_a_refused_traveller_is_shown_on_their_portal_form(passenger, passenger_client, portal_flight, ff_check):
    url = book_url(search_params(portal_flight, adults=2), (portal_flight, "ECO_LIGHT"))
    data = {"contact_email": "a@example.com", **adult(1, "Ada", "L"), **adult(2, "Bob", "L", frequent_flyer_number="BAD77")}
    response = passenger_client.post(url, data)
    assert response.status_code == 200
    assert "BAD77 is not a frequent flyer number (booking)." in response.content.decode()
    assert not Booking.objects.exists()


def test_a_passenger_check_refuses_a_traveller_at_check_in_and_nobody_is_checked_in(ff_check):
    booking = ticketed_booking(
        flight=flight_in(5),
        passengers=[{"given_name": "Ada", "family_name": "L"}, {"given_name": "Bob", "family_name": "L", "frequent_flyer_number": "BAD5"}],
    )  # fmt: skip
    segment = booking.segments.get()
    bob = booking.passengers.get(sequence=2)
    with pytest.raises(ApplicationError) as refused:
        services.check_in(booking=booking, segment=segment, passengers=list(booking.passengers.all()), channel=Channel.PORTAL)
    assert list(refused.value.fields) == [f"passengers.{bob.pk}.frequent_flyer_number"]
    assert "(check_in)" in refused.value.message
    assert not CheckIn.objects.exists()
    assert set(segment.coupons.values_list("status", flat=True)) == {CouponStatus.OPEN}


def test_every_refusal_of_every_check_comes_back_together(flight, ff_check):
    def no_bobs(*, passenger, booking, stage):  # noqa: ANN001
        if passenger.given_name == "Bob":
            raise ApplicationError("No Bobs.", code="no_bobs", fields={"given_name": ["No Bobs."]})

    hooks.passenger_checks.register("test_no_bobs", no_bobs)
    try:
        party = [
            services.PassengerRequest(passenger_type="ADT", given_name="Bob", family_name="L", frequent_flyer_number="BAD1"),
            services.PassengerRequest(passenger_type="ADT", given_name="Ann", family_name="L", frequent_flyer_number="BAD2"),
        ]
        with pytest.raises(ApplicationError) as refused:
            book(flight, passengers=party)
    finally:
        hooks.passenger_checks.unregister("test_no_bobs")
    assert refused.value.code == "passenger_refused"
    assert set(refused.value.fields) == {
        "passengers.1.frequent_flyer_number", "passengers.1.given_name", "passengers.2.frequent_flyer_number"
    }  # fmt: skip


# --- Booking page panels --------------------------------------------------------------------------


def test_the_office_booking_page_shows_registered_panels_and_leaves_out_one_that_raises(agent_client, flight, caplog):
    booking = book(flight)

    def miles_panel(request, booking):  # noqa: ANN001
        return registry.Panel(title="Miles earned", template="office/crm/panels/consent.html", context={"consents": {}})

    def broken_panel(request, booking):  # noqa: ANN001
        raise RuntimeError("cases service unavailable")

    hooks.booking_panels.register("test_miles", miles_panel)
    hooks.booking_panels.register("test_cases", broken_panel)
    try:
        with caplog.at_level(logging.ERROR, logger="crm.registry"):
            response = agent_client.get(reverse("reservations_office:booking_detail", args=[booking.record_locator]))
    finally:
        hooks.booking_panels.unregister("test_miles")
        hooks.booking_panels.unregister("test_cases")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Miles earned" in html and booking.record_locator in html
    assert any("test_cases" in r.getMessage() and r.exc_info for r in caplog.records)


def test_registering_the_same_hook_name_twice_is_an_error(promo):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        hooks.discounts.register("test_promo", SingleUseCodes({}))


def test_an_agent_books_with_a_discount_code_from_the_office_form(agent_client, promo, db):
    from crm.models import Customer
    from tests.crm.factories import CustomerFactory
    from tests.reservations.factories import FlightFactory
    from tests.reservations.office_support import fares as office_fares

    office_fares()
    flight, customer = FlightFactory(), CustomerFactory(email="grace@example.com")
    url = reverse("reservations_office:book_passengers", args=[customer.customer_number])
    data = {
        "cabin": "economy", "adults": 1, "children": 0, "infants": 0, "leg_1": f"{flight.pk}:ECO_STANDARD",
        "p1-given_name": "Grace", "p1-family_name": "Hopper", "contact_email": "grace@example.com", "customer_travels": "on",
    }  # fmt: skip
    # an unknown code is shown on the form and books nothing
    refused = agent_client.post(url, {**data, "discount_code": "NOSUCH"})
    assert refused.status_code == 200 and "Unknown discount code." in refused.content.decode()
    assert not Booking.objects.exists()
    # a known one is priced into the held booking
    response = agent_client.post(url, {**data, "discount_code": "SPRING20"})
    assert response.status_code == 302
    booking = Booking.objects.get(customer=Customer.objects.get(pk=customer.pk))
    assert sum(c.amount for c in booking.charges.filter(kind=ChargeKind.DISCOUNT)) == Decimal("-20.00")
