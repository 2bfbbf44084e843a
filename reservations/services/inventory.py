"""Seat inventory: the only code that changes FlightCabin.available, under row locks taken by primary key."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext as _

from crm.errors import Conflict
from crm.rows import Columns, columns, execute_prepared
from reservations.models import (
    AircraftType,
    Airport,
    Flight,
    FlightCabin,
    Route,
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
        found = _lock_with_flights(flight_ids)
    else:
        rows = FlightCabin.objects.select_for_update().filter(flight_id__in=flight_ids).order_by("pk")
        found = {(row.flight_id, row.cabin): row for row in rows}
    return {key: found[key] for key in wanted if key in found}


def _lock_with_flights(flight_ids: list[int]) -> dict[tuple[int, str], FlightCabin]:
    """Every cabin of these flights locked in primary-key order, each with its flight, the flight's airports,
    route and aircraft read in the same statement: what
    ``FlightCabin.objects.select_for_update(of=("self",)).select_related(*FLIGHT_RELATIONS)`` reads.

    Written in SQL because every booking runs it first: the ORM took longer to compile this six-table
    join than PostgreSQL took to answer it, and PostgreSQL longer to plan it than to run it (see ``crm.rows``).
    """
    if not flight_ids:
        return {}
    tables, sql = _lock_with_flights_sql(len(flight_ids))
    with connection.cursor() as cursor:
        execute_prepared(cursor, name=f"booking_cabins_lock_{len(flight_ids)}", sql=sql, params=flight_ids)
        rows = cursor.fetchall()
    found = {}
    for row in rows:
        start, built = 0, []
        for table in tables:
            built.append(table.build(row, start))
            start += table.width
        cabin, flight, origin, destination, route, aircraft = built
        flight.origin, flight.destination, flight.route, flight.aircraft_type = origin, destination, route, aircraft
        cabin.flight = flight
        found[(cabin.flight_id, cabin.cabin)] = cabin
    return found


@cache
def _lock_with_flights_sql(flights: int) -> tuple[tuple[Columns, ...], str]:
    """The statement for this many flights. One placeholder per flight, not one array: prepared, PostgreSQL
    plans ``flight_id IN ($1, $2)`` once for good, but kept planning ``= ANY($1)`` anew for every array
    (planning the join took several times as long as running it)."""
    tables = (
        columns(FlightCabin, "fc"),
        columns(Flight, "f"),
        columns(Airport, "o"),
        columns(Airport, "d"),
        columns(Route, "r"),
        columns(AircraftType, "a"),
    )
    sql = (
        f"SELECT {', '.join(t.sql for t in tables)} "  # noqa: S608 - the models' own table and column names
        f"FROM {FlightCabin._meta.db_table} fc "
        f"JOIN {Flight._meta.db_table} f ON f.id = fc.flight_id "
        f"JOIN {Airport._meta.db_table} o ON o.id = f.origin_id "
        f"JOIN {Airport._meta.db_table} d ON d.id = f.destination_id "
        f"JOIN {Route._meta.db_table} r ON r.id = f.route_id "
        f"JOIN {AircraftType._meta.db_table} a ON a.id = f.aircraft_type_id "
        f"WHERE fc.flight_id IN ({', '.join(['%s'] * flights)}) ORDER BY fc.id FOR UPDATE OF fc"
    )
    return tables, sql


def inventory_take(*, inventory: FlightCabin, seats: int) -> None:
    """Take seats out of a locked cabin; the conditional UPDATE and the CHECK make an oversell impossible."""
    if seats <= 0:
        return
    # ``FlightCabin.objects.filter(pk=..., available__gte=seats).update(available=F("available") - seats)`` in
    # SQL, prepared once per session: every booking runs it (see crm.rows).
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            name="booking_seats_take",
            sql=f"UPDATE {FlightCabin._meta.db_table} SET available = available - %s WHERE id = %s AND available >= %s",  # noqa: S608 - the model's table
            params=[seats, inventory.pk, seats],
        )
        taken = cursor.rowcount
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
