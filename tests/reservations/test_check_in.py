"""Online and desk check-in: the window, who can be checked in, seats, bags and their fees, sequence numbers."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone, translation

from crm.errors import ApplicationError, NotFound
from crm.models import SeatPreference
from reservations import selectors, services
from reservations.models import (
    Booking,
    BookingCharge,
    BookingStatus,
    Channel,
    ChargeKind,
    CheckIn,
    Coupon,
    CouponStatus,
    FlightStatus,
    PassengerType,
    SeatAssignment,
)
from tests.crm.factories import CustomerFactory
from tests.reservations.check_in_helpers import flight_in, paying_card, ticketed_booking
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory


def check_in_everyone(booking, **kwargs) -> list[CheckIn]:
    segment = booking.segments.get()
    return services.check_in(
        booking=booking,
        segment=segment,
        passengers=list(booking.passengers.all()),
        channel=kwargs.pop("channel", Channel.PORTAL),
        **kwargs,
    )


def check_in_paying(booking, **kwargs) -> list[CheckIn]:
    """Check everyone in the way the portal does: fees quoted, paid by card, then the boarding passes."""
    return services.check_in_with_payment(
        booking=booking,
        segment=booking.segments.get(),
        passengers=list(booking.passengers.all()),
        channel=Channel.PORTAL,
        method="card",
        idempotency_key=f"check-in-{booking.record_locator}",
        card=paying_card(),
        **kwargs,
    )


def freeze(monkeypatch, moment) -> None:
    """The clock reads this instant for the rest of the test."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- The window ---------------------------------------------------------------------------------


def test_the_window_opens_24_hours_and_closes_1_hour_before_the_best_known_departure(db, settings):
    # Given a flight delayed by two hours
    settings.CHECK_IN_OPENS_HOURS, settings.CHECK_IN_CLOSES_MINUTES = 24, 60
    flight = flight_in(10)
    flight.estimated_departure = flight.scheduled_departure + timedelta(hours=2)

    # When its window is asked for
    opens, closes = services.check_in_window(flight=flight)

    # Then it counts from the new departure time
    assert opens == flight.estimated_departure - timedelta(hours=24)
    assert closes == flight.estimated_departure - timedelta(hours=1)


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (("opens", -timedelta(microseconds=1)), "check_in_not_open"),
        (("opens", timedelta(0)), "ok"),
        (("closes", -timedelta(microseconds=1)), "ok"),
        (("closes", timedelta(0)), "check_in_closed"),
    ],
    ids=["just-before-opening", "exactly-at-opening", "just-before-closing", "exactly-at-closing"],
)
def test_check_in_is_possible_from_the_opening_instant_up_to_but_not_at_the_closing_instant(db, monkeypatch, offset, outcome):
    # Given a ticketed booking and the clock at one edge of the window
    booking = ticketed_booking(flight=flight_in(30))
    opens, closes = services.check_in_window(flight=booking.segments.get().flight)
    edge, delta = offset
    freeze(monkeypatch, (opens if edge == "opens" else closes) + delta)

    # When the passenger checks in
    try:
        check_in_everyone(booking)
        result = "ok"
    except ApplicationError as exc:
        result = exc.code

    # Then it is accepted inside the window only
    assert result == outcome
    coupon = Coupon.objects.get(ticket__booking=booking)
    assert coupon.status == (CouponStatus.CHECKED_IN if outcome == "ok" else CouponStatus.OPEN)


def test_the_refusal_before_opening_names_the_local_opening_time(db, monkeypatch):
    # Given a flight from London and a clock two days before it
    booking = ticketed_booking(flight=flight_in(30))
    flight = booking.segments.get().flight
    opens, _closes = services.check_in_window(flight=flight)

    # When the passenger tries to check in too early
    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking)

    # Then the message gives the opening time on London's clock
    local = opens.astimezone(ZoneInfo("Europe/London"))
    assert refused.value.code == "check_in_not_open"
    assert local.strftime("%Y-%m-%d %H:%M") in refused.value.message


