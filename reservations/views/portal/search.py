"""Flight search with its price calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from crm.errors import ApplicationError
from crm.forms import add_application_error
from crm.models import Customer
from reservations import selectors
from reservations.forms import (
    FlightSearchForm,
)
from reservations.views.portal.common import FEW_SEATS, _airport_choices, _customer_or_none, _with_params


@dataclass
class ResultRow:
    option: Any
    cells: list[Any]


@dataclass
class LegResults:
    """One part of the trip as the results page shows it."""

    number: int
    origin: str
    destination: str
    date: dt.date
    origin_name: str = ""
    destination_name: str = ""
    families: list[Any] = field(default_factory=list)
    rows: list[ResultRow] = field(default_factory=list)
    calendar: list[tuple[Any, str | None, bool]] = field(default_factory=list)
    sort_links: list[tuple[str, str, str, bool]] = field(default_factory=list)

    @property
    def bookable(self) -> bool:
        """A fare is open on at least one flight or journey of the day."""
        return any(not row.option.sold_out for row in self.rows)

    @property
    def flies_nearby(self) -> bool:
        """The price calendar has a journey to sell on some nearby day."""
        return any(day.lowest is not None for day, _url, _current in self.calendar)


def _leg_results(number: int, leg: tuple[str, str, dt.date], options: list[Any]) -> LegResults:
    """Rows of flights with one column per fare family (cheapest family first)."""
    origin, destination, day = leg
    families = {}
    for option in options:
        for offer in option.offers:
            families.setdefault(offer.fare_family.code, offer.fare_family)
    ordered = sorted(families.values(), key=lambda f: (f.rank, f.code))
    rows = []
    for option in options:
        by_family = {offer.fare_family.code: offer for offer in option.offers}
        rows.append(ResultRow(option=option, cells=[by_family.get(f.code) for f in ordered]))
    return LegResults(number=number, origin=origin, destination=destination, date=day, families=ordered, rows=rows)


def _search_initial(customer: Customer | None, airports: list[tuple[str, str]]) -> dict[str, Any]:
    today = timezone.localdate()
    initial: dict[str, Any] = {
        "departure_date": today + dt.timedelta(days=7),
        "return_date": today + dt.timedelta(days=14),
    }
    if customer is not None:
        if customer.home_airport and customer.home_airport in dict(airports):
            initial["origin"] = customer.home_airport
        if customer.preferred_cabin:
            initial["cabin"] = customer.preferred_cabin
    return initial


def _search_field_map(form: FlightSearchForm) -> dict[str, str]:
    """The selector names legs 'legs.2.origin'; the form names them 'origin_2' (or return_date)."""
    mapping = {"departure_date": "departure_date", "legs": "origin"}
    for index in range(1, len(form.legs())):
        n = index + 1
        date_field = form.leg_date_field(index)
        mapping[f"legs.{n}.departure_date"] = date_field
        if date_field == "return_date":
            mapping[f"legs.{n}.origin"], mapping[f"legs.{n}.destination"] = "destination", "origin"
        else:
            suffix = date_field.removeprefix("date_")
            mapping[f"legs.{n}.origin"], mapping[f"legs.{n}.destination"] = f"origin_{suffix}", f"destination_{suffix}"
    mapping.update({"legs.1.origin": "origin", "legs.1.destination": "destination", "legs.1.departure_date": "departure_date"})
    return mapping


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Flights for one-way, return and multi-city trips, a ±3-day price calendar per flight, sortable."""
    airports = _airport_choices()
    bound = "origin" in request.GET
    form = FlightSearchForm(
        request.GET if bound else None, airports=airports, initial=_search_initial(_customer_or_none(request), airports)
    )
    legs: list[LegResults] = []
    if bound and form.is_valid():
        data = form.cleaned_data
        party = {"adults": data["adults"], "children": data["children"], "infants": data["infants"]}
        sort = data.get("sort") or "price"
        wanted = form.legs()
        try:
            results = selectors.itinerary_search(legs=wanted, cabin=data["cabin"], sort=sort, **party)
            calendars = [
                selectors.price_calendar(origin=o, destination=d, around=day, cabin=data["cabin"], days=3, **party)
                for o, d, day in wanted
            ]
        except ApplicationError as exc:
            add_application_error(form, exc, field_map=_search_field_map(form))
            results, calendars = [], []
        today = timezone.localdate()
        names = dict(airports)
        here = reverse("reservations_portal:search")
        for index, (leg, options, days) in enumerate(zip(wanted, results, calendars, strict=False)):
            result = _leg_results(index + 1, leg, options)
            result.origin_name, result.destination_name = names.get(leg[0], leg[0]), names.get(leg[1], leg[1])
            date_field = form.leg_date_field(index)
            result.calendar = [
                (
                    day,
                    _with_params(here, request.GET, **{date_field: day.date.isoformat()}) + f"#leg-{index + 1}"
                    if day.lowest is not None and day.date >= today and day.date != leg[2]
                    else None,
                    day.date == leg[2],
                )
                for day in days
            ]
            result.sort_links = [
                (key, label, _with_params(here, request.GET, sort=key) + f"#leg-{index + 1}", key == sort)
                for key, label in form.fields["sort"].choices
            ]
            legs.append(result)
    return render(
        request,
        "portal/reservations/search.html",
        {
            "form": form,
            "legs": legs,
            "searched": bound and form.is_valid() and not form.errors,
            # Continue only when every part of the trip has a fare to choose.
            "bookable": bool(legs) and all(leg.bookable for leg in legs),
            "few_seats": FEW_SEATS,
            "search_params": request.GET if bound else QueryDict(),
            "currency": settings.BOOKING_CURRENCY,
        },
    )
