"""The frequent flyer programme's demo data, run by ``manage.py seed_demo`` (registered in receivers).

Members in every tier with a year of flown history (accrual entries carrying the flight, route and
cabin; the demo has no past bookings to earn them on), partner stays and rentals at a hotel chain and
a car rental company, a household, a status match and an adjustment waiting for a supervisor. The demo
passenger is a Silver member a few flights short of Gold. Everything goes through the ledger, so every
balance equals its entries. Idempotent: once the demo passenger is a member, nothing is added.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from crm.models import Customer
from crm.registry import months_before
from loyalty import services
from loyalty.models import (
    AdjustmentKind,
    EntryKind,
    Household,
    Member,
    Partner,
    PartnerKind,
    Tier,
)
from loyalty.selectors import programme

DEMO_PASSENGER = "passenger@example.com"
SEED = 20_261_129
PARTNERS = (
    ("harbour-hotels", "Harbour Hotels", PartnerKind.HOTEL),
    ("meridian-cars", "Meridian Car Rental", PartnerKind.CAR),
)
# Used when the schedule has no flights (a bare database): designator, number, origin, destination, km.
FALLBACK_FLIGHTS = (
    ("AU", 101, "LHR", "CDG", 344),
    ("AU", 205, "LHR", "JFK", 5540),
    ("AU", 318, "CDG", "FCO", 1105),
    ("AU", 412, "FRA", "DXB", 4840),
    ("AU", 527, "AMS", "MAD", 1480),
    ("AU", 633, "LHR", "SIN", 10880),
)
# Qualifying miles and flights each demo member ends the year with, by the tier they reach.
TIER_TARGETS = {"blue": (6000, 6), "silver": (31000, 34), "gold": (56000, 64), "platinum": (112000, 104)}
MEMBERS_PER_TIER = {"blue": 14, "silver": 8, "gold": 5, "platinum": 3}


def seed(*, stdout: Any = None) -> str:
    """Add the demo data; "" when it is already there."""
    User = get_user_model()
    passenger = User.objects.filter(username=DEMO_PASSENGER).select_related("customer").first()
    customer = getattr(passenger, "customer", None) if passenger else None
    if customer is None or Member.objects.filter(customer=customer).exists():
        return ""
    rng = random.Random(SEED)
    agent = User.objects.filter(username="agent").first()
    flights = _flights()
    partners = [_partner(code, name, kind) for code, name, kind in PARTNERS]
    others = list(
        Customer.objects.filter(anonymized_at__isnull=True, user__isnull=True).exclude(pk=customer.pk).order_by("pk")[:60]
    )
    members: dict[str, list[Member]] = {code: [] for code in MEMBERS_PER_TIER}
    pool = iter(others)
    for code, count in MEMBERS_PER_TIER.items():
        for _ in range(count):
            person = next(pool, None)
            if person is None:
                break
            member = services.member_enrol(customer=person, channel=rng.choice(["portal", "office", "booking"]), by=agent)
            _backdate(member, days=rng.randint(340, 900))
            miles, segments = TIER_TARGETS[code]
            _fly(member, rng, flights, miles=miles + rng.randint(0, 3000), segments=segments + rng.randint(0, 4))
            _partner_stays(member, rng, partners, count=rng.randint(0, 3))
            members[code].append(member)
    # The demo passenger: Silver, 46,500 qualifying miles and 55 flights, so a few flights from Gold.
    own = services.member_enrol(customer=customer, channel="portal", by=passenger)
    _backdate(own, days=700)
    _fly(own, rng, flights, miles=46500, segments=55)
    _partner_stays(own, rng, partners, count=3)
    _household(members)
    _waiting(members, agent)
    total = sum(len(v) for v in members.values()) + 1
    return (
        f"Loyalty: {total} members in every tier, 2 partners, a household, a status match and an adjustment waiting for approval."
    )


def _backdate(member: Member, *, days: int) -> None:
    """Joined ``days`` ago, in a qualification period that began 11 months ago, before any history is posted
    (so a tier reached by the history lasts as long as it would have)."""
    today = timezone.localdate()
    Member.objects.filter(pk=member.pk).update(
        enrolled_at=timezone.now() - timedelta(days=days),
        qualification_start=months_before(today, 11),
        tier_since=today - timedelta(days=days),
    )
    member.refresh_from_db()


def _flights() -> list[tuple[str, int, str, str, int]]:
    """The schedule's flight numbers and routes (their past days are what the members flew)."""
    from reservations.models import Flight

    seen: dict[tuple[str, int], tuple[str, int, str, str, int]] = {}
    for f in Flight.objects.select_related("origin", "destination", "route").order_by("airline_designator", "flight_number")[
        :400
    ]:
        seen.setdefault(
            (f.airline_designator, f.flight_number),
            (f.airline_designator, f.flight_number, f.origin.iata_code, f.destination.iata_code, f.route.distance_km),
        )
    return list(seen.values()) or list(FALLBACK_FLIGHTS)


