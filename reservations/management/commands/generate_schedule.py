"""Flights for the next N days of the hub-and-spoke timetable: `generate_schedule --days 60`.

Safe to run every day: flights already there are left alone, so it only rolls the schedule forward.
It also makes sure the airports, aircraft types and fares the schedule sells with exist. All or
nothing: a refused run changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from crm.errors import ApplicationError
from reservations import services


def _start_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CommandError(f"--start must be a date as YYYY-MM-DD, not {value!r}; nothing was changed.") from None


class Command(BaseCommand):
    help = "Build the network schedule (flights with seat inventory) for the next N days. Idempotent."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--days", type=int, required=True, help="how many days of flights, 1-366")
        parser.add_argument("--start", default=None, help="first local departure date, YYYY-MM-DD (default: today)")
        parser.add_argument("--hub", default=services.DEFAULT_HUB, help="IATA code of the hub (default: LHR)")

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is None or not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366; nothing was changed.")
        start = _start_date(options["start"])
        hub = str(options["hub"] or "").strip().upper()
        try:
            timetable = services.schedule_timetable(hub=hub)
            start = start or timezone.localdate()
            with transaction.atomic(), tqdm(total=days, unit="days", disable=options["verbosity"] == 0) as progress:
                services.fares_ensure()
                created = services.schedule_generate(
                    days=days, start=start, hub=hub, progress=lambda _flights: progress.update(1)
                )
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} Nothing was changed.") from None
        last = start + timedelta(days=days - 1)
        routes = {(e.origin, e.destination) for e in timetable}
        self.stdout.write(
            f"Schedule of {settings.AIRLINE_DESIGNATOR} around {hub} from {start:%Y-%m-%d} to {last:%Y-%m-%d}: "
            f"{created} flights created, {len(timetable) * days - created} already there "
            f"({len(routes)} routes, {len(timetable)} flights a day)."
        )
