"""The actions a trip offers are exactly the ones its services would carry out.

For each state of a booking, ``selectors.trip_actions`` is compared with what happens when each action is
actually tried (and rolled back): offered if and only if the service does not refuse it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from crm.errors import ApplicationError
from crm.permissions import MARKETER
from reservations import selectors, services
from reservations.models import Booking, BookingStatus, Flight, FlightStatus, PaymentMethod, SegmentStatus
from tests.reservations.api_support import BOOKINGS
from tests.reservations.factories import FareFamilyFactory, FlightFactory
from tests.reservations.office_support import book
from tests.reservations.test_payments import card, pay


class _Undo(Exception):
    pass


def succeeds(action) -> bool:  # noqa: ANN001
    """Run the action and roll it back: did the service carry it out or refuse it?"""
    try:
        with transaction.atomic():
            action()
            raise _Undo
    except _Undo:
        return True
    except ApplicationError:
        return False


def at(hours: float) -> datetime:
    return (timezone.now() + timedelta(hours=hours)).replace(microsecond=0)


def flight_in(hours: float):  # noqa: ANN201
    departure = at(hours)
    return FlightFactory(scheduled_departure=departure, scheduled_arrival=departure + timedelta(minutes=75))


def what_services_allow(booking: Booking, user) -> dict:  # noqa: ANN001
    """Try every action on the booking, each rolled back afterwards."""
    booking = selectors.booking_get(record_locator=booking.record_locator)
    segment = next(iter(booking.segments.all()))
    travellers = [p for p in booking.passengers.all() if p.holds_seat]
    later = FlightFactory(route=segment.flight.route, scheduled_departure=segment.flight.scheduled_departure + timedelta(days=1))
    return {
        "pay": succeeds(
            lambda: services.payment_take(booking=booking, method=PaymentMethod.CARD, idempotency_key="try", card=card(), by=user)
        ),
        "cancel": succeeds(lambda: services.booking_cancel(booking=booking, by=user)),
        "change": succeeds(
            lambda: services.booking_change_flight(booking=booking, segment=segment, new_flight_id=later.pk, by=user)
        ),
        "seats": succeeds(lambda: services.seat_assign(segment=segment, passenger=travellers[0], seat="6F", by=user)),
        # Check-in collects what is due (the quote, then the card) before any boarding pass.
        "check_in": succeeds(
            lambda: services.check_in_with_payment(
                booking=booking,
                segment=segment,
                passengers=travellers,
                channel="portal",
                by=user,
                method=PaymentMethod.CARD,
                idempotency_key="try-check-in",
                card=card(),
            )  # fmt: skip
        ),
    }


def what_is_offered(booking: Booking, user) -> dict:  # noqa: ANN001
    booking = selectors.booking_get(record_locator=booking.record_locator)
    actions = selectors.trip_actions(booking=booking, user=user)
    (first, *_rest) = actions.segments
    return {
        "pay": actions.pay,
        "cancel": actions.cancel,
        "change": first.change,
        "seats": first.seats,
        "check_in": first.check_in,
    }


def held(customer, hours: float = 240) -> Booking:  # noqa: ANN001
    return book(customer=customer, flight=flight_in(hours))


def ticketed(customer, hours: float = 240, check_in: bool = False) -> Booking:  # noqa: ANN001
    """Paid and ticketed by the payment service; optionally everyone checked in."""
    booking = held(customer, hours)
    pay(booking, key=f"pay-{booking.record_locator}")
    if check_in:
        segment = booking.segments.get()
        services.check_in(booking=booking, segment=segment, passengers=list(booking.passengers.all()), channel="portal")
    return Booking.objects.get(pk=booking.pk)


def expired_hold(customer) -> Booking:  # noqa: ANN001
    booking = held(customer)
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    return booking


def cancelled(customer) -> Booking:  # noqa: ANN001
    booking = held(customer)
    services.booking_cancel(booking=booking)
    return booking


def owing_after_a_change(customer) -> Booking:  # noqa: ANN001
    booking = ticketed(customer, hours=5)
    Booking.objects.filter(pk=booking.pk).update(paid_amount=booking.paid_amount - Decimal("10.00"))
    return booking


def moved_to(hours: float, status: str = FlightStatus.SCHEDULED):  # noqa: ANN201
    """A ticketed booking whose flight now departs ``hours`` from now (booked while it could still be booked)."""

    def make(customer) -> Booking:  # noqa: ANN001
        booking = ticketed(customer)
        departure = at(hours)
        Flight.objects.filter(segments__booking=booking).update(
            scheduled_departure=departure, scheduled_arrival=departure + timedelta(minutes=75), status=status
        )
        return booking

    return make


def on_a_fare_without_changes(customer) -> Booking:  # noqa: ANN001
    booking = ticketed(customer)
    FareFamilyFactory._meta.model.objects.filter(pk=booking.segments.get().fare_family_id).update(changeable=False)
    return booking


STATES = {
    "held": held,
    "held, hold over": expired_hold,
    "cancelled": cancelled,
    "ticketed, check-in not open": ticketed,
    "ticketed, check-in open": lambda c: ticketed(c, hours=5),
    "ticketed, checked in": lambda c: ticketed(c, hours=5, check_in=True),
    "ticketed, departing in 30 minutes": moved_to(0.5),
    "ticketed, departed": moved_to(-1, FlightStatus.DEPARTED),
    "ticketed, something still owed": owing_after_a_change,
    "ticketed, fare allows no changes": on_a_fare_without_changes,
}


@pytest.mark.parametrize("state", list(STATES))
def test_a_passenger_is_offered_exactly_what_the_services_allow(passenger, state):
    # given the passenger's booking in this state
    user, customer = passenger
    booking = STATES[state](customer)
    # when the trip's actions are read, then each is offered exactly when its service carries it out
    assert what_is_offered(booking, user) == what_services_allow(booking, user)


@pytest.mark.parametrize("state", ["held", "ticketed, check-in open", "ticketed, checked in"])
def test_an_agent_is_offered_exactly_what_the_services_allow(passenger, agent, state):
    booking = STATES[state](passenger[1])
    assert what_is_offered(booking, agent) == what_services_allow(booking, agent)


def test_the_states_cover_every_action_both_ways(passenger):
    # given every state above, the offers must say yes and no to each action at least once
    user, customer = passenger
    seen: dict[str, set[bool]] = {}
    for make in STATES.values():
        for action, offered in what_is_offered(make(customer), user).items():
            seen.setdefault(action, set()).add(offered)
    assert seen == dict.fromkeys(("pay", "cancel", "change", "seats", "check_in"), {True, False})


def test_staff_without_the_permissions_are_offered_nothing(passenger, make_staff):
    marketer = make_staff(MARKETER, username="marketer9")
    booking = held(passenger[1])
    assert not any(what_is_offered(booking, marketer).values())


def test_the_trip_page_offers_only_what_the_selector_allows(passenger, passenger_client):
    # given a ticketed booking on a fare that allows no changes, whose check-in is open
    user, customer = passenger
    booking = ticketed(customer, hours=5)
    FareFamilyFactory._meta.model.objects.filter(pk=booking.segments.get().fare_family_id).update(changeable=False)
    # when the passenger opens the trip
    page = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    # then check-in, seats and cancel are offered, the change is not
    assert f"/check-in/{booking.record_locator}/flights/1/" in page
    assert f"/trips/{booking.record_locator}/flights/1/seats/" in page
    assert f"/trips/{booking.record_locator}/cancel/" in page
    assert f"/trips/{booking.record_locator}/flights/1/change/" not in page


def test_the_change_page_refuses_with_the_services_message_when_the_change_is_not_offered(passenger, passenger_client):
    user, customer = passenger
    booking = moved_to(0.5)(customer)
    response = passenger_client.get(f"/trips/{booking.record_locator}/flights/1/change/", follow=True)
    assert response.redirect_chain[-1][0] == f"/trips/{booking.record_locator}/"
    assert "This flight departs too soon to be changed." in response.content.decode()


def test_the_api_booking_says_which_actions_it_offers(passenger, api_as):
    # given a held booking of the passenger
    user, customer = passenger
    booking = held(customer)
    # when read through the API
    body = api_as(user).get(f"{BOOKINGS}{booking.record_locator}/").json()
    # then the actions are those of the selector
    offered = what_is_offered(booking, user)
    assert {k: body["actions"][k] for k in ("pay", "cancel")} == {"pay": offered["pay"], "cancel": offered["cancel"]}
    (segment,) = body["actions"]["segments"]
    assert segment["segment"] == 1
    assert {k: segment[k] for k in ("change", "seats", "check_in")} == {k: offered[k] for k in ("change", "seats", "check_in")}
    assert body["actions"]["documents"] is (booking.status == BookingStatus.TICKETED)
    assert Booking.objects.get(pk=booking.pk).segments.get().status == SegmentStatus.CONFIRMED
