"""Fare arithmetic shared by search (a read) and booking (a write): no database writes here.

Kept apart from services so that selectors can price search results without importing services.
Search, the price calendar, booking and changes all price through ``offers_for``, so the price a
passenger is quoted is the price they are charged while the flight's load and the days left stay the same.

Revenue management works at two levels, both deterministic:

- booking classes (fare buckets): a fare family's cheaper classes close as the cabin's load factor
  passes each class's closing point (``BookingClass.closes_at_load_factor``);
- a demand multiplier on the class's fare: ``ADVANCE_PURCHASE`` by whole days left before departure
  (cheaper eight weeks out, dearer in the last week) times ``LOAD_SURCHARGE`` by the cabin's load
  factor (dearer when it is nearly full). ``Demand`` says which steps applied, to explain a price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from reservations.models import BookingClass, FareFamily, Flight, FlightCabin, PassengerType, TaxRule

CENT = Decimal("0.01")
UNIT = Decimal("1")

# (at least this many whole days before departure, multiplier), checked from the top.
ADVANCE_PURCHASE: tuple[tuple[int, Decimal], ...] = (
    (56, Decimal("0.90")),  # eight weeks or more ahead: the early-booking level
    (8, Decimal("1.00")),
    (4, Decimal("1.15")),  # the last week
    (0, Decimal("1.30")),  # fewer than four whole days left
)
# (load factor of the cabin at least, multiplier), checked from the top.
LOAD_SURCHARGE: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("0.90"), Decimal("1.20")),
    (Decimal("0.80"), Decimal("1.10")),
    (Decimal("0"), Decimal("1.00")),
)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxLine:
    code: str
    name: str
    amount: Decimal


@dataclass(frozen=True)
class Demand:
    """Why a flight's fares cost what they do today: the days left and the cabin's load, and their steps."""

    days_before: int
    load_factor: Decimal
    advance_multiplier: Decimal
    load_multiplier: Decimal

    @property
    def multiplier(self) -> Decimal:
        return self.advance_multiplier * self.load_multiplier

    @property
    def load_percent(self) -> int:
        return int((self.load_factor * 100).to_integral_value(rounding=ROUND_HALF_UP))


NEUTRAL = Demand(days_before=0, load_factor=Decimal(0), advance_multiplier=Decimal(1), load_multiplier=Decimal(1))


def demand_for(*, flight: Flight, inventory: FlightCabin, now: datetime | None = None) -> Demand:
    """The demand steps that apply to this cabin of this flight at ``now`` (the current time by default)."""
    now = now or timezone.now()
    days_before = max((flight.scheduled_departure - now).days, 0)
    load = inventory.load_factor
    advance = next(m for days, m in ADVANCE_PURCHASE if days_before >= days)
    surcharge = next(m for floor, m in LOAD_SURCHARGE if load >= floor)
    return Demand(days_before=days_before, load_factor=load, advance_multiplier=advance, load_multiplier=surcharge)


@dataclass(frozen=True)
class PassengerPrice:
    """What one passenger of one type pays for one flight."""

    passenger_type: str
    fare: Decimal
    taxes: tuple[TaxLine, ...]

    @property
    def total(self) -> Decimal:
        return self.fare + sum((t.amount for t in self.taxes), Decimal(0))


@dataclass(frozen=True)
class FareOffer:
    """The cheapest open booking class of one fare family on one flight, priced for a party."""

    flight_id: int
    cabin: str
    fare_family: FareFamily
    booking_class: BookingClass
    currency: str
    seats_left: int
    prices: dict[str, PassengerPrice] = field(default_factory=dict)  # by passenger type
    counts: dict[str, int] = field(default_factory=dict)
    demand: Demand = NEUTRAL

    @property
    def total(self) -> Decimal:
        return money(sum((self.prices[t].total * n for t, n in self.counts.items() if n), Decimal(0)))

    @property
    def fare_total(self) -> Decimal:
        return money(sum((self.prices[t].fare * n for t, n in self.counts.items() if n), Decimal(0)))

    @property
    def taxes_total(self) -> Decimal:
        return self.total - self.fare_total


def adult_fare(*, booking_class: BookingClass, distance_km: int, demand: Demand = NEUTRAL) -> Decimal:
    """Distance-based adult fare, never under the class minimum, times the demand multiplier, in whole
    currency units."""
    raw = max(booking_class.price_per_km * Decimal(distance_km), booking_class.minimum_fare) * demand.multiplier
    return raw.quantize(UNIT, rounding=ROUND_HALF_UP).quantize(CENT)


def passenger_fare(*, adult: Decimal, fare_family: FareFamily, passenger_type: str) -> Decimal:
    if passenger_type == PassengerType.CHILD:
        return money(adult * fare_family.child_percent / 100)
    if passenger_type == PassengerType.INFANT:
        return money(adult * fare_family.infant_percent / 100)
    return adult


def taxes_by_passenger_type(*, flight: Flight, rules: list[TaxRule]) -> dict[str, tuple[TaxLine, ...]]:
    """Every rule for all departures or for the origin's country, for each passenger type; infants pay only
    the rules that say so. Each rule is looked at once (its country field builds a Country object per read)."""
    country = str(flight.origin.country)
    lines = [
        (TaxLine(code=r.code, name=r.name, amount=r.amount), r.applies_to_infants)
        for r in rules
        if not (origin := str(r.origin_country)) or origin == country
    ]
    everyone = tuple(line for line, _infants in lines)
    infants = tuple(line for line, applies_to_infants in lines if applies_to_infants)
    return {ptype: infants if ptype == PassengerType.INFANT else everyone for ptype in PassengerType.values}


def class_is_open(*, booking_class: BookingClass, inventory: FlightCabin, seats: int) -> bool:
    """A class sells while the cabin's load factor is under its closing point and seats remain."""
    return inventory.available >= seats and inventory.load_factor < booking_class.closes_at_load_factor


