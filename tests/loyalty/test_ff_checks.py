"""A frequent flyer number typed for a traveller is checked at booking (portal, API, service) and again at
check-in: its check digit, that it is an active member's, and that the member has the traveller's family name."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.errors import ApplicationError
from crm.services import customer_erase, customer_merge
from loyalty import numbers
from loyalty.models import Member, MemberStatus
from reservations import services
from reservations.models import Booking, BookingStatus, Channel, CheckIn, Coupon, CouponStatus
from tests.loyalty.factories import member
from tests.reservations.api_support import BOOKINGS, assert_error, booking_body
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.portal_support import adult, book_url, departure_in, fares_fixture, hold, make_flight, search_params  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def flight(fares):
    return make_flight("LHR", "CDG", at=departure_in(5))


@pytest.fixture
def ada(db) -> Member:
    return member(given_name="Ada", family_name="Lovelace")


def unknown_number() -> str:
    """A number with a good check digit that no member holds."""
    while True:
        number = numbers.new_number()
        if not Member.objects.filter(number=number).exists():
            return number


def mistyped(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def book(flight, *, family_name: str, number: str) -> Booking:  # noqa: ANN001
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_LIGHT")],
        passengers=[
            services.PassengerRequest(passenger_type="ADT", given_name="Charles", family_name="Babbage"),
            services.PassengerRequest(
                passenger_type="ADT", given_name="Ada", family_name=family_name, frequent_flyer_number=number
            ),
        ],
        contact_email="ada@example.com",
        channel=Channel.PORTAL,
    )


def test_a_members_own_number_is_accepted_however_it_is_typed(flight, ada):
    # given Ada's number typed with spaces and her family name in capitals
    typed = f"{ada.number[:3]} {ada.number[3:6]} {ada.number[6:]}"

    # when she is booked with it
    booking = book(flight, family_name="LOVELACE", number=typed)

    # then the booking stands with the number on her traveller record
    assert booking.passengers.get(sequence=2).frequent_flyer_number == typed


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("check_digit", "invalid_frequent_flyer_number"),
        ("unknown", "unknown_frequent_flyer_number"),
        ("closed", "unknown_frequent_flyer_number"),
        ("other_name", "frequent_flyer_name_mismatch"),
    ],
)
def test_a_bad_number_refuses_the_booking_on_that_travellers_field(flight, ada, case, code):
    # given a number that fails one of the rules
    family_name, number = "Lovelace", ada.number
    if case == "check_digit":
        number = mistyped(ada.number)
    elif case == "unknown":
        number = unknown_number()
    elif case == "closed":
        Member.objects.filter(pk=ada.pk).update(status=MemberStatus.CLOSED)
    else:
        family_name = "Byron"

    # when the second traveller is booked with it
    with pytest.raises(ApplicationError) as refused:
        book(flight, family_name=family_name, number=number)

    # then it is refused under that traveller's field, and nothing is booked
    assert refused.value.code == code
    assert list(refused.value.fields) == ["passengers.2.frequent_flyer_number"]
    assert not Booking.objects.exists()


def test_the_portal_form_shows_the_refusal_on_the_travellers_field(passenger, passenger_client, flight, ada):
    url = book_url(search_params(flight, adults=2), (flight, "ECO_LIGHT"))
    data = {
        "contact_email": "a@example.com",
        **adult(1, "Charles", "Babbage"),
        **adult(2, "Ada", "Byron", frequent_flyer_number=ada.number),
    }
    response = passenger_client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This frequent flyer number belongs to someone with another family name." in html
    assert 'href="#id_p2-frequent_flyer_number"' in html
    assert not Booking.objects.exists()


def test_the_portal_form_accepts_a_good_number(passenger, passenger_client, flight, ada):
    url = book_url(search_params(flight, adults=2), (flight, "ECO_LIGHT"))
    booking = hold(
        passenger_client, url, {**adult(1, "Charles", "Babbage"), **adult(2, "Ada", "Lovelace", frequent_flyer_number=ada.number)}
    )
    assert booking.passengers.get(sequence=2).frequent_flyer_number == ada.number


def test_a_members_own_traveller_comes_filled_with_their_number_on_the_booking_form(passenger, passenger_client, flight):
    # given a passenger who is a member, and the booking form's second traveller left for someone else
    _, customer = passenger
    own = member(customer)
    url = book_url(search_params(flight, adults=2), (flight, "ECO_LIGHT"))

    # when they open the travellers step
    html = passenger_client.get(url).content.decode()

    # then their own traveller carries their number, the other traveller none
    def field(name: str) -> str:
        return re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)

    assert f'value="{own.number}"' in field("p1-frequent_flyer_number")
    assert "value=" not in field("p2-frequent_flyer_number")


def test_a_closed_membership_fills_in_no_number(passenger, passenger_client, flight):
    _, customer = passenger
    own = member(customer)
    Member.objects.filter(pk=own.pk).update(status=MemberStatus.CLOSED)
    html = passenger_client.get(book_url(search_params(flight), (flight, "ECO_LIGHT"))).content.decode()
    assert own.number not in html


def test_the_api_refuses_a_mistyped_number_in_its_error_shape(passenger, api_as, flight, ada):
    party = [
        {"passenger_type": "ADT", "given_name": "Charles", "family_name": "Babbage"},
        {"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace", "frequent_flyer_number": mistyped(ada.number)},
    ]
    response = api_as(passenger[0]).post(BOOKINGS, booking_body(flight, fare_family="ECO_LIGHT", passengers=party), format="json")
    error = assert_error(response, 400, "invalid_frequent_flyer_number")
    assert list(error["fields"]) == ["passengers.1.frequent_flyer_number"]
    assert not Booking.objects.exists()


def test_the_api_books_with_a_good_number(passenger, api_as, flight, ada):
    party = [{"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace", "frequent_flyer_number": ada.number}]
    response = api_as(passenger[0]).post(BOOKINGS, booking_body(flight, fare_family="ECO_LIGHT", passengers=party), format="json")
    assert response.status_code == 201, response.content


def party_with(number: str, **booking) -> Booking:  # noqa: ANN003
    """A ticketed booking (check-in open) for Charles and for Ada, who carries ``number``."""
    return ticketed_booking(
        flight=flight_in(5),
        passengers=[{"given_name": "Charles", "family_name": "Babbage"},
                    {"given_name": "Ada", "family_name": "Lovelace", "frequent_flyer_number": number}],
        **booking,
    )  # fmt: skip


def test_check_in_refuses_a_number_whose_membership_was_erased_since_booking_and_checks_nobody_in(ada, supervisor):
    # given a ticketed booking (made by someone else) carrying Ada's number, and her membership closed
    # since by her erasure (closed, not merged: the number belongs to no one now)
    booking = party_with(ada.number)
    customer_erase(customer=ada.customer, by=supervisor)
    ada.refresh_from_db()
    assert ada.status == MemberStatus.CLOSED and ada.merged_into_id is None
    segment = booking.segments.get()
    traveller = booking.passengers.get(sequence=2)
    assert traveller.frequent_flyer_number == ada.number

    # when the party checks in
    with pytest.raises(ApplicationError) as refused:
        services.check_in(booking=booking, segment=segment, passengers=list(booking.passengers.all()), channel=Channel.PORTAL)

    # then it is refused on her field and nobody is checked in
    assert refused.value.code == "unknown_frequent_flyer_number"
    assert list(refused.value.fields) == [f"passengers.{traveller.pk}.frequent_flyer_number"]
    assert not CheckIn.objects.exists()
    assert set(segment.coupons.values_list("status", flat=True)) == {CouponStatus.OPEN}


def test_after_a_merge_the_party_checks_in_on_the_surviving_number(ada, supervisor):
    # given a ticketed booking carrying Ada's number as she typed it (with spaces), then her duplicate
    # record merged into her other record, which is a member too
    booking = party_with(f"{ada.number[:3]} {ada.number[3:6]} {ada.number[6:]}")
    survivor = member(given_name="Ada", family_name="Lovelace")
    customer_merge(survivor=survivor.customer, loser=ada.customer, by=supervisor)

    # then her traveller carries the surviving number, and the whole party checks in
    assert booking.passengers.get(sequence=2).frequent_flyer_number == survivor.number
    created = services.check_in(
        booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
    )
    assert len(created) == 2


def test_a_merge_renumbers_only_the_bookings_still_to_fly_in_as_many_queries_whatever_their_number(ada, supervisor):
    # given bookings carrying Ada's number: on hold, ticketed to fly, ticketed and flown, cancelled; and
    # a traveller carrying someone else's number on a booking to fly
    held = party_with(ada.number, status=BookingStatus.HELD)
    to_fly = party_with(ada.number)
    flown = party_with(ada.number)
    Coupon.objects.filter(ticket__booking=flown).update(status=CouponStatus.FLOWN)
    cancelled = party_with(ada.number, status=BookingStatus.CANCELLED)
    other = member(family_name="Byron")
    someone_else = party_with(other.number)
    survivor = member(given_name="Ada", family_name="Lovelace")

    # when her records are merged
    with CaptureQueriesContext(connection) as few:
        record = customer_merge(survivor=survivor.customer, loser=ada.customer, by=supervisor)

    # then the bookings still to fly carry the surviving number; a finished trip keeps the number it flew with
    def number_on(booking: Booking) -> str:
        return booking.passengers.get(sequence=2).frequent_flyer_number

    assert number_on(held) == number_on(to_fly) == survivor.number
    assert number_on(flown) == number_on(cancelled) == ada.number
    assert number_on(someone_else) == other.number
    assert record.moved["loyalty"]["travellers"] == 2

    # and a merge with many more bookings to renumber costs the same statements
    ada2, survivor2 = member(family_name="Lovelace"), member(family_name="Lovelace")
    for _i in range(6):
        party_with(ada2.number)
    with CaptureQueriesContext(connection) as many:
        record = customer_merge(survivor=survivor2.customer, loser=ada2.customer, by=supervisor)
    assert record.moved["loyalty"]["travellers"] == 6
    assert len(many) == len(few), [q["sql"][:100] for q in many.captured_queries]


def test_check_in_accepts_an_active_members_number(ada):
    booking = ticketed_booking(
        flight=flight_in(5), passengers=[{"given_name": "Ada", "family_name": "Lovelace", "frequent_flyer_number": ada.number}]
    )
    created = services.check_in(
        booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
    )
    assert len(created) == 1
