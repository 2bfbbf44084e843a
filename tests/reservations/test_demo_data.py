"""The demo's bookings (seed_demo): past trips flown, future trips, a cancelled flight, the demo passenger's
checked-in trip, and background demand that makes fares move."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import Customer
from reservations import selectors, services
from reservations.models import (
    Booking,
    BookingStatus,
    CheckIn,
    Coupon,
    CouponStatus,
    Flight,
    FlightCabin,
    FlightStatus,
    Segment,
)
from tests.reservations.factories import FlightFactory

TITLE_GENDER = {"MR": "M", "MS": "F", "MRS": "F", "MISS": "F", "MX": "X"}


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Booking, Coupon, CheckIn, Flight, Segment)}


@pytest.mark.timeout(600)
def test_seed_demo_tells_a_story_of_bookings_and_runs_twice(db, settings):
    # Given a developer's empty database
    settings.DEBUG = True

    # When the demo is seeded
    out = StringIO()
    call_command("seed_demo", stdout=out)
    now = timezone.now()

    # Then there are past bookings whose coupons were flown, on flights that arrived
    flown = Coupon.objects.filter(status=CouponStatus.FLOWN).select_related("segment__flight")
    assert flown.count() >= 20
    assert all(c.segment.flight.status == FlightStatus.ARRIVED and c.segment.flight.scheduled_arrival < now for c in flown)
    assert Coupon.objects.filter(status=CouponStatus.NO_SHOW).exists()
    assert Booking.objects.filter(status=BookingStatus.TICKETED, segments__flight__scheduled_departure__lt=now).exists()
    # and future bookings, ticketed, with open coupons
    future = Booking.objects.filter(status=BookingStatus.TICKETED, segments__flight__scheduled_departure__gt=now).distinct()
    assert future.count() >= 30
    assert Coupon.objects.filter(status=CouponStatus.OPEN, segment__flight__scheduled_departure__gt=now).count() >= 30
    # and a flight cancelled by operations whose passengers' bookings are flagged
    cancelled = Flight.objects.get(status=FlightStatus.CANCELLED)
    affected = Booking.objects.filter(segments__flight=cancelled).distinct()
    assert affected.count() >= 3
    assert all(b.disrupted_at is not None and cancelled.flight_code in b.disruption_reason for b in affected)

    # And the demo passenger has a trip flown, a trip checked in for a flight that has not left, and the
    # cancelled flight among her bookings
    olivia = Customer.objects.get(email="passenger@example.com")
    hers = Booking.objects.filter(customer=olivia)
    assert Coupon.objects.filter(ticket__booking__in=hers, status=CouponStatus.FLOWN).count() == 2
    checked_in = Coupon.objects.get(ticket__booking__in=hers, status=CouponStatus.CHECKED_IN)
    assert checked_in.segment.flight.scheduled_departure > now
    assert CheckIn.objects.filter(segment=checked_in.segment, passenger__customer=olivia).exclude(seat="").exists()
    assert hers.filter(segments__flight=cancelled).exists()
    assert selectors.bookings_for_customer(customer=olivia).count() == hers.count() == 4

    # And every booked fare was priced and paid in full
    assert all(b.total_amount > 0 and b.balance_due <= 0 for b in Booking.objects.all())

    # And flights carry different loads, so the same route costs different amounts on different days
    loads = {round(c.load_factor, 1) for c in FlightCabin.objects.filter(cabin="economy", flight__scheduled_departure__gt=now)}
    assert len(loads) >= 5
    calendar = selectors.price_calendar(
        origin="LHR", destination="CDG", around=timezone.localdate() + timedelta(days=10), cabin="economy", adults=1
    )
    assert len({d.lowest for d in calendar if d.lowest is not None}) >= 2

    # And the demo customers' titles agree with their gender: a Mr is male, a Ms, Mrs or Miss female, a Mx
    # neither (doctors and professors are either), and the well-known John Smith is Mr John Smith, male
    customers = list(Customer.objects.exclude(title="").exclude(gender=""))
    assert len(customers) >= 150
    assert [(c.title, c.full_name, c.gender) for c in customers if TITLE_GENDER.get(c.title, c.gender) != c.gender] == []
    assert Counter(c.gender for c in customers).keys() >= {"F", "M"}
    smith = Customer.objects.get(given_name="John", family_name="Smith", email__startswith="john.smith@")
    assert (smith.title, smith.gender) == ("MR", "M")

    # When it runs a second time
    before = counts()
    again = StringIO()
    call_command("seed_demo", stdout=again)

    # Then nothing was added
    assert counts() == before
    assert "nothing changed" in again.getvalue()


def test_background_demand_goes_only_to_untouched_cabins_and_never_above_capacity(db):
    # Given three economy cabins of 24 seats: untouched, one with a booking's seats taken, and untouched again
    untouched, booked, small = (FlightFactory() for _ in range(3))
    cabins = {f: FlightCabin.objects.get(flight=f, cabin="economy") for f in (untouched, booked, small)}
    FlightCabin.objects.filter(pk=cabins[booked].pk).update(available=20)

    # When partners' sales are loaded onto them, once and then again
    first = services.inventory_preload(sold={cabins[untouched].pk: 10, cabins[booked].pk: 10, cabins[small].pk: 99})
    second = services.inventory_preload(sold={cabins[untouched].pk: 5, cabins[small].pk: 5})

    # Then only the untouched cabins took seats, the small one up to its capacity, and the second load changed nothing
    for cabin in cabins.values():
        cabin.refresh_from_db()
    assert (first, second) == (2, 0)
    assert [cabins[f].available for f in (untouched, booked, small)] == [14, 20, 0]
