"""Reservations' demo data, run by ``manage.py seed_demo`` after the customers, the schedule and loyalty.

The story, told through the same services the portal and the office use (so every total, ticket,
coupon, check-in and event agrees), each step run at the moment it would have happened:

- the last week of the timetable, flown: past flights departed and landed, their checked-in coupons flown
  and those who never came marked no-show;
- background demand on every flight (seats sold by partners and tour operators), rising as departure
  nears and varying by day of the week and route, so that load factors, and therefore fares, vary;
- demo customers' bookings: past trips flown, future trips ticketed;
- a flight cancelled by operations in a few days, with its passengers' bookings flagged and told;
- the demo passenger: a trip flown last week, a trip checked in for a flight later today or tomorrow
  (boarding pass ready), a long-haul trip next month and a booking on the cancelled flight.

Idempotent: once the demo passenger has a booking, nothing is added.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils import timezone

from crm.errors import ApplicationError
from crm.models import Customer, User
from reservations import hooks, services
from reservations.gateway import CARD_SUCCEEDS
from reservations.models import (
    Booking,
    Channel,
    Flight,
    FlightCabin,
    FlightStatus,
    PaymentMethod,
)

DEMO_PASSENGER = "passenger@example.com"
SEED = 20_261_130
PAST_DAYS = 7
PAST_BOOKINGS = 30
FUTURE_BOOKINGS = 40
DISRUPTED_BOOKINGS = 6
HUB = services.DEFAULT_HUB
LANGUAGES = dict(settings.LANGUAGES)  # a booking is made on a page in one of the site's languages
LONG_HAUL_KM = services.MEDIUM_HAUL_KM
# Final load factor of each cabin before the route's and the day's own demand.
BASE_LOAD = {"economy": 0.78, "premium_economy": 0.68, "business": 0.6}
# Day of the week (Monday 0): Fridays and Sundays fill up, mid-week flights less.
WEEKDAY_LOAD = {0: 0.04, 1: -0.08, 2: -0.06, 3: 0.0, 4: 0.1, 5: -0.02, 6: 0.08}
CANCELLATION_REASON = "Aircraft technical fault"
FARES = {
    "economy": ["ECO_LIGHT", "ECO_STANDARD", "ECO_FLEX"],
    "premium_economy": ["PREM_FLEX"],
    "business": ["BUS_STANDARD", "BUS_FLEX"],
}


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    """Run a step as if it were ``moment``: a booking made weeks before its flight, a landing last week."""
    with mock.patch.object(timezone, "now", lambda: moment):
        yield


def seed(*, stdout: Any = None) -> str:
    """Add the demo bookings; "" when they are already there."""
    User = get_user_model()
    passenger = User.objects.filter(username=DEMO_PASSENGER).select_related("customer").first()
    customer = getattr(passenger, "customer", None) if passenger else None
    staff = User.objects.filter(username="agent", is_staff=True).first()
    if customer is None or staff is None:
        return ""
    now = timezone.now().replace(microsecond=0)
    today = timezone.localdate()
    done = Booking.objects.filter(customer=customer).exists()
    if not done:
        services.fares_ensure()
        services.schedule_generate(days=PAST_DAYS, start=today - timedelta(days=PAST_DAYS), hub=HUB)
    # Every run: the days the schedule rolled forward get their background demand too.
    loaded = services.inventory_preload(sold=_background_demand(now))
    if done:
        return f"Reservations: background demand on {loaded} new flight cabins." if loaded else ""
    rng = random.Random(SEED)

    people = _travellers(exclude=customer, until=today + timedelta(days=90))
    story = _Story(rng=rng, now=now, staff=staff)
    # The demo passenger's week: a trip flown, one checked in, one next month, one about to be cancelled.
    story.passenger_trips(customer)
    for index, person in enumerate(rng.sample(people, min(PAST_BOOKINGS, len(people)))):
        story.past_trip(person, show=index % 6 != 5)  # one in six never came: a no-show
    for person in rng.sample(people, min(FUTURE_BOOKINGS, len(people))):
        story.future_trip(person)
    story.disruption(customer, rng.sample(people, min(DISRUPTED_BOOKINGS, len(people))))
    story.land_the_past()
    return (
        f"Reservations: {story.bookings} bookings ({story.flown} coupons flown), background demand on {loaded} cabins, "
        f"{story.cancelled} cancelled with {story.disrupted} bookings flagged."
    )


def _background_demand(now: datetime) -> dict[int, int]:
    """Seats already sold on each cabin: a final load factor by cabin, day of the week and route, reached
    along a booking curve (a quarter of it two months out, half three weeks out, all of it at departure)."""
    sold: dict[int, int] = {}
    cabins = FlightCabin.objects.filter(available=F("capacity")).select_related("flight").order_by("pk")
    for cabin in cabins.iterator(chunk_size=2000):
        flight = cabin.flight
        draw = random.Random(f"{SEED}:{flight.flight_number}:{flight.service_date.isoformat()}:{cabin.cabin}")
        final = BASE_LOAD.get(cabin.cabin, 0.7) + WEEKDAY_LOAD[flight.service_date.weekday()] + draw.uniform(-0.15, 0.12)
        final = min(max(final, 0.35), 0.96)
        days_before = max((flight.scheduled_departure - now).total_seconds() / 86400, 0)
        share = final / (1 + days_before / 21)
        sold[cabin.pk] = int(cabin.capacity * share)
    return sold


def _travellers(*, exclude: Customer, until: date) -> list[Customer]:
    """Demo customers who can fly: not the demo passenger, and no passport on file that expires too soon."""
    return list(
        Customer.objects.filter(anonymized_at__isnull=True, user__isnull=True, email__endswith=".example")
        .exclude(pk=exclude.pk)
        .filter(Q(passport_expiry__isnull=True) | Q(passport_expiry__gt=until))
        .order_by("pk")[:150]
    )


class _Story:
    def __init__(self, *, rng: random.Random, now: datetime, staff: User) -> None:
        self.rng, self.now, self.staff = rng, now, staff
        self.bookings = self.flown = self.cancelled = self.disrupted = 0
        self._keys = 0
        self._loaded: list[Flight] | None = None

    # --- flights -------------------------------------------------------------------------------

    def _schedule(self) -> list[Flight]:
        """The flights of the demo's time span, read once: every step picks from them."""
        if self._loaded is None:
            self._loaded = list(
                Flight.objects.filter(
                    status=FlightStatus.SCHEDULED,
                    scheduled_departure__gt=self.now - timedelta(days=PAST_DAYS + 1),
                    scheduled_departure__lt=self.now + timedelta(days=60),
                )
                .select_related("origin", "destination", "route")
                .order_by("scheduled_departure", "pk")
            )
        return self._loaded

    def _flights(self, *, after: datetime, before: datetime, origin: str | None = None, long_haul: bool = False) -> list[Flight]:
        return [
            f
            for f in self._schedule()
            if after < f.scheduled_departure < before
            and (origin is None or f.origin.iata_code == origin)
            and (f.route.distance_km >= LONG_HAUL_KM) == long_haul
        ]

    def _return_of(self, flight: Flight, *, days: int) -> Flight | None:
        leaves = flight.scheduled_arrival + timedelta(days=days)
        return (
            Flight.objects.filter(
                origin=flight.destination_id,
                destination=flight.origin_id,
                scheduled_departure__gte=leaves,
                status=FlightStatus.SCHEDULED,
            )
            .order_by("scheduled_departure", "pk")
            .first()
        )

    # --- bookings ------------------------------------------------------------------------------

    def _book(
        self,
        customer: Customer,
        flights: list[Flight],
        *,
        family: str,
        booked_days_before: int,
        cabin: str = "economy",
    ) -> Booking | None:
        """Book and pay as the customer would have, ``booked_days_before`` the first flight; when the fare
        wanted is no longer sold (a full cabin closes the cheap classes), the next fare of the cabin."""
        fares = FARES[cabin]
        for fare in fares[fares.index(family) :]:
            booking = self._book_fare(customer, flights, family=fare, booked_days_before=booked_days_before, cabin=cabin)
            if booking is not None:
                return booking
        return None

    def _book_fare(
        self, customer: Customer, flights: list[Flight], *, family: str, booked_days_before: int, cabin: str
    ) -> Booking | None:
        at = min(flights[0].scheduled_departure - timedelta(days=booked_days_before), self.now - timedelta(minutes=5))
        travellers = [customer]
        by_agent = customer.user_id is None and self.rng.random() < 0.25
        try:
            with _at(at):
                booking = services.booking_create(
                    segments=[services.SegmentRequest(flight_id=f.pk, cabin=cabin, fare_family=family) for f in flights],
                    passengers=[
                        services.PassengerRequest(
                            passenger_type="ADT",
                            given_name=p.given_name,
                            family_name=p.family_name,
                            customer=p,
                            # as the booking form fills it: a member's own number (loyalty's demo ran first)
                            frequent_flyer_number=hooks.traveller_defaults_for(customer=p).get("frequent_flyer_number", ""),
                        )
                        for p in travellers
                    ],
                    contact_email=customer.email,
                    contact_phone=str(customer.phone or ""),
                    channel=Channel.AGENT if by_agent else Channel.PORTAL,
                    customer=customer,
                    by=self.staff if by_agent else None,
                    language=customer.preferred_language if customer.preferred_language in LANGUAGES else "en",
                )
                self._keys += 1
                services.payment_take(
                    booking=booking,
                    method=PaymentMethod.CARD,
                    idempotency_key=f"demo-booking-{booking.record_locator}-{self._keys}",
                    card=services.CardDetails(
                        number=CARD_SUCCEEDS, expiry_month=12, expiry_year=at.year + 3, cvv="123", holder=customer.full_name
                    ),
                )
        except ApplicationError:
            return None  # sold out or a fare closed: the demo simply has one booking fewer
        self.bookings += 1
        booking.refresh_from_db()
        return booking

    def _check_in(self, booking: Booking, *, sequence: int = 1, at: datetime | None = None) -> bool:
        segment = booking.segments.select_related("flight").get(sequence=sequence)
        moment = at or segment.flight.scheduled_departure - timedelta(hours=self.rng.choice([3, 5, 20]))
        try:
            with _at(moment):
                services.check_in(
                    booking=booking,
                    segment=segment,
                    passengers=list(booking.passengers.order_by("sequence")),
                    channel=Channel.PORTAL,
                )
        except ApplicationError:
            return False
        return True

    def _fare(self) -> str:
        return self.rng.choices(["ECO_LIGHT", "ECO_STANDARD", "ECO_FLEX"], weights=[45, 40, 15])[0]

    # --- the story -----------------------------------------------------------------------------

    def passenger_trips(self, customer: Customer) -> None:
        # Flown: a return trip to Paris or Amsterdam last week, booked a month before.
        past = self._flights(after=self.now - timedelta(days=PAST_DAYS - 1), before=self.now - timedelta(days=4), origin=HUB)
        outbound = next((f for f in past if f.destination.iata_code in ("CDG", "AMS")), past[0] if past else None)
        back = self._return_of(outbound, days=2) if outbound else None
        if outbound and back and back.scheduled_arrival < self.now:
            booking = self._book(customer, [outbound, back], family="ECO_STANDARD", booked_days_before=30)
            if booking:
                self._check_in(booking, sequence=1, at=outbound.scheduled_departure - timedelta(hours=20))
                self._check_in(booking, sequence=2, at=back.scheduled_departure - timedelta(hours=22))
        # Checked in: the next short-haul flight from the hub that check-in is open for, back a few days later.
        soon = self._flights(after=self.now + timedelta(hours=2), before=self.now + timedelta(hours=23), origin=HUB)
        if soon:
            outbound = soon[0]
            back = self._return_of(outbound, days=4)
            booking = self._book(customer, [outbound, back] if back else [outbound], family="ECO_FLEX", booked_days_before=12)
            if booking:
                self._check_in(booking, sequence=1, at=self.now)
        # Next month: long haul in premium economy.
        later = self._flights(
            after=self.now + timedelta(days=24), before=self.now + timedelta(days=40), origin=HUB, long_haul=True
        )
        if later:
            self._book(customer, [later[0]], family="PREM_FLEX", cabin="premium_economy", booked_days_before=0)

    def past_trip(self, customer: Customer, *, show: bool) -> None:
        past = self._flights(after=self.now - timedelta(days=PAST_DAYS), before=self.now - timedelta(hours=6))
        if not past:
            return
        flight = self.rng.choice(past)
        booking = self._book(customer, [flight], family=self._fare(), booked_days_before=self.rng.randint(3, 60))
        if booking and show:
            self._check_in(booking)

    def future_trip(self, customer: Customer) -> None:
        ahead = self._flights(after=self.now + timedelta(days=1), before=self.now + timedelta(days=55))
        if not ahead:
            return
        outbound = self.rng.choice(ahead)
        back = self._return_of(outbound, days=self.rng.randint(2, 10)) if self.rng.random() < 0.6 else None
        self._book(customer, [outbound, back] if back else [outbound], family=self._fare(), booked_days_before=30)

    def disruption(self, customer: Customer, others: list[Customer]) -> None:
        """A flight in three days cancelled by operations: every booking on it flagged, every contact told."""
        window = self._flights(after=self.now + timedelta(days=3), before=self.now + timedelta(days=4), origin=HUB)
        if not window:
            return
        flight = window[0]
        on_board = 0
        for person in [customer, *others]:
            if self._book(person, [flight], family=self._fare(), booked_days_before=self.rng.randint(5, 40)):
                on_board += 1
        services.flight_status_update(flight=flight, by=self.staff, status=FlightStatus.CANCELLED, reason=CANCELLATION_REASON)
        self.cancelled += 1
        self.disrupted += Booking.objects.filter(segments__flight=flight, disrupted_at__isnull=False).distinct().count()

    def land_the_past(self) -> None:
        """Every flight that has landed is arrived (its checked-in coupons flown, no-shows marked); one in
        the air has departed."""
        gone = (
            Flight.objects.filter(scheduled_departure__lt=self.now, status=FlightStatus.SCHEDULED)
            .select_related("origin")
            .order_by("scheduled_departure", "pk")
        )
        for flight in gone:
            if flight.scheduled_arrival + timedelta(minutes=10) <= self.now:
                with _at(flight.scheduled_arrival + timedelta(minutes=10)):
                    self.flown += services.flight_arrive(flight=flight, by=self.staff)
            else:
                with _at(flight.scheduled_departure + timedelta(minutes=5)):
                    services.flight_depart(flight=flight, by=self.staff)
