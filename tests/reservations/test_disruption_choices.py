"""A disrupted passenger's own choices: the office's alternatives, a refund, or keeping a delayed flight.

Each is reached from the disruption e-mail by a signed link, confirmed after logging in as the booker,
and taken once: a second click changes nothing more, and the seats stay counted right.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from reservations import selectors, services
from reservations.models import Booking, BookingStatus, FlightCabin, FlightStatus, SegmentStatus
from tests.reservations.check_in_helpers import paying_card
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import book, logged_in


@pytest.fixture
def trip(passenger):
    """The passenger's ticketed booking for two on a flight in three days, and a later flight on the route."""
    user, customer = passenger
    flight = FlightFactory(
        scheduled_departure=(timezone.now() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    )
    later = FlightFactory(route=flight.route, scheduled_departure=flight.scheduled_departure + timedelta(hours=6))
    booking = book(customer=customer, flight=flight, names=[("Ada", "Lovelace"), ("Charles", "Babbage")])
    # Paid through the gateway, so the e-tickets carry the numbers the airline issues (a rebooking reissues them).
    services.payment_take(booking=booking, method="card", idempotency_key="pay", card=paying_card())
    booking.refresh_from_db()
    return booking, flight, later


def disrupt(flight, by, django_capture_on_commit_callbacks, **change) -> None:  # noqa: ANN001
    change = change or {"status": FlightStatus.CANCELLED, "reason": "Technical fault"}
    with django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(flight=flight, by=by, **change)


def links_in_the_email() -> dict[str, str]:
    """The choice links of the one disruption e-mail, by what they say, as a mail program shows them."""
    (message,) = [m for m in mail.outbox if "cancelled" in m.subject or "delayed" in m.subject]
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    html = parsed.get_body(preferencelist=("html",)).get_content()
    return {
        text.strip(): urlsplit(href).path + "?" + urlsplit(href).query
        for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', html)
    }


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["choice"][0]


def available(flight, cabin: str = "economy") -> int:  # noqa: ANN001
    return FlightCabin.objects.get(flight=flight, cabin=cabin).available


def test_the_email_offers_each_choice_and_the_options_page_lists_the_offices_alternatives(
    trip, agent, passenger, django_capture_on_commit_callbacks
):
    # Given the passenger's flight is cancelled
    booking, flight, later = trip
    disrupt(flight, agent, django_capture_on_commit_callbacks)
    # When they read the e-mail and open their options
    links = links_in_the_email()
    response = logged_in(passenger[0]).get(f"/trips/{booking.record_locator}/disruption/")
    # Then the e-mail links to the later flight and to a refund (a cancelled flight cannot be kept)
    assert any(later.flight_code in text for text in links)
    assert "Refund my booking" in links and "Keep the delayed flight" not in links
    # And the page lists exactly the flights the office's rebooking offers
    offered = [f.pk for f, _path in response.context["alternatives"]]
    office = [f.pk for f in selectors.flight_alternatives(segment=booking.segments.get(), min_seats=booking.seats)]
    assert offered == office == [later.pk]


def test_accepting_an_alternative_moves_the_party_once_and_counts_the_seats_once(
    trip, agent, passenger, django_capture_on_commit_callbacks
):
    # Given a cancelled flight and the e-mail's link to the later flight
    booking, flight, later = trip
    disrupt(flight, agent, django_capture_on_commit_callbacks)
    link = next(path for text, path in links_in_the_email().items() if later.flight_code in text)
    client = logged_in(passenger[0])
    seats_before = available(later)
    # When the passenger opens it, nothing changes yet; then they confirm, and confirm again
    shown = client.get(link)
    assert (
        shown.status_code == 200
        and Booking.objects.get(pk=booking.pk).segments.get(status=SegmentStatus.CONFIRMED).flight == flight
    )
    token = shown.context["token"]
    first = client.post(link.split("?")[0], {"choice": token})
    second = client.post(link.split("?")[0], {"choice": token})
    # Then the party is on the later flight, its two seats taken once, and the second click did nothing more
    assert first.status_code == second.status_code == 302
    confirmed = Booking.objects.get(pk=booking.pk).segments.filter(status=SegmentStatus.CONFIRMED)
    assert [s.flight_id for s in confirmed] == [later.pk]
    assert available(later) == seats_before - 2
    assert Booking.objects.get(pk=booking.pk).disrupted_at is None


def test_choosing_a_refund_cancels_the_booking_without_fees_once(trip, agent, passenger, django_capture_on_commit_callbacks):
    # Given a cancelled flight
    booking, flight, _later = trip
    disrupt(flight, agent, django_capture_on_commit_callbacks)
    link = links_in_the_email()["Refund my booking"]
    client = logged_in(passenger[0])
    # When the passenger confirms the refund twice
    shown = client.get(link)
    assert shown.context["refund"].refund_total == booking.paid_amount
    for _attempt in range(2):
        client.post(link.split("?")[0], {"choice": shown.context["token"]})
    # Then the booking is cancelled and everything paid is refunded, once
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert sum(r.amount for r in booking.refunds.all()) == booking.paid_amount
    assert booking.refunds.count() == 1


def test_keeping_a_delayed_flight_settles_the_disruption_once(
    trip, agent, passenger, settings, django_capture_on_commit_callbacks
):
    # Given a flight delayed beyond the disruption threshold
    booking, flight, _later = trip
    disrupt(
        flight, agent, django_capture_on_commit_callbacks, estimated_departure=flight.scheduled_departure + timedelta(hours=5)
    )
    link = links_in_the_email()["Keep the delayed flight"]
    client = logged_in(passenger[0])
    # When the passenger keeps it, and clicks the link again
    client.post(link.split("?")[0], {"choice": client.get(link).context["token"]})
    again = client.get(link, follow=True)
    # Then the booking is no longer waiting for a choice, nor on the office's list, and the flight is unchanged
    booking.refresh_from_db()
    assert booking.disrupted_at is None and booking.status == BookingStatus.TICKETED
    assert booking.segments.get(status=SegmentStatus.CONFIRMED).flight_id == flight.pk
    assert not selectors.disrupted_bookings().filter(pk=booking.pk).exists()
    assert "already recorded" in again.content.decode()


def test_only_the_booker_reaches_the_choice(trip, agent, make_passenger, django_capture_on_commit_callbacks, client):
    # Given a cancelled flight and its refund link
    booking, flight, _later = trip
    disrupt(flight, agent, django_capture_on_commit_callbacks)
    link = links_in_the_email()["Refund my booking"]
    # When someone not logged in opens it, they are asked to log in first
    anonymous = client.get(link)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    # When another passenger logs in and opens it or posts it, then it is not found and nothing changes
    stranger = logged_in(make_passenger("someone@example.com")[0])
    assert stranger.get(link).status_code == 404
    assert stranger.post(link.split("?")[0], {"choice": token_of(link)}).status_code == 404
    assert stranger.get(f"/trips/{booking.record_locator}/disruption/").status_code == 404
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.TICKETED


def test_a_tampered_link_is_refused_and_changes_nothing(trip, agent, passenger, django_capture_on_commit_callbacks):
    # Given a cancelled flight and a link whose signature was altered
    booking, flight, _later = trip
    disrupt(flight, agent, django_capture_on_commit_callbacks)
    client = logged_in(passenger[0])
    # When the passenger opens it or posts it
    shown = client.get(f"/trips/{booking.record_locator}/disruption/choice/?choice=not-a-token")
    posted = client.post(f"/trips/{booking.record_locator}/disruption/choice/", {"choice": "x:y:z"})
    # Then both are refused with a clear message and the booking is unchanged
    assert shown.status_code == posted.status_code == 400
    assert "not valid" in shown.content.decode()
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.TICKETED


def test_a_flight_running_on_time_offers_nothing(trip, passenger):
    # Given a booking whose flight runs as planned
    booking, _flight, _later = trip
    # When the passenger opens the options page, and a keep link made for it
    client = logged_in(passenger[0])
    page = client.get(f"/trips/{booking.record_locator}/disruption/")
    keep = services.disruption_choice_path(record_locator=booking.record_locator, choice="keep")
    # Then there is nothing to choose, and the link changes nothing
    assert page.status_code == 200 and page.context["disruption"] is None
    assert client.post(keep.split("?")[0], {"choice": token_of(keep)}).status_code == 302
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.TICKETED
