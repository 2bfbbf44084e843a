"""Booking and flight events: sent once per real change, after commit, with ids and codes only.

A receiver sees nothing of a quote, a preview or a rolled-back transaction, and one that raises is
logged and never fails the booking, the ticketing or the arrival.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm.events import Event
from reservations import events, services
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    CheckIn,
    Coupon,
    CouponStatus,
    Flight,
    FlightStatus,
    PassengerType,
    PaymentMethod,
    Refund,
    SegmentStatus,
    Ticket,
)
from tests.crm.factories import CustomerFactory
from tests.events_support import capture_events, events_of
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.factories import FlightFactory
from tests.reservations.test_payments import book, fare, pay, voucher

EVENTS = events_of(events)


class Boom(Exception):
    pass


@pytest.fixture
def received():
    """Every reservations event delivered during the test, as (name, payload), checked to be plain JSON."""
    with capture_events(events) as seen:
        yield seen


@pytest.fixture
def failing_receiver():
    """Connect a receiver that raises to the given event (disconnected after the test)."""
    connected = []

    def connect(event: Event) -> None:
        def explode(sender, **payload):  # noqa: ANN001, ANN202
            raise Boom("receiver bug")

        event.connect(explode, weak=False, dispatch_uid="test-events-boom")
        connected.append(event)

    yield connect
    for event in connected:
        event.disconnect(dispatch_uid="test-events-boom")


def named(received: list[tuple[str, dict]], name: str) -> list[dict]:
    return [payload for event, payload in received if event == name]


def ticketed(booking: Booking, capture, key: str = "pay") -> Booking:  # noqa: ANN001
    with capture(execute=True):
        pay(booking, key=key)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    return booking


def departed_flight_with_passengers(monkeypatch) -> tuple[Flight, list[Coupon], list[Coupon]]:  # noqa: ANN001
    """A flight that left half an hour ago: six travellers checked in (one boarded, one an infant), three never came."""
    flight = flight_in(-0.5)
    family = ticketed_booking(
        flight=flight,
        passengers=[
            {"family_name": "Fly"},
            {"family_name": "Fly"},
            {"family_name": "Fly", "passenger_type": PassengerType.INFANT},
        ],
    )
    solo = ticketed_booking(flight=flight, passengers=[{"family_name": "Solo"}])
    pair = ticketed_booking(flight=flight, passengers=[{"family_name": "Pair"}, {"family_name": "Pair"}])
    late = ticketed_booking(flight=flight, passengers=[{"family_name": "Late"}, {"family_name": "Late"}])
    later = ticketed_booking(flight=flight, passengers=[{"family_name": "Later"}])
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: flight.scheduled_departure - timedelta(hours=2))
    for booking in (family, solo, pair):
        services.check_in(
            booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
        )
    monkeypatch.setattr(timezone, "now", lambda: now)
    services.coupon_board(coupon=Coupon.objects.get(ticket__booking=solo))
    flying = list(Coupon.objects.filter(ticket__booking__in=[family, solo, pair]).order_by("pk"))
    missing = list(Coupon.objects.filter(ticket__booking__in=[late, later]).order_by("pk"))
    return flight, flying, missing


# --- Each event, once per real change, with its documented payload -----------------------------------------


def test_booking_creation_sends_booking_created_once_with_ids_and_codes(db, received, django_capture_on_commit_callbacks):
    # Given a customer booking in the portal
    customer = CustomerFactory()

    # When the booking is made
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(customer=customer)

    # Then one booking_created names it by id, locator and channel code
    assert received == [
        (
            "booking_created",
            {"booking_id": booking.pk, "record_locator": booking.record_locator, "channel": "portal", "customer_id": customer.pk},
        )
    ]


def test_full_payment_sends_booking_ticketed_once_with_the_issued_tickets(db, received, django_capture_on_commit_callbacks):
    # Given a held booking for two
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(adults=2)
    received.clear()

    # When it is paid, and ticketing is asked for again
    ticketed(booking, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_ticket(booking=booking)

    # Then one booking_ticketed carries both tickets
    tickets = sorted(Ticket.objects.filter(booking=booking).values_list("pk", flat=True))
    assert len(tickets) == 2
    assert received == [
        ("booking_ticketed", {"booking_id": booking.pk, "record_locator": booking.record_locator, "ticket_ids": tickets})
    ]


def test_a_voluntary_change_sends_booking_changed_once(db, received, django_capture_on_commit_callbacks):
    # Given a ticketed booking and a later flight on the same route
    old_flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    booking = ticketed(book(flights=[old_flight]), django_capture_on_commit_callbacks)
    new_flight = FlightFactory(route=old_flight.route, scheduled_departure=timezone.now() + timedelta(days=12))
    old_segment = booking.segments.get()
    received.clear()

    # When the passenger moves to it
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_change_flight(booking=booking, segment=old_segment, new_flight_id=new_flight.pk)

    # Then one booking_changed says which segment moved where, voluntarily
    new_segment = booking.segments.get(status=SegmentStatus.CONFIRMED)
    assert received == [
        (
            "booking_changed",
            {
                "booking_id": booking.pk,
                "record_locator": booking.record_locator,
                "reason": "voluntary",
                "old_segment_id": old_segment.pk,
                "new_segment_id": new_segment.pk,
                "from_flight_id": old_flight.pk,
                "to_flight_id": new_flight.pk,
            },
        )
    ]


def test_a_rebooking_off_a_disrupted_flight_sends_an_involuntary_booking_changed(
    db, agent, received, django_capture_on_commit_callbacks
):
    # Given a ticketed booking on a flight the airline cancelled
    old_flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    booking = ticketed(book(flights=[old_flight]), django_capture_on_commit_callbacks)
    Flight.objects.filter(pk=old_flight.pk).update(status=FlightStatus.CANCELLED)
    new_flight = FlightFactory(route=old_flight.route, scheduled_departure=timezone.now() + timedelta(days=11))
    received.clear()

    # When an agent rebooks it
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_rebook(
            booking=booking, segment=booking.segments.get(), new_flight_id=new_flight.pk, by=agent, reason="Flight cancelled"
        )

    # Then one booking_changed is sent, marked involuntary
    changed = named(received, "booking_changed")
    assert [(c["reason"], c["from_flight_id"], c["to_flight_id"]) for c in changed] == [
        ("involuntary", old_flight.pk, new_flight.pk)
    ]


def test_a_cancellation_sends_booking_cancelled_and_refund_completed_once_each(db, received, django_capture_on_commit_callbacks):
    # Given a ticketed booking on a refundable fare, paid by card
    flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    booking = ticketed(book(flights=[flight], family=fare("ECO_FLEX", refundable=True)), django_capture_on_commit_callbacks)
    received.clear()

    # When the passenger cancels it (the card refund goes through the gateway after commit)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, reason="Plans changed")

    # Then one booking_cancelled (voluntary) and one refund_completed for the card refund
    refund = Refund.objects.get(booking=booking)
    assert named(received, "booking_cancelled") == [
        {"booking_id": booking.pk, "record_locator": booking.record_locator, "reason": "voluntary"}
    ]
    assert named(received, "refund_completed") == [
        {
            "refund_id": refund.pk,
            "booking_id": booking.pk,
            "record_locator": booking.record_locator,
            "payment_id": refund.payment_id,
            "method": PaymentMethod.CARD,
        }
    ]
    assert len(received) == 2


def test_an_unpaid_hold_that_runs_out_sends_booking_cancelled_as_expired(db, received, django_capture_on_commit_callbacks):
    # Given a hold whose time is up, and one partly paid by voucher whose time is up too
    unpaid, part_paid = book(), book()
    voucher(amount="10.00")
    pay(part_paid, key="part", method=PaymentMethod.VOUCHER, voucher_code="GIFT100", amount=Decimal("10.00"), card=None)
    Booking.objects.filter(pk__in=[unpaid.pk, part_paid.pk]).update(hold_expires_at=timezone.now() - timedelta(minutes=1))

    # When the sweep runs, twice
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_expire_holds()
        services.booking_expire_holds()

    # Then each booking is announced cancelled once, as expired, and the voucher refund once
    cancelled = named(received, "booking_cancelled")
    assert sorted((c["booking_id"], c["reason"]) for c in cancelled) == [(unpaid.pk, "expired"), (part_paid.pk, "expired")]
    assert [r["method"] for r in named(received, "refund_completed")] == [PaymentMethod.VOUCHER]


def test_check_in_sends_passenger_checked_in_once_for_the_party(db, received, django_capture_on_commit_callbacks):
    # Given a ticketed adult with an infant on a flight whose check-in is open
    booking = ticketed_booking(
        flight=flight_in(5),
        passengers=[{"family_name": "Ng"}, {"family_name": "Ng", "passenger_type": PassengerType.INFANT}],
    )
    segment = booking.segments.get()
    passengers = list(booking.passengers.order_by("sequence"))

    # When the adult checks both in online
    with django_capture_on_commit_callbacks(execute=True):
        created = services.check_in(booking=booking, segment=segment, passengers=passengers[:1], channel=Channel.PORTAL)

    # Then one passenger_checked_in names the booking, the flight and every traveller, coupon and check-in
    coupons = {c.ticket.passenger_id: c.pk for c in Coupon.objects.filter(ticket__booking=booking).select_related("ticket")}
    [payload] = named(received, "passenger_checked_in")
    assert {k: v for k, v in payload.items() if not k.endswith("_ids")} == {
        "booking_id": booking.pk,
        "record_locator": booking.record_locator,
        "flight_id": segment.flight_id,
        "segment_id": segment.pk,
        "channel": Channel.PORTAL,
    }
    assert sorted(payload["passenger_ids"]) == sorted(p.pk for p in passengers)
    assert sorted(payload["coupon_ids"]) == sorted(coupons[p.pk] for p in passengers)
    assert (
        sorted(payload["check_in_ids"]) == sorted(c.pk for c in created) == sorted(CheckIn.objects.values_list("pk", flat=True))
    )


def test_departure_marks_the_no_shows_and_arrival_flies_everyone_else_in_one_event_each(
    db, agent, monkeypatch, received, django_capture_on_commit_callbacks
):
    # Given a flight that left with six travellers checked in and three who never came
    flight, flying, missing = departed_flight_with_passengers(monkeypatch)

    # When operations record the departure, then the arrival, each twice
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_depart(flight=flight, by=agent)
        services.flight_depart(flight=flight, by=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=agent, status=FlightStatus.ARRIVED)
        services.flight_arrive(flight=flight, by=agent)

    # Then the three who never checked in are no-shows, announced once for the flight
    assert {c.status for c in Coupon.objects.filter(pk__in=[c.pk for c in missing])} == {CouponStatus.NO_SHOW}
    assert named(received, "no_show") == [{"flight_id": flight.pk, "coupon_ids": [c.pk for c in missing]}]
    # And one flight_arrived carries the flown coupons of all six
    assert {c.status for c in Coupon.objects.filter(pk__in=[c.pk for c in flying])} == {CouponStatus.FLOWN}
    assert named(received, "flight_arrived") == [{"flight_id": flight.pk, "coupon_ids": [c.pk for c in flying]}]
    assert len(received) == 2


def test_a_flight_whose_departure_was_never_recorded_marks_its_no_shows_on_arrival(
    db, agent, monkeypatch, received, django_capture_on_commit_callbacks
):
    # Given a flight that left, but only its arrival is recorded
    flight, flying, missing = departed_flight_with_passengers(monkeypatch)

    # When it arrives
    with django_capture_on_commit_callbacks(execute=True):
        flown = services.flight_arrive(flight=flight, by=agent)

    # Then the no-shows and the flown coupons are announced once each, and never overlap
    assert flown == len(flying)
    assert received == [
        ("no_show", {"flight_id": flight.pk, "coupon_ids": [c.pk for c in missing]}),
        ("flight_arrived", {"flight_id": flight.pk, "coupon_ids": [c.pk for c in flying]}),
    ]


def test_a_flight_landing_with_nobody_checked_in_still_arrives_once(db, agent, received, django_capture_on_commit_callbacks):
    # Given an empty flight that has left
    flight = flight_in(-1)

    # When it arrives, twice
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_arrive(flight=flight, by=agent)
        services.flight_arrive(flight=flight, by=agent)

    # Then one flight_arrived with no coupons, and no no_show
    assert received == [("flight_arrived", {"flight_id": flight.pk, "coupon_ids": []})]


def test_a_cancelled_flight_sends_flight_disrupted_with_a_reason_code_not_text(
    db, agent, received, django_capture_on_commit_callbacks
):
    # Given a flight with two active bookings
    flight = flight_in(30)
    bookings = [ticketed_booking(flight=flight), ticketed_booking(flight=flight, status=BookingStatus.HELD)]

    # When operations cancel it, twice, with a reason typed in their own words
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=agent, status=FlightStatus.CANCELLED, reason="Technical fault")
        services.flight_status_update(flight=flight, by=agent, status=FlightStatus.CANCELLED, reason="Technical fault")

    # Then one flight_disrupted carries the code and the booking ids; the typed reason stays on the flight
    assert received == [
        ("flight_disrupted", {"flight_id": flight.pk, "reason": "cancelled", "booking_ids": sorted(b.pk for b in bookings)})
    ]
    flight.refresh_from_db()
    assert flight.status_reason == "Technical fault"


# --- Nothing for a quote, a preview or a rolled-back change --------------------------------------------------


def test_quotes_send_nothing(db, received, django_capture_on_commit_callbacks):
    # Given a ticketed booking on a refundable fare and another flight it could move to
    flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    booking = ticketed(book(flights=[flight], family=fare("ECO_FLEX", refundable=True)), django_capture_on_commit_callbacks)
    other = FlightFactory(route=flight.route, scheduled_departure=timezone.now() + timedelta(days=12))
    received.clear()

    # When the passenger asks what cancelling and changing would cost, and what their bags would cost
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        cancel_quote = services.booking_cancel_quote(booking=booking)
        services.booking_change_quote(booking=booking, segment=booking.segments.get(), new_flight=other)
        services.baggage_quote(fare_family=booking.segments.get().fare_family, weights=[Decimal("30")])

    # Then there were real answers, and no event was even queued
    assert cancel_quote.refund_total > 0
    assert callbacks == [] and received == []
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED


def test_the_portal_cancellation_preview_sends_nothing(
    db, passenger, passenger_client, received, django_capture_on_commit_callbacks
):
    # Given the passenger's ticketed booking
    _user, customer = passenger
    flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    booking = ticketed(book(flights=[flight], customer=customer), django_capture_on_commit_callbacks)
    received.clear()

    # When they open the cancellation page, which shows what they would get back
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        page = passenger_client.get(reverse("reservations_portal:cancel", kwargs={"record_locator": booking.record_locator}))

    # Then the preview is shown and nothing is announced
    assert page.status_code == 200 and page.context["preview"] is not None
    assert callbacks == [] and received == []


def test_a_rolled_back_booking_and_arrival_send_nothing(db, agent, monkeypatch, received, django_capture_on_commit_callbacks):
    # Given a flight that left with travellers on board
    flight, _flying, _missing = departed_flight_with_passengers(monkeypatch)
    bookings, coupons = Booking.objects.count(), dict(Coupon.objects.values_list("pk", "status"))

    # When a booking and the arrival each happen inside a transaction that then fails
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for change in (lambda: book(), lambda: services.flight_arrive(flight=flight, by=agent)):
            with pytest.raises(Boom), transaction.atomic():
                change()
                raise Boom

    # Then no receiver heard of either, and nothing changed
    assert callbacks == [] and received == []
    assert Booking.objects.count() == bookings
    assert dict(Coupon.objects.values_list("pk", "status")) == coupons


@pytest.mark.django_db(transaction=True)
def test_events_go_out_only_after_a_real_commit_and_never_after_a_rollback(received):
    # Given a flight and a fare, committed
    flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    family = fare()
    seen_inside_transaction = []
    events.booking_created.connect(
        lambda sender, **kw: seen_inside_transaction.append(connection.in_atomic_block), weak=False, dispatch_uid="t-inside"
    )
    try:
        # When one booking is rolled back and another committed
        with pytest.raises(Boom), transaction.atomic():
            book(flights=[flight], family=family)
            raise Boom
        assert received == []
        booking = book(flights=[flight], family=family)
    finally:
        events.booking_created.disconnect(dispatch_uid="t-inside")

    # Then only the committed one was announced, once the transaction was over
    assert [(name, p["booking_id"]) for name, p in received] == [("booking_created", booking.pk)]
    assert seen_inside_transaction == [False]
    assert Booking.objects.count() == 1


# --- A failing receiver ------------------------------------------------------------------------------------


def test_a_failing_receiver_does_not_fail_booking_creation_or_ticketing_and_is_logged(
    db, received, failing_receiver, caplog, django_capture_on_commit_callbacks
):
    # Given receivers of booking_created and booking_ticketed that raise
    failing_receiver(events.booking_created)
    failing_receiver(events.booking_ticketed)

    # When a booking is made and paid
    with caplog.at_level(logging.ERROR, logger="crm.events"), django_capture_on_commit_callbacks(execute=True):
        booking = book()
    with caplog.at_level(logging.ERROR, logger="crm.events"):
        booking = ticketed(booking, django_capture_on_commit_callbacks)

    # Then both happened, the other receivers still heard of them, and each failure is logged with its exception
    assert booking.status == BookingStatus.TICKETED and Ticket.objects.filter(booking=booking).exists()
    assert [name for name, _payload in received] == ["booking_created", "booking_ticketed"]
    failures = [r for r in caplog.records if r.name == "crm.events"]
    assert [("booking_created" in r.getMessage(), "booking_ticketed" in r.getMessage()) for r in failures] == [
        (True, False),
        (False, True),
    ]
    assert all(isinstance(r.exc_info[1], Boom) for r in failures)


def test_a_failing_receiver_does_not_fail_the_arrival(
    db, agent, monkeypatch, received, failing_receiver, caplog, django_capture_on_commit_callbacks
):
    # Given a flight that left with travellers on board, and a flight_arrived receiver that raises
    flight, flying, _missing = departed_flight_with_passengers(monkeypatch)
    failing_receiver(events.flight_arrived)

    # When it arrives
    with caplog.at_level(logging.ERROR, logger="crm.events"), django_capture_on_commit_callbacks(execute=True):
        flown = services.flight_arrive(flight=flight, by=agent)

    # Then the coupons are flown, the other receiver heard of it, and the failure is logged
    assert flown == len(flying)
    assert {c.status for c in Coupon.objects.filter(pk__in=[c.pk for c in flying])} == {CouponStatus.FLOWN}
    assert named(received, "flight_arrived") == [{"flight_id": flight.pk, "coupon_ids": [c.pk for c in flying]}]
    [failure] = [r for r in caplog.records if r.name == "crm.events"]
    assert "flight_arrived" in failure.getMessage() and isinstance(failure.exc_info[1], Boom)


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_after_a_real_commit_leaves_the_booking_committed(failing_receiver, caplog):
    # Given a booking_created receiver that raises
    flight = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=10))
    family = fare()
    failing_receiver(events.booking_created)

    # When a booking is made outside any test transaction
    with caplog.at_level(logging.ERROR, logger="crm.events"):
        booking = book(flights=[flight], family=family)

    # Then the caller got its booking, it is in the database, and the failure is logged
    assert Booking.objects.filter(pk=booking.pk, status=BookingStatus.HELD).exists()
    assert any("booking_created" in r.getMessage() and r.exc_info for r in caplog.records if r.name == "crm.events")