def _fly(member: Member, rng: random.Random, flights: list, *, miles: int, segments: int) -> None:
    """``segments`` flown flights over the past year whose qualifying miles add up to ``miles``."""
    now = timezone.now()
    share, rest = divmod(miles, segments)
    postings = []
    for i in range(segments):
        designator, number, origin, destination, _km = rng.choice(flights)
        at = now - timedelta(days=rng.randint(2, 330), minutes=rng.randint(0, 1440))
        earned = share + (rest if i == 0 else 0)
        postings.append(
            services.Posting(
                member_id=member.pk, kind=EntryKind.ACCRUAL, reason="flight", key=f"demo:{member.pk}:flight:{i}",
                award=earned, qualifying=earned, segments=1, at=at,
                details={
                    "flight": f"{designator}{number}", "date": at.date().isoformat(), "origin": origin,
                    "destination": destination, "cabin": rng.choice(["economy", "economy", "premium_economy", "business"]),
                },
            )
        )  # fmt: skip
    services.miles_post_many(postings=postings)


def _partner(code: str, name: str, kind: str) -> Partner:
    partner, _ = Partner.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    return partner


def _partner_stays(member: Member, rng: random.Random, partners: list[Partner], *, count: int) -> None:
    postings = []
    for i in range(count):
        partner = rng.choice(partners)
        at = timezone.now() - timedelta(days=rng.randint(5, 300))
        postings.append(
            services.Posting(
                member_id=member.pk, kind=EntryKind.PARTNER, reason="partner", key=f"demo:{member.pk}:partner:{i}",
                award=rng.choice([500, 750, 1000, 1500]), partner_id=partner.pk, at=at,
                details={"partner": partner.code, "partner_name": partner.name, "date": at.date().isoformat()},
            )
        )  # fmt: skip
    if postings:
        services.miles_post_many(postings=postings)


def _household(members: dict[str, list[Member]]) -> None:
    """A Gold head pooling with two Blue members of the family."""
    if not members["gold"] or len(members["blue"]) < 2:
        return
    head = members["gold"][0]
    household = Household.objects.create(head=head)
    for m in (head, *members["blue"][:2]):
        m.household = household
        m.save(update_fields=["household"])


def _waiting(members: dict[str, list[Member]], agent: Any) -> None:
    """A status match and an over-threshold adjustment, both waiting for a supervisor: asked for by the demo
    agent through the services, as the office would, so each is on the customer's timeline."""
    if agent is None:
        return
    if members["blue"]:
        services.status_match_request(
            member=members["blue"][-1], tier=Tier.objects.get(code="gold"), competitor_airline="Northwind Airways",
            competitor_tier="Gold Elite", competitor_number="NW88231907",
            competitor_valid_until=timezone.localdate() + timedelta(days=200),
            note="Moved from Northwind; card seen by phone", by=agent,
        )  # fmt: skip
    if members["silver"]:
        services.adjustment_request(  # over the programme's threshold, so it waits
            member=members["silver"][0], kind=AdjustmentKind.GOODWILL,
            award_miles=max(8000, programme().adjustment_approval_threshold + 1),
            reason="Missed connection and a night at the airport", by=agent,
        )  # fmt: skip
