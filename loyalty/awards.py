"""The award chart's arithmetic, free of the database: distance zones and what each traveller pays.

Shared by the services that charge miles and the selectors that show prices, so both say the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal
from typing import Any

from crm.models import Cabin

KM_PER_MILE = Decimal("1.609344")
CABIN_ORDER = (Cabin.ECONOMY, Cabin.PREMIUM_ECONOMY, Cabin.BUSINESS, Cabin.FIRST)
INFANT = "INF"


def distance_miles(distance_km: int) -> int:
    """A route's great-circle distance in statute miles, as the chart's zones count it."""
    return int((Decimal(distance_km) / KM_PER_MILE).to_integral_value())


def zone_for(zones: Iterable[Any], distance_km: int) -> Any | None:
    """The first zone (ordered by limit, the open-ended one last) whose limit the flight fits."""
    miles = distance_miles(distance_km)
    return next((z for z in zones if z.max_distance_miles is None or miles <= z.max_distance_miles), None)


def traveller_miles(per_seat: int, passenger_type: str, infant_percent: int) -> int:
    """Adults and children pay the chart price; an infant on a lap pays the fare family's infant share."""
    if passenger_type != INFANT:
        return per_seat
    return int((Decimal(per_seat) * infant_percent / 100).to_integral_value(rounding=ROUND_CEILING))


def is_higher(cabin: str, than: str) -> bool:
    return cabin in CABIN_ORDER and than in CABIN_ORDER and CABIN_ORDER.index(cabin) > CABIN_ORDER.index(than)