# --- Who can be checked in ----------------------------------------------------------------------


def test_only_a_ticketed_booking_can_be_checked_in(db):
    # Given a booking on hold, not yet paid
    booking = ticketed_booking(status=BookingStatus.HELD)

    # When check-in is attempted, then it is refused and nothing is recorded
    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking)
    assert refused.value.code == "not_ticketed"
    assert not CheckIn.objects.exists()


def test_a_booking_with_a_change_still_unpaid_cannot_be_checked_in(db):
    # Given a ticketed booking whose flight change left 50.00 to pay
    booking = ticketed_booking()
    Booking.objects.filter(pk=booking.pk).update(total_amount=booking.paid_amount + Decimal("50.00"))
    booking.refresh_from_db()
    # When check-in is attempted, then it is refused until the difference is paid and nothing is recorded
    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking)
    assert refused.value.code == "balance_due"
    assert not CheckIn.objects.exists()
    # and a passenger reading in Chinese is told so in Chinese
    with translation.override("zh-hans"), pytest.raises(ApplicationError) as refused_in_chinese:
        check_in_everyone(booking)
    assert "待付款" in refused_in_chinese.value.message


def test_a_cancelled_flight_cannot_be_checked_in(db):
    booking = ticketed_booking()
    booking.segments.get().flight.__class__.objects.update(status=FlightStatus.CANCELLED)

    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking)

    assert refused.value.code == "flight_cancelled"
    assert not CheckIn.objects.exists()


def test_checking_in_turns_open_coupons_into_checked_in_with_a_seat_and_increasing_sequence_numbers(db):
    # Given two bookings on the same flight
    first = ticketed_booking(passengers=[{"family_name": "Ames"}, {"family_name": "Ames"}])
    second = ticketed_booking(flight=first.segments.get().flight, passengers=[{"family_name": "Baker"}])

    # When both check in, one after the other
    a = check_in_everyone(first)
    b = check_in_everyone(second, channel=Channel.AGENT)

    # Then every coupon is checked in, each has a seat, and the sequence numbers run 1, 2, 3 across the flight
    assert [c.sequence_number for c in a + b] == [1, 2, 3]
    assert all(c.seat for c in a + b)
    assert set(Coupon.objects.values_list("status", flat=True)) == {CouponStatus.CHECKED_IN}
    assert b[0].channel == Channel.AGENT


def test_a_traveller_already_checked_in_is_refused_a_second_time(db):
    booking = ticketed_booking()
    check_in_everyone(booking)

    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking)

    assert "already checked in" in refused.value.message
    assert CheckIn.objects.count() == 1


def test_an_infant_is_checked_in_with_their_adult_and_holds_no_seat(db):
    # Given an adult with an infant on their lap
    booking = ticketed_booking(
        passengers=[{"family_name": "Cole"}, {"family_name": "Cole", "passenger_type": PassengerType.INFANT}]
    )
    adult, infant = booking.passengers.order_by("sequence")

    # When only the adult is chosen
    rows = services.check_in(booking=booking, segment=booking.segments.get(), passengers=[adult], channel=Channel.PORTAL)

    # Then both are checked in, the adult with a seat and the infant without
    assert [(r.passenger_id, bool(r.seat)) for r in rows] == [(adult.pk, True), (infant.pk, False)]
    assert not SeatAssignment.objects.filter(passenger=infant).exists()


def test_an_infant_cannot_be_checked_in_without_their_adult(db):
    booking = ticketed_booking(
        passengers=[{"family_name": "Dunn"}, {"family_name": "Dunn", "passenger_type": PassengerType.INFANT}]
    )
    infant = booking.passengers.get(passenger_type=PassengerType.INFANT)

    with pytest.raises(ApplicationError) as refused:
        services.check_in(booking=booking, segment=booking.segments.get(), passengers=[infant], channel=Channel.PORTAL)

    assert refused.value.code == "infant_without_adult"
    assert not CheckIn.objects.exists()


