"""Flight status: delays, gates and cancellations; disruption notices; arrival; the manifest and disruption list."""

from __future__ import annotations

import email
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from crm.errors import ApplicationError
from crm.models import AssistanceCode, MealCode, TimelineEntry
from reservations import events, selectors, services
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    Coupon,
    CouponStatus,
    Flight,
    FlightStatus,
    PassengerType,
)
from tests.crm.factories import CustomerFactory
from tests.reservations.check_in_helpers import flight_in, ticketed_booking


def read_as_a_mail_client(message) -> dict[str, str]:
    """Subject, recipient and each body part, as a mail program would decode them."""
    parsed = email.message_from_bytes(message.message().as_bytes())
    parts = {"subject": str(email.header.make_header(email.header.decode_header(parsed["Subject"]))), "to": parsed["To"]}
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_type()] = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return parts


@pytest.fixture
def received():
    """Every flight_disrupted, flight_arrived and no_show event sent during the test (once committed)."""
    seen: dict[str, list[dict]] = {"disrupted": [], "arrived": [], "no_show": []}
    signals = {"disrupted": events.flight_disrupted, "arrived": events.flight_arrived, "no_show": events.no_show}
    for key, signal in signals.items():
        signal.connect(lambda sender, signal, key=key, **kwargs: seen[key].append(kwargs), weak=False, dispatch_uid=f"t-{key}")
    yield seen
    for key, signal in signals.items():
        signal.disconnect(dispatch_uid=f"t-{key}")


@pytest.fixture
def booked_flight(db):
    """A flight in 30 hours with two active bookings (one linked to a customer) and a cancelled one."""
    flight = flight_in(30)
    customer = CustomerFactory()
    linked = ticketed_booking(
        flight=flight, customer=customer, passengers=[{"family_name": "Ng", "customer": customer}, {"family_name": "Ng"}]
    )
    held = ticketed_booking(flight=flight, status=BookingStatus.HELD, language="zh-hans", passengers=[{"family_name": "Li"}])
    gone = ticketed_booking(flight=flight, passengers=[{"family_name": "Old"}])
    Booking.objects.filter(pk=gone.pk).update(status=BookingStatus.CANCELLED)
    return flight, linked, held, gone, customer


# --- Delays, gates, validation ------------------------------------------------------------------


def test_a_delay_sets_the_new_departure_and_arrival_and_marks_the_flight_delayed(db, agent):
    # Given a flight on time
    flight = flight_in(30)
    new_time = flight.scheduled_departure + timedelta(minutes=45)

    # When an agent records a 45-minute delay and a gate
    services.flight_status_update(flight=flight, by=agent, estimated_departure=new_time, gate=" b 42 ", reason="Late inbound")

    # Then departure and arrival both move by 45 minutes
    flight.refresh_from_db()
    assert flight.status == FlightStatus.DELAYED
    assert flight.estimated_departure == new_time
    assert flight.estimated_arrival == flight.scheduled_arrival + timedelta(minutes=45)
    assert flight.gate == "B42"
    assert flight.status_reason == "Late inbound"


def test_an_estimate_equal_to_the_schedule_puts_the_flight_back_on_time(db, agent):
    flight = flight_in(30)
    services.flight_status_update(flight=flight, by=agent, estimated_departure=flight.scheduled_departure + timedelta(hours=1))

    services.flight_status_update(flight=flight, by=agent, estimated_departure=flight.scheduled_departure)

    flight.refresh_from_db()
    assert flight.status == FlightStatus.SCHEDULED
    assert flight.estimated_departure is None and flight.estimated_arrival is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"estimated_departure": -timedelta(minutes=1)}, "estimated_departure"),
        ({"estimated_departure": timedelta(hours=73)}, "estimated_departure"),
        ({"gate": "B-42!"}, "gate"),
        ({"status": "lost"}, "status"),
        ({"status": FlightStatus.CANCELLED}, "reason"),
        ({"status": FlightStatus.DELAYED}, "estimated_departure"),
        ({"status": FlightStatus.DEPARTED}, "status"),
    ],
    ids=[
        "before-schedule",
        "over-72h",
        "bad-gate",
        "unknown-status",
        "cancel-without-reason",
        "delay-without-time",
        "depart-days-early",
    ],
)
def test_an_impossible_status_update_is_refused_with_a_field_error_and_changes_nothing(db, agent, change, field):
    # Given a flight on time
    flight = flight_in(30)
    kwargs = dict(change)
    if "estimated_departure" in kwargs:
        kwargs["estimated_departure"] = flight.scheduled_departure + kwargs["estimated_departure"]

    # When an impossible update is sent
    with pytest.raises(ApplicationError) as refused:
        services.flight_status_update(flight=flight, by=agent, **kwargs)

    # Then the field is named and the flight is unchanged
    assert field in refused.value.fields
    flight.refresh_from_db()
    assert (flight.status, flight.estimated_departure, flight.gate) == (FlightStatus.SCHEDULED, None, "")


