"""Seat inventory: the only code that changes FlightCabin.available, under row locks taken by primary key."""

from __future__ import annotations

from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext as _

from crm.errors import Conflict
from reservations.models import (
    FlightCabin,
)

# What booking_create reads of each flight (FlightCabin.flight's own relations): see ``with_flights``.
FLIGHT_RELATIONS = ("flight__origin", "flight__destination", "flight__route", "flight__aircraft_type")


def _lock_inventory(*, wanted: list[tuple[int, str]], with_flights: bool = False) -> dict[tuple[int, str], FlightCabin]:
    """Lock the flight cabins of these (flight id, cabin) pairs in primary-key order.

    ``with_flights`` reads each cabin's flight (with its airports, route and aircraft) in the same
    statement, locking the cabins only: a booking needs both, and one round trip less.
    """
    flight_ids = sorted({flight_id for flight_id, _cabin in wanted})
    if with_flights:
        locked = FlightCabin.objects.select_for_update(of=("self",)).select_related(*FLIGHT_RELATIONS)
    else:
        locked = FlightCabin.objects.select_for_update()
    rows = locked.filter(flight_id__in=flight_ids).order_by("pk")
    found = {(row.flight_id, row.cabin): row for row in rows}
    return {key: found[key] for key in wanted if key in found}


def inventory_take(*, inventory: FlightCabin, seats: int) -> None:
    """Take seats out of a locked cabin; the conditional UPDATE and the CHECK make an oversell impossible."""
    if seats <= 0:
        return
    taken = FlightCabin.objects.filter(pk=inventory.pk, available__gte=seats).update(available=F("available") - seats)
    if not taken:
        raise Conflict(
            _("Sold out: fewer than %(seats)d seats are left in %(cabin)s on %(flight)s.")
            % {"seats": seats, "cabin": inventory.get_cabin_display().lower(), "flight": inventory.flight.flight_code},
            code="sold_out",
        )
    inventory.available -= seats


def inventory_release(*, flight_id: int, cabin: str, seats: int) -> None:
    """Give seats back (cancellation, expiry, change); never above the cabin's capacity."""
    if seats <= 0:
        return
    FlightCabin.objects.filter(flight_id=flight_id, cabin=cabin).update(available=Least(F("available") + seats, F("capacity")))


def inventory_preload(*, sold: dict[int, int]) -> int:
    """Seats sold through channels this system does not ticket (partner airlines' and tour operators'
    allotments): the background demand a demo schedule carries.

    ``sold`` maps flight cabin ids to seats. Only cabins nothing has been sold from yet take them (so a
    second run changes nothing), never more than their capacity. Returns how many cabins took seats.
    """
    by_seats: dict[int, list[int]] = {}
    for pk, seats in sold.items():
        if seats > 0:
            by_seats.setdefault(seats, []).append(pk)
    changed = 0
    for seats, pks in sorted(by_seats.items()):
        # One conditional UPDATE per number of seats: a cabin something was sold from meanwhile is left alone.
        changed += FlightCabin.objects.filter(pk__in=sorted(pks), available=F("capacity")).update(
            available=Greatest(F("capacity") - seats, Value(0))
        )
    return changed
