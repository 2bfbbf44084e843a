"""Small things people read on the booking pages: counts in the singular, titles as written, one full stop."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from reservations.models import Booking, BookingStatus, PassengerType
from tests.reservations.check_in_helpers import flight_in, ticketed_booking

pytestmark = pytest.mark.django_db


def test_the_office_counts_one_adult_in_the_singular(agent_client):
    # Given a booking for one adult, and one for two adults and an infant
    one = ticketed_booking(flight=flight_in(48))
    family = ticketed_booking(
        flight=flight_in(48),
        passengers=[
            {"given_name": "Ada", "family_name": "Hart"},
            {"given_name": "Bo", "family_name": "Hart"},
            {"given_name": "Cy", "family_name": "Hart", "passenger_type": PassengerType.INFANT},
        ],
    )
    # When an agent opens them
    one_html = agent_client.get(f"/office/reservations/bookings/{one.record_locator}/").content.decode()
    family_html = agent_client.get(f"/office/reservations/bookings/{family.record_locator}/").content.decode()
    # Then the party reads "1 adult" and "2 adults, 1 infant", with no empty counts
    assert "<dd>1 adult</dd>" in one_html and "1 adults" not in one_html
    assert "<dd>2 adults, 1 infant</dd>" in family_html


def test_a_travellers_title_reads_as_written_in_the_portal_and_the_office(passenger, passenger_client, agent_client):
    _user, customer = passenger
    booking = ticketed_booking(
        flight=flight_in(48), customer=customer, passengers=[{"title": "MS", "given_name": "Olivia", "family_name": "Hart"}]
    )
    # When the passenger and an agent open the booking
    portal = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    office = agent_client.get(f"/office/reservations/bookings/{booking.record_locator}/").content.decode()
    # Then the title is "Ms", not the code "MS"
    assert "Ms Olivia Hart" in portal and "MS Olivia" not in portal
    assert "Ms Olivia Hart" in office and "MS Olivia" not in office


def test_a_hold_ending_in_the_afternoon_has_one_full_stop(passenger, passenger_client):
    _user, customer = passenger
    # Given a held booking whose seats are held until 3 in the afternoon (Django's US format wrote "3 p.m.")
    booking = ticketed_booking(flight=flight_in(72), customer=customer, status=BookingStatus.HELD)
    afternoon = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=1), time(15, 0)))
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=afternoon)
    # When the passenger opens the booking
    html = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    # Then the time is shown, and no second full stop follows it
    assert "Seats held until 15:00: pay before then" in html
    assert "p.m.." not in html