# --- Seats at check-in --------------------------------------------------------------------------


@pytest.mark.parametrize(("preference", "letters"), [(SeatPreference.WINDOW, {"A", "F"}), (SeatPreference.AISLE, {"C", "D"})])
def test_the_seat_given_automatically_follows_the_customers_window_or_aisle_preference(db, preference, letters):
    # Given a traveller whose customer record prefers a window (or an aisle)
    customer = CustomerFactory(seat_preference=preference)
    booking = ticketed_booking(passengers=[{"family_name": "Egan", "customer": customer}])

    # When they check in without choosing a seat
    row = check_in_everyone(booking)[0]

    # Then they get such a seat, in economy, away from the exit row
    assert row.seat[-1] in letters
    assert 3 <= int(row.seat[:-1]) <= 6 and int(row.seat[:-1]) != 5


def test_a_seat_chosen_at_check_in_is_assigned_and_printed(db):
    booking = ticketed_booking()
    passenger = booking.passengers.get()

    row = check_in_everyone(booking, seats={passenger.pk: "6c"})[0]

    assert row.seat == "6C"
    assert SeatAssignment.objects.get(passenger=passenger).seat == "6C"


def test_a_seat_held_before_check_in_is_kept(db):
    booking = ticketed_booking()
    passenger = booking.passengers.get()
    services.seat_assign(segment=booking.segments.get(), passenger=passenger, seat="4E")

    assert check_in_everyone(booking)[0].seat == "4E"


# --- Bags ---------------------------------------------------------------------------------------


@pytest.fixture
def one_bag_fare(db):
    """One free bag of 23 kg; 60.00 per extra bag, 75.00 per overweight bag."""
    family = FareFamilyFactory(
        code="ECO_BAGS", baggage_pieces=1, baggage_kg=23, excess_bag_fee=Decimal("60.00"), overweight_fee=Decimal("75.00")
    )
    return BookingClassFactory(code="K", fare_family=family)


@pytest.mark.parametrize(
    ("weights", "fee"),
    [
        ([], Decimal("0.00")),
        (["23.0"], Decimal("0.00")),
        (["23.1"], Decimal("75.00")),
        (["20", "10"], Decimal("60.00")),
        (["23.1", "23.1"], Decimal("210.00")),
        (["32.0"], Decimal("75.00")),
    ],
    ids=["no-bag", "one-bag-at-the-limit", "one-bag-100g-over", "one-extra-bag", "extra-and-both-overweight", "32kg"],
)
def test_bags_beyond_the_allowance_pay_the_fare_familys_excess_fees(one_bag_fare, weights, fee):
    # Given a fare with one free 23 kg bag and a traveller with these bags
    booking = ticketed_booking(booking_class=one_bag_fare)
    BookingCharge.objects.create(booking=booking, kind=ChargeKind.FARE, description="fare", amount=Decimal("100.00"))
    services.booking_total_recompute(booking=booking)
    Booking.objects.filter(pk=booking.pk).update(paid_amount=Decimal("100.00"))
    booking.refresh_from_db()
    passenger = booking.passengers.get()

    # When they check in, paying what is due
    row = check_in_paying(booking, bags={passenger.pk: [Decimal(w) for w in weights]}, hand_carry={passenger.pk: 1})[0]

    # Then the bags, their weights and the excess fee are recorded, charged on the booking and paid
    assert row.bags == len(weights)
    assert row.bag_weights_kg == [Decimal(w) for w in weights]
    assert row.hand_carry == 1
    assert row.excess_baggage_fee == fee
    charges = list(BookingCharge.objects.filter(booking=booking, kind=ChargeKind.BAGGAGE).values_list("amount", flat=True))
    assert charges == ([fee] if fee else [])
    booking.refresh_from_db()
    assert booking.total_amount == Decimal("100.00") + fee
    assert booking.balance_due == Decimal("0.00")


