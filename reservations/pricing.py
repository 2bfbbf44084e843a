"""Fare arithmetic shared by search (a read) and booking (a write): no database writes here.

Kept apart from services so that selectors can price search results without importing services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from reservations.models import BookingClass, FareFamily, Flight, FlightCabin, PassengerType, TaxRule

CENT = Decimal("0.01")
UNIT = Decimal("1")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxLine:
    code: str
    name: str
    amount: Decimal


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

    @property
    def total(self) -> Decimal:
        return money(sum((self.prices[t].total * n for t, n in self.counts.items() if n), Decimal(0)))

    @property
    def fare_total(self) -> Decimal:
        return money(sum((self.prices[t].fare * n for t, n in self.counts.items() if n), Decimal(0)))

    @property
    def taxes_total(self) -> Decimal:
        return self.total - self.fare_total


def adult_fare(*, booking_class: BookingClass, distance_km: int) -> Decimal:
    """Distance-based adult fare, never under the class minimum, in whole currency units."""
    raw = booking_class.price_per_km * Decimal(distance_km)
    return max(raw, booking_class.minimum_fare).quantize(UNIT, rounding=ROUND_HALF_UP).quantize(CENT)


def passenger_fare(*, adult: Decimal, fare_family: FareFamily, passenger_type: str) -> Decimal:
    if passenger_type == PassengerType.CHILD:
        return money(adult * fare_family.child_percent / 100)
    if passenger_type == PassengerType.INFANT:
        return money(adult * fare_family.infant_percent / 100)
    return adult


def taxes_for(*, flight: Flight, passenger_type: str, rules: list[TaxRule]) -> tuple[TaxLine, ...]:
    """Every rule for all departures or for the origin's country; infants only where the rule says so."""
    country = str(flight.origin.country)
    return tuple(
        TaxLine(code=r.code, name=r.name, amount=r.amount)
        for r in rules
        # the country field is read once per rule: each read builds a Country object
        if (not (origin := str(r.origin_country)) or origin == country)
        and (passenger_type != PassengerType.INFANT or r.applies_to_infants)
    )


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
    """One offer per fare family of the cabin: its cheapest class still open for this many seats."""
    seats = counts.get(PassengerType.ADULT, 0) + counts.get(PassengerType.CHILD, 0)
    best: dict[int, tuple[Decimal, BookingClass]] = {}
    for booking_class in classes:
        if booking_class.fare_family.cabin != inventory.cabin:
            continue
        if not class_is_open(booking_class=booking_class, inventory=inventory, seats=seats):
            continue
        fare = adult_fare(booking_class=booking_class, distance_km=flight.route.distance_km)
        family_id = booking_class.fare_family_id
        if family_id not in best or fare < best[family_id][0]:
            best[family_id] = (fare, booking_class)
    offers = []
    # The taxes depend on the flight and the passenger type, not on the fare family: worked out once.
    taxes = {ptype: taxes_for(flight=flight, passenger_type=ptype, rules=rules) for ptype in PassengerType.values}
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
            )
        )
    return sorted(offers, key=lambda o: (o.total, o.fare_family.rank))