def test_only_staff_can_change_a_flights_status(db, passenger):
    flight = flight_in(30)

    with pytest.raises(ApplicationError) as refused:
        services.flight_status_update(flight=flight, by=passenger[0], status=FlightStatus.CANCELLED, reason="x")

    assert refused.value.status == 403
    flight.refresh_from_db()
    assert flight.status == FlightStatus.SCHEDULED


# --- Disruption ---------------------------------------------------------------------------------


def test_a_delay_of_exactly_the_threshold_disrupts_no_one(
    booked_flight, agent, settings, received, django_capture_on_commit_callbacks
):
    # Given the threshold is 180 minutes
    settings.DISRUPTION_DELAY_MINUTES = 180
    flight = booked_flight[0]

    # When the flight is delayed by exactly 180 minutes
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(
            flight=flight, by=agent, estimated_departure=flight.scheduled_departure + timedelta(minutes=180)
        )

    # Then no booking is flagged, no one is e-mailed and no event is sent
    assert not Booking.objects.filter(disrupted_at__isnull=False).exists()
    assert mail.outbox == []
    assert received["disrupted"] == []


def test_a_delay_over_the_threshold_flags_active_bookings_emails_each_contact_once_and_tells_other_apps(
    booked_flight, agent, settings, received, django_capture_on_commit_callbacks
):
    # Given a flight with two active bookings and a cancelled one
    settings.DISRUPTION_DELAY_MINUTES = 180
    flight, linked, held, gone, customer = booked_flight
    late = flight.scheduled_departure + timedelta(minutes=181)

    # When it is delayed by 181 minutes, and the same update is sent again, then a later estimate
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=agent, estimated_departure=late, reason="Crew rest")
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=agent, estimated_departure=late, reason="Crew rest")
        services.flight_status_update(flight=flight, by=agent, estimated_departure=late + timedelta(minutes=30))

    # Then both active bookings are flagged, the cancelled one is not
    flagged = set(Booking.objects.filter(disrupted_at__isnull=False).values_list("pk", flat=True))
    assert flagged == {linked.pk, held.pk}
    assert "Crew rest" in Booking.objects.get(pk=linked.pk).disruption_reason

    # And each contact got exactly one e-mail, naming their booking and the new time
    messages = sorted((read_as_a_mail_client(m) for m in mail.outbox), key=lambda m: m["to"])
    assert sorted(m["to"] for m in messages) == sorted([linked.contact_email, held.contact_email])
    mine = next(m for m in messages if m["to"] == linked.contact_email)
    assert linked.record_locator in mine["subject"]
    assert "delayed" in mine["subject"]
    assert late.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M") in mine["text/plain"]
    assert "Crew rest" in mine["text/html"]

    # And the event went out once with both bookings, and the linked customer's timeline says so
    assert received["disrupted"] == [{"flight_id": flight.pk, "reason": "delayed", "booking_ids": sorted([linked.pk, held.pk])}]
    assert TimelineEntry.objects.filter(customer=customer, kind="flight.disrupted").count() == 1