def test_a_bag_over_32_kg_is_refused_and_nothing_is_checked_in(one_bag_fare):
    booking = ticketed_booking(booking_class=one_bag_fare)
    passenger = booking.passengers.get()

    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking, bags={passenger.pk: [Decimal("32.1")]})

    assert "32" in refused.value.message
    assert refused.value.fields
    assert not CheckIn.objects.exists()
    assert Coupon.objects.get().status == CouponStatus.OPEN
    assert not BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).exists()


@pytest.mark.parametrize("bad", [{"hand_carry": 3}, {"hand_carry": -1}, {"bags": ["0"]}, {"bags": ["heavy"]}])
def test_impossible_bag_counts_and_weights_are_refused_with_a_field_error(db, bad):
    booking = ticketed_booking()
    passenger = booking.passengers.get()
    kwargs = {"hand_carry": {passenger.pk: bad["hand_carry"]}} if "hand_carry" in bad else {"bags": {passenger.pk: bad["bags"]}}

    with pytest.raises(ApplicationError) as refused:
        check_in_everyone(booking, **kwargs)

    assert refused.value.fields
    assert not CheckIn.objects.exists()


# --- Finding the booking without logging in -----------------------------------------------------


def test_the_booking_is_found_by_reference_and_any_travellers_family_name_ignoring_case_and_spaces(db):
    booking = ticketed_booking(passengers=[{"family_name": "Smith"}, {"family_name": "de la Cruz"}])

    found = selectors.booking_get_for_check_in(record_locator=f" {booking.record_locator.lower()} ", family_name="DE LACRUZ")

    assert found.pk == booking.pk


def test_a_wrong_reference_and_a_wrong_family_name_give_the_same_not_found(db):
    # Given a booking for Smith and another booking's reference
    booking = ticketed_booking(passengers=[{"family_name": "Smith"}])
    other = ticketed_booking(passengers=[{"family_name": "Jones"}])

    # When someone tries a right reference with a wrong name, an unknown reference, and a malformed one
    answers = []
    for locator, name in [
        (booking.record_locator, "Jones"),
        ("ZZZZZZ" if booking.record_locator != "ZZZZZZ" else "YYYYYY", "Smith"),
        ("not-a-ref", "Smith"),
        (other.record_locator, ""),
    ]:
        with pytest.raises(NotFound) as refused:
            selectors.booking_get_for_check_in(record_locator=locator, family_name=name)
        answers.append((refused.value.code, refused.value.message, refused.value.status))

    # Then every answer is identical, so nothing is learned about which references exist
    assert len(set(answers)) == 1
    assert answers[0][2] == 404


# --- Offloading ---------------------------------------------------------------------------------


def test_offloading_opens_the_coupon_again_and_removes_the_baggage_charge(one_bag_fare):
    booking = ticketed_booking(booking_class=one_bag_fare)
    passenger = booking.passengers.get()
    row = check_in_paying(booking, bags={passenger.pk: [Decimal("20"), Decimal("20")]})[0]

    services.check_in_cancel(check_in=row)

    assert Coupon.objects.get().status == CouponStatus.OPEN
    assert not CheckIn.objects.exists()
    assert not BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).exists()
    booking.refresh_from_db()
    assert booking.total_amount == Decimal("0.00")


# --- Concurrency --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_parties_checking_in_at_once_get_distinct_sequence_numbers_and_seats():
    # Given two bookings on one flight
    flight = flight_in(5)
    bookings = [ticketed_booking(flight=flight, passengers=[{"family_name": f"Racer{n}"}] * 2) for n in range(2)]
    barrier = threading.Barrier(2, timeout=30)
    errors: list[Exception] = []

    def go(booking) -> None:
        try:
            barrier.wait()
            check_in_everyone(booking)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # When both check in at the same moment
    threads = [threading.Thread(target=go, args=(b,)) for b in bookings]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then all four travellers are in, numbered 1-4, in four different seats
    assert errors == []
    rows = list(CheckIn.objects.filter(flight=flight))
    assert sorted(r.sequence_number for r in rows) == [1, 2, 3, 4]
    assert len({r.seat for r in rows}) == 4