def offers_for(
    *,
    flight: Flight,
    inventory: FlightCabin,
    classes: list[BookingClass],
    rules: list[TaxRule],
    counts: dict[str, int],
) -> list[FareOffer]:
    """One offer per fare family of the cabin: its cheapest class still open for this many seats, priced
    for the flight's demand now (days left and load factor)."""
    seats = counts.get(PassengerType.ADULT, 0) + counts.get(PassengerType.CHILD, 0)
    demand = demand_for(flight=flight, inventory=inventory)
    best: dict[int, tuple[Decimal, BookingClass]] = {}
    for booking_class in classes:
        if booking_class.fare_family.cabin != inventory.cabin:
            continue
        if not class_is_open(booking_class=booking_class, inventory=inventory, seats=seats):
            continue
        fare = adult_fare(booking_class=booking_class, distance_km=flight.route.distance_km, demand=demand)
        family_id = booking_class.fare_family_id
        if family_id not in best or fare < best[family_id][0]:
            best[family_id] = (fare, booking_class)
    offers = []
    # The taxes depend on the flight and the passenger type, not on the fare family: worked out once.
    taxes = taxes_by_passenger_type(flight=flight, rules=rules)
    for adult, booking_class in best.values():
        family = booking_class.fare_family
        prices = {
            ptype: PassengerPrice(
                passenger_type=ptype,
                fare=passenger_fare(adult=adult, fare_family=family, passenger_type=ptype),
                taxes=taxes[ptype],
            )
            for ptype in PassengerType.values
        }
        offers.append(
            FareOffer(
                flight_id=flight.pk,
                cabin=inventory.cabin,
                fare_family=family,
                booking_class=booking_class,
                currency=family.currency,
                seats_left=inventory.available,
                prices=prices,
                counts=dict(counts),
                demand=demand,
            )
        )
    return sorted(offers, key=lambda o: (o.total, o.fare_family.rank))
