"""Flight times in each airport's own time zone, and durations in the reader's language."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.templatetags.tz import do_timezone

from reservations.models import fare_family_name
from reservations.rules import duration_text, fare_family_rules

register = template.Library()


@register.filter
def at_airport(value: datetime | None, airport) -> datetime | None:  # noqa: ANN001
    """{{ flight.scheduled_departure|at_airport:flight.origin|date:"H:i" }}: the clock at that airport."""
    if value is None or airport is None:
        return value
    return do_timezone(value, airport.time_zone)


@register.filter
def duration(minutes: int | None) -> str:
    """95 → '1 h 35 min' (or '1小时35分钟')."""
    if minutes in (None, ""):
        return ""
    return duration_text(int(minutes))


@register.filter
def days_later(flight) -> int:  # noqa: ANN001
    """How many calendar days after the local departure date the flight (or a journey's last flight) lands."""
    first, last = (flight.flights[0], flight.flights[-1]) if hasattr(flight, "flights") else (flight, flight)
    departs = do_timezone(first.scheduled_departure, first.origin.time_zone).date()
    arrives = do_timezone(last.scheduled_arrival, last.destination.time_zone).date()
    return (arrives - departs).days


@register.filter
def fare_name(family) -> str:  # noqa: ANN001
    """The airline's fare family names in the reader's language; other names as the admin wrote them."""
    return fare_family_name(getattr(family, "name", family))


@register.filter
def fare_rules(family) -> list[str]:  # noqa: ANN001
    """{% for rule in offer.fare_family|fare_rules %}: bags, changes, refunds, seats and miles of the fare."""
    return fare_family_rules(family)