def test_a_cancellation_after_a_long_delay_tells_passengers_again_but_repeating_it_does_not(
    booked_flight, agent, settings, received, django_capture_on_commit_callbacks
):
    settings.DISRUPTION_DELAY_MINUTES = 180
    flight, linked, held, _gone, _customer = booked_flight
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(
            flight=flight, by=agent, estimated_departure=flight.scheduled_departure + timedelta(hours=5)
        )
    mail.outbox.clear()

    # When the flight is then cancelled, twice
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=agent, status=FlightStatus.CANCELLED, reason="Technical fault")
        services.flight_status_update(flight=flight, by=agent, status=FlightStatus.CANCELLED, gate="", reason="Technical fault")

    # Then each contact got one cancellation e-mail and one more event went out
    assert len(mail.outbox) == 2
    subjects = [read_as_a_mail_client(m)["subject"] for m in mail.outbox]
    # each in its booking's language: one booking is in English, the held one in Chinese
    assert sum("is cancelled" in s for s in subjects) == 1 and sum("航班已取消" in s for s in subjects) == 1
    assert [e["reason"] for e in received["disrupted"]] == ["delayed", "cancelled"]
    flight.refresh_from_db()
    assert flight.status == FlightStatus.CANCELLED
    assert "cancelled" in Booking.objects.get(pk=held.pk).disruption_reason


def test_the_disruption_list_shows_bookings_still_on_a_disrupted_flight_in_constant_queries(
    booked_flight, agent, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # Given a cancelled flight with two active bookings
    flight, linked, held, _gone, _customer = booked_flight
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=agent, status=FlightStatus.CANCELLED, reason="Strike")
    with django_assert_max_num_queries(3):
        first = [b.record_locator for b in selectors.disrupted_bookings()]

    # When more passengers on it are flagged
    for n in range(5):
        Booking.objects.filter(pk=ticketed_booking(flight=flight, passengers=[{"family_name": f"Extra{n}"}] * 2).pk).update(
            disrupted_at=timezone.now()
        )

    # Then the list holds them all and costs the same number of queries
    with django_assert_max_num_queries(3):
        rows = list(selectors.disrupted_bookings())
        names = [p.family_name for b in rows for p in b.passengers.all()] + [
            s.flight.flight_code for b in rows for s in b.segments.all()
        ]
    assert set(first) == {linked.record_locator, held.record_locator}
    assert len(rows) == 7 and names


# --- Arrival ------------------------------------------------------------------------------------


@pytest.fixture
def landed_flight(db, monkeypatch):
    """A flight that left three hours ago, with a checked-in party, a boarded traveller and a no-show."""
    flight = flight_in(-3)
    party = ticketed_booking(
        flight=flight,
        passengers=[{"family_name": "Fly"}, {"family_name": "Fly", "passenger_type": PassengerType.INFANT}],
    )
    boarded = ticketed_booking(flight=flight, passengers=[{"family_name": "Gate"}])
    no_show = ticketed_booking(flight=flight, passengers=[{"family_name": "Late"}])
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: flight.scheduled_departure - timedelta(hours=2))
    for booking in (party, boarded):
        services.check_in(
            booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
        )
    monkeypatch.setattr(timezone, "now", lambda: now)
    services.coupon_board(coupon=Coupon.objects.get(ticket__booking=boarded))
    return flight, party, boarded, no_show


def test_arrival_flies_checked_in_and_boarded_coupons_and_announces_them_once(
    landed_flight, agent, received, django_capture_on_commit_callbacks
):
    # Given a landed flight with three checked-in coupons, one of them boarded, and a no-show
    flight, party, boarded, no_show = landed_flight

    # When it is marked arrived, twice
    with django_capture_on_commit_callbacks(execute=True):
        first = services.flight_arrive(flight=flight, by=agent)
        second = services.flight_arrive(flight=flight, by=agent)

    # Then the three coupons are flown, announced in one event, and the second run changed nothing
    assert (first, second) == (3, 0)
    flown = Coupon.objects.filter(status=CouponStatus.FLOWN)
    assert {c.ticket.booking_id for c in flown} == {party.pk, boarded.pk}
    assert received["arrived"] == [{"flight_id": flight.pk, "coupon_ids": sorted(c.pk for c in flown)}]
    # And the traveller who never checked in is a no-show, announced once too
    no_show_coupon = Coupon.objects.get(ticket__booking=no_show)
    assert no_show_coupon.status == CouponStatus.NO_SHOW
    assert received["no_show"] == [{"flight_id": flight.pk, "coupon_ids": [no_show_coupon.pk]}]
    flight.refresh_from_db()
    assert flight.status == FlightStatus.ARRIVED


