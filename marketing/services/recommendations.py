"""Next best offer: a destination to suggest to one customer, and why.

In order: where the customer flew most but not lately ("again"); else what travellers from their home
airport fly most these days ("popular_from_home"); else the network's most flown destination ("popular").
Never their home airport. It runs for every send, so it is a few queries whatever the history: the
customer's own trips in one, the popular lists from the cache (one query when it has them not).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm import registry
from crm.models import Customer
from reservations.models import Coupon, CouponStatus

# A destination flown to within this many months is not suggested "again".
RECENT_MONTHS = 6
# The popular lists look at the flights of the last this many days, and are kept this long.
POPULAR_DAYS = 90
POPULAR_CACHE_SECONDS = 3600
POPULAR_KEPT = 10
# Coupons that are a trip the customer took or will take (not one given up).
_TRAVELLED = (CouponStatus.OPEN, CouponStatus.CHECKED_IN, CouponStatus.BOARDED, CouponStatus.FLOWN)

AGAIN, POPULAR_FROM_HOME, POPULAR = "again", "popular_from_home", "popular"


@dataclass(frozen=True)
class Recommendation:
    """``reason`` is a code (rendered in the reader's language when shown); ``data`` what it rests on."""

    destination: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def recommendation_reason_text(reason: str, data: dict[str, Any] | None = None) -> str:
    """The reason explained to a marketer or an agent, in their language (``data`` may be empty: a stored code)."""
    data = data or {}
    destination = data.get("destination", "")
    if reason == AGAIN:
        if "times" in data:
            return ngettext(
                "Flew to %(destination)s once; not in the last %(months)d months.",
                "Flew to %(destination)s %(times)d times; not in the last %(months)d months.",
                data["times"],
            ) % {"destination": destination, "times": data["times"], "months": data.get("months", RECENT_MONTHS)}
        return _("A destination the customer flew to before, not lately.")
    if reason == POPULAR_FROM_HOME:
        if "home" in data and "travellers" in data:
            return ngettext(
                "The most flown destination from %(home)s in the last %(days)d days (%(travellers)d traveller).",
                "The most flown destination from %(home)s in the last %(days)d days (%(travellers)d travellers).",
                data["travellers"],
            ) % {"home": data["home"], "days": data.get("days", POPULAR_DAYS), "travellers": data["travellers"]}
        return _("Popular from the customer's home airport.")
    if reason == POPULAR:
        if "travellers" in data:
            return ngettext(
                "Our most flown destination in the last %(days)d days (%(travellers)d traveller).",
                "Our most flown destination in the last %(days)d days (%(travellers)d travellers).",
                data["travellers"],
            ) % {"days": data.get("days", POPULAR_DAYS), "travellers": data["travellers"]}
        return _("Our most flown destination lately.")
    return ""


def _history(customer_ids: list[int]) -> dict[int, list[tuple[str, int, date]]]:
    """Per customer: (destination, times flown, last day there, flown or booked), most flown first. One query."""
    rows = (
        Coupon.objects.filter(ticket__passenger__customer_id__in=customer_ids, status__in=_TRAVELLED)
        .values(customer_id=F("ticket__passenger__customer_id"), destination=F("segment__flight__destination__iata_code"))
        .annotate(times=Count("pk", filter=Q(status=CouponStatus.FLOWN)), last=Max("segment__flight__service_date"))
        .order_by()
    )
    history: dict[int, list[tuple[str, int, date]]] = defaultdict(list)
    for row in rows:
        history[row["customer_id"]].append((row["destination"], row["times"], row["last"]))
    for trips in history.values():
        trips.sort(key=lambda t: (-t[1], -t[2].toordinal(), t[0]))
    return history


def _flown_lately(today: date) -> Any:
    return Coupon.objects.filter(
        status=CouponStatus.FLOWN, segment__flight__service_date__gte=today - timedelta(days=POPULAR_DAYS)
    ).order_by()


def _popular_from(homes: set[str], today: date) -> dict[str, list[tuple[str, int]]]:
    """Per home airport, the destinations flown most from it lately; cached, one query for those not cached."""
    homes = {h for h in homes if h}
    keys = {home: f"marketing:nbo:from:{home}:{today.isoformat()}" for home in homes}
    cached = cache.get_many(list(keys.values())) if keys else {}
    found = {home: cached[key] for home, key in keys.items() if key in cached}
    missing = homes - set(found)
    if missing:
        counted: dict[str, list[tuple[str, int]]] = {home: [] for home in missing}
        rows = (
            _flown_lately(today)
            .filter(segment__flight__origin__iata_code__in=missing)
            .values(origin=F("segment__flight__origin__iata_code"), destination=F("segment__flight__destination__iata_code"))
            .annotate(travellers=Count("pk"))
            .order_by("origin", "-travellers", "destination")
        )
        for row in rows:
            if len(counted[row["origin"]]) < POPULAR_KEPT:
                counted[row["origin"]].append((row["destination"], row["travellers"]))
        cache.set_many({keys[home]: value for home, value in counted.items()}, POPULAR_CACHE_SECONDS)
        found.update(counted)
    return found


def _popular(today: date) -> list[tuple[str, int]]:
    """The network's most flown destinations lately; cached."""
    key = f"marketing:nbo:network:{today.isoformat()}"
    found = cache.get(key)
    if found is None:
        found = [
            (row["destination"], row["travellers"])
            for row in _flown_lately(today)
            .values(destination=F("segment__flight__destination__iata_code"))
            .annotate(travellers=Count("pk"))
            .order_by("-travellers", "destination")[:POPULAR_KEPT]
        ]
        cache.set(key, found, POPULAR_CACHE_SECONDS)
    return found


def _choose(
    home: str,
    trips: list[tuple[str, int, date]],
    from_home: list[tuple[str, int]],
    network: list[tuple[str, int]] | None,
    today: date,
) -> Recommendation | None:
    recent_since = registry.months_before(today, RECENT_MONTHS)
    lately = {destination for destination, _times, last in trips if last >= recent_since}
    for destination, times, _last in trips:
        if times and destination != home and destination not in lately:
            return Recommendation(destination, AGAIN, {"destination": destination, "times": times, "months": RECENT_MONTHS})
    for destination, travellers in from_home:
        if destination != home and destination not in lately:
            data = {"destination": destination, "home": home, "travellers": travellers, "days": POPULAR_DAYS}
            return Recommendation(destination, POPULAR_FROM_HOME, data)
    for destination, travellers in network or []:
        if destination != home:
            return Recommendation(
                destination, POPULAR, {"destination": destination, "travellers": travellers, "days": POPULAR_DAYS}
            )
    return None


def next_best_offer(*, customer: Customer) -> Recommendation | None:
    """None when nothing is known that would make a suggestion better than none."""
    today = timezone.localdate()
    home = (customer.home_airport or "").upper()
    trips = _history([customer.pk]).get(customer.pk, [])
    from_home = _popular_from({home}, today).get(home, []) if home else []
    found = _choose(home, trips, from_home, None, today)
    return found or _choose(home, trips, [], _popular(today), today)


def next_best_offers(*, customer_ids: list[int]) -> dict[int, Recommendation]:
    """``next_best_offer`` for many customers in a constant number of queries (previews, lists, panels)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    today = timezone.localdate()
    homes = {pk: (home or "").upper() for pk, home in Customer.objects.filter(pk__in=ids).values_list("pk", "home_airport")}
    history = _history(list(homes))
    from_home = _popular_from(set(homes.values()), today)
    network = _popular(today)
    chosen = {pk: _choose(home, history.get(pk, []), from_home.get(home, []), network, today) for pk, home in homes.items()}
    return {pk: rec for pk, rec in chosen.items() if rec is not None}