def test_a_flight_cannot_arrive_before_it_departs_or_once_cancelled(db, agent, received):
    future = flight_in(5)
    cancelled = flight_in(-5)
    Flight.objects.filter(pk=cancelled.pk).update(status=FlightStatus.CANCELLED)

    for flight, code in ((future, "not_departed"), (cancelled, "flight_cancelled")):
        with pytest.raises(ApplicationError) as refused:
            services.flight_arrive(flight=flight, by=agent)
        assert refused.value.code == code
    assert received["arrived"] == received["no_show"] == []
    assert Flight.objects.filter(status=FlightStatus.ARRIVED).count() == 0


# --- Manifest -----------------------------------------------------------------------------------


def test_the_manifest_lists_everyone_with_seat_check_in_bags_and_special_service_codes(db):
    # Given a party checked in with a bag, and a traveller with a special meal and wheelchair not yet checked in
    flight = flight_in(5)
    party = ticketed_booking(
        flight=flight,
        passengers=[
            {"family_name": "Adams", "given_name": "Amy"},
            {"family_name": "Adams", "given_name": "Bo", "passenger_type": PassengerType.INFANT},
        ],
    )
    ticketed_booking(
        flight=flight,
        passengers=[{"family_name": "Baker", "given_name": "Cy", "meal": MealCode.VGML, "assistance": [AssistanceCode.WCHR]}],
    )
    amy = party.passengers.get(given_name="Amy")
    services.check_in(
        booking=party, segment=party.segments.get(), passengers=[amy], seats={amy.pk: "4A"},
        bags={amy.pk: [Decimal("20.5")]}, hand_carry={amy.pk: 1}, channel=Channel.AGENT,
    )  # fmt: skip

    # When the manifest is read
    rows = selectors.flight_manifest(flight=flight)

    # Then it is alphabetical, and shows seat, check-in, bags and SSR codes
    assert [r.name for r in rows] == ["ADAMS/AMY", "ADAMS/BO", "BAKER/CY"]
    amy_row, bo_row, cy_row = rows
    assert (amy_row.seat, amy_row.checked_in, amy_row.sequence, amy_row.bags, amy_row.bag_weight_kg) == (
        "4A",
        True,
        1,
        1,
        Decimal("20.5"),
    )
    assert amy_row.ssr_codes == ["INFT"] and amy_row.hand_carry == 1
    assert bo_row.infant_of == "Amy Adams" and bo_row.checked_in and bo_row.seat == ""
    assert (cy_row.checked_in, cy_row.coupon_status, cy_row.seat) == (False, CouponStatus.OPEN, "")
    assert cy_row.check_in_status == "Not checked in" and amy_row.check_in_status == "Checked in"
    assert cy_row.ssr_codes == ["VGML", "WCHR"]
    totals = selectors.manifest_totals(rows)
    assert (totals["booked"], totals["checked_in"], totals["bags"]) == (3, 2, 1)


def test_the_manifest_takes_the_same_queries_for_two_or_forty_passengers(db, django_assert_num_queries):
    # Given a flight with two travellers
    flight = flight_in(5)
    ticketed_booking(flight=flight, passengers=[{"family_name": "One"}, {"family_name": "Two"}])
    with django_assert_num_queries(4):
        assert len(selectors.flight_manifest(flight=flight)) == 2

    # When nineteen more bookings of two are added, half of them checked in
    for n in range(19):
        booking = ticketed_booking(flight=flight, passengers=[{"family_name": f"P{n}"}] * 2)
        if n % 2:
            services.check_in(
                booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
            )

    # Then the manifest is still four queries
    with django_assert_num_queries(4):
        assert len(selectors.flight_manifest(flight=flight)) == 40
