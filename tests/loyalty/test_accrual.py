"""Miles for flights flown: the formula, who is credited, and once only whatever replays or races.

Distances are statute miles from the great-circle kilometres between the airports (rounded to the
kilometre, as the fares are). The expected numbers below were computed apart from the code, from
the airports' coordinates in the airportsdata package with R = 6371 km:

    LHR-JFK 5,539.6 km -> 5,540 km -> 3,442 miles
    LHR-CDG   347.2 km ->   347 km ->   216 miles (under the 500-mile minimum)
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty import events, receivers, services, tasks
from loyalty.models import EntryKind, Member, MilesEntry, Tier
from loyalty.texts import entry_description
from reservations import events as reservations_events
from reservations.models import Coupon, CouponStatus
from tests.events_support import capture_events
from tests.loyalty.factories import credit, member
from tests.loyalty.flights import (
    accrual_not_announced,
    checked_in_booking,
    flown_booking,
    land,
    long_haul_flight,
    ticketed_booking,
    traveller,
)
from tests.loyalty.test_ledger import assert_balance_is_sum

LHR_JFK = 3442
LHR_CDG = 216
MINIMUM = 500  # Programme.minimum_miles_per_segment's default


def entries(m: Member) -> list[MilesEntry]:
    return list(MilesEntry.objects.filter(member=m).order_by("pk"))


# --- The formula ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_long_haul_flight_earns_its_great_circle_miles_award_and_qualifying():
    # Given a blue member who flew London-New York in a fare earning 100 %
    ada = member(family_name="Lovelace")
    flown = flown_booking(passengers=[traveller(ada)])

    # When the flight's miles are credited
    services.miles_accrue_for_flight(flight_id=flown.flight.pk)

    # Then one accrual of 3,442 award and qualifying miles and one segment, on that coupon
    [entry] = entries(ada)
    assert (entry.kind, entry.reason) == (EntryKind.ACCRUAL, "flight")
    assert (entry.award_miles, entry.qualifying_miles, entry.qualifying_segments) == (LHR_JFK, LHR_JFK, 1)
    assert (entry.coupon_id, entry.booking_id, entry.idempotency_key) == (
        flown.coupons[0].pk,
        flown.booking.pk,
        f"coupon:{flown.coupons[0].pk}",
    )
    assert entry.details == {
        "flight": flown.flight.flight_code,
        "date": flown.flight.service_date.isoformat(),
        "origin": "LHR",
        "destination": "JFK",
        "cabin": "economy",
        "booking_class": flown.booking.segments.get().booking_class.code,
        "fare_family": "ECO_EARN_100",
        "distance": LHR_JFK,
        "earn_percent": 100,
        "bonus_percent": 0,
    }
    assert_balance_is_sum(ada)
    # And the statement line reads as a sentence naming the flight and the route
    text = entry_description(entry)
    assert flown.flight.flight_code in text and "LHR" in text and "JFK" in text and "3,442" in text


@pytest.mark.django_db
def test_the_booking_class_earn_rate_scales_the_miles_rounded_down():
    # Given a member flying London-New York in a fare earning 25 %
    grace = member(family_name="Hopper")
    flown = flown_booking(passengers=[traveller(grace)], earn_percent=25)

    services.miles_accrue_for_flight(flight_id=flown.flight.pk)

    # Then 3,442 x 25 % = 860.5 -> 860 miles
    [entry] = entries(grace)
    assert (entry.award_miles, entry.qualifying_miles) == (860, 860)


@pytest.mark.django_db
def test_a_short_flight_earns_the_minimum_per_segment():
    # Given a member who flew London-Paris: 216 miles, under the minimum
    alan = member(family_name="Turing")
    flown = flown_booking(passengers=[traveller(alan)], origin="LHR", destination="CDG")

    services.miles_accrue_for_flight(flight_id=flown.flight.pk)

    # Then the programme's minimum, award and qualifying
    [entry] = entries(alan)
    assert entry.details["distance"] == LHR_CDG
    assert (entry.award_miles, entry.qualifying_miles, entry.qualifying_segments) == (MINIMUM, MINIMUM, 1)


@pytest.mark.django_db
def test_a_fare_earning_nothing_still_counts_the_segment():
    # Given a member on a fare family that earns 0 %
    m = member(family_name="Noether")
    flown = flown_booking(passengers=[traveller(m)], earn_percent=0)

    services.miles_accrue_for_flight(flight_id=flown.flight.pk)

    # Then no miles (not even the minimum) but one qualifying segment
    [entry] = entries(m)
    assert (entry.award_miles, entry.qualifying_miles, entry.qualifying_segments) == (0, 0, 1)


@pytest.mark.django_db
def test_the_tier_bonus_adds_award_miles_but_not_qualifying_miles():
    # Given a gold member (50 % bonus) and a silver member (25 %) on London-New York,
    # and a silver member on London-Paris (the bonus applies on top of the minimum)
    gold, silver, short = member(family_name="Gold"), member(family_name="Silver"), member(family_name="Short")
    Member.objects.filter(pk=gold.pk).update(tier=Tier.objects.get(code="gold"))
    Member.objects.filter(pk__in=[silver.pk, short.pk]).update(tier=Tier.objects.get(code="silver"))
    flown = flown_booking(passengers=[traveller(gold), traveller(silver)])
    paris = flown_booking(passengers=[traveller(short)], origin="LHR", destination="CDG")

    services.miles_accrue_for_flight(flight_id=flown.flight.pk)
    services.miles_accrue_for_flight(flight_id=paris.flight.pk)

    # Then 3,442 + 1,721 for gold, 3,442 + 860 for silver, 500 + 125 on the short flight; qualifying without bonus
    assert [(e.award_miles, e.qualifying_miles, e.details["bonus_percent"]) for e in entries(gold)] == [(5163, 3442, 50)]
    assert [(e.award_miles, e.qualifying_miles) for e in entries(silver)] == [(4302, 3442)]
    assert [(e.award_miles, e.qualifying_miles) for e in entries(short)] == [(625, 500)]
    for m in (gold, silver, short):
        assert_balance_is_sum(m)
    assert "50%" in entry_description(entries(gold)[0])


def test_the_formula_in_integers():
    assert services.miles_for_segment(distance=3442, earn_percent=100, bonus_percent=0, minimum=500).award == 3442
    assert services.miles_for_segment(distance=3442, earn_percent=150, bonus_percent=100, minimum=500).award == 10326
    earning = services.miles_for_segment(distance=100, earn_percent=50, bonus_percent=25, minimum=500)
    assert (earning.award, earning.qualifying) == (625, 500)
    assert services.miles_for_segment(distance=9999, earn_percent=0, bonus_percent=100, minimum=500).award == 0


# --- Who is credited ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_number_on_each_travellers_coupon_is_credited_whoever_booked():
    # Given a member who booked and paid for two travellers who are members, and a guest without a number
    booker = member(family_name="Booker")
    niece, nephew = member(family_name="Niece"), member(family_name="Nephew")
    flown = flown_booking(
        passengers=[traveller(niece), traveller(nephew, number=f"{nephew.number[:5]} {nephew.number[5:]}"), traveller()],
        customer=booker.customer,
    )

    services.miles_accrue_for_flight(flight_id=flown.flight.pk)

    # Then each traveller's own membership gets their own coupon (a number typed with a space still counts),
    # the booker and the guest nothing
    assert [e.coupon_id for e in entries(niece)] == [flown.coupons[0].pk]
    assert [e.coupon_id for e in entries(nephew)] == [flown.coupons[1].pk]
    assert entries(booker) == []
    assert MilesEntry.objects.count() == 2


@pytest.mark.django_db
def test_unknown_numbers_closed_memberships_and_unflown_coupons_earn_nothing():
    # Given on one flight: a traveller with a number nobody holds, a closed member, and a member who never
    # checked in, beside one member who flew
    flight = long_haul_flight()
    closed, absent, flyer = member(family_name="Closed"), member(family_name="Absent"), member(family_name="Flyer")
    booking = checked_in_booking(flight=flight, passengers=[traveller(), traveller(closed), traveller(flyer)])
    # (neither can be typed at booking: the number nobody holds comes from records made before the check,
    # and the membership closed after the booking)
    booking.passengers.filter(frequent_flyer_number="").update(frequent_flyer_number="1234567897")
    Member.objects.filter(pk=closed.pk).update(status="closed")
    no_show = ticketed_booking(flight=flight, passengers=[traveller(absent)])
    land(flight)

    # When the flight's miles are credited
    services.miles_accrue_for_flight(flight_id=flight.pk)

    # Then only the member who flew earns
    assert MilesEntry.objects.count() == 1
    assert len(entries(flyer)) == 1
    assert entries(absent) == entries(closed) == []
    assert set(Coupon.objects.filter(ticket__booking=no_show).values_list("status", flat=True)) == {CouponStatus.NO_SHOW}


@pytest.mark.django_db
def test_a_flight_flown_before_a_merge_and_credited_after_earns_for_the_surviving_membership_once(supervisor):
    # Given a member who flew on her duplicate record's number, whose miles did not arrive before that
    # record was merged into her other one (the arrival task was lost)
    from crm.services import customer_merge

    gone, kept = member(family_name="Lovelace"), member(family_name="Lovelace")
    with accrual_not_announced():
        flown = flown_booking(passengers=[traveller(gone)])
    customer_merge(survivor=kept.customer, loser=gone.customer, by=supervisor)
    # (the trip is finished: its traveller keeps the number flown with)
    assert flown.booking.passengers.get().frequent_flyer_number == gone.number

    # When the flight's miles are credited, then again, and the sweep runs
    services.miles_accrue_for_flight(flight_id=flown.flight.pk)
    services.miles_accrue_for_flight(flight_id=flown.flight.pk)
    assert services.miles_accrual_sweep() == 0

    # Then the surviving membership earns the coupon, once, and the closed one nothing
    [entry] = entries(kept)
    assert (entry.coupon_id, entry.award_miles, entry.qualifying_segments) == (flown.coupons[0].pk, LHR_JFK, 1)
    assert entries(gone) == []
    assert_balance_is_sum(kept)


@pytest.mark.django_db
def test_the_sweep_follows_a_chain_of_merges_to_the_membership_that_lives_on(supervisor):
    # Given a flight flown on number A, not credited, and A merged into B, then B into C
    from crm.services import customer_merge

    a, b, c = member(family_name="Ames"), member(family_name="Ames"), member(family_name="Ames")
    with accrual_not_announced():
        flown = flown_booking(passengers=[traveller(a)])
    customer_merge(survivor=b.customer, loser=a.customer, by=supervisor)
    customer_merge(survivor=c.customer, loser=b.customer, by=supervisor)

    # When the sweep runs
    assert services.miles_accrual_sweep() == 1

    # Then C is credited
    assert [e.coupon_id for e in entries(c)] == [flown.coupons[0].pk]
    assert entries(a) == entries(b) == []


# --- Once only --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_replaying_flight_arrived_credits_once(django_capture_on_commit_callbacks):
    # Given two members on a flight that is landing
    a, b = member(family_name="Ames"), member(family_name="Bell")
    flight = long_haul_flight()
    checked_in_booking(flight=flight, passengers=[traveller(a), traveller(b)])

    # When it lands (flight_arrived -> the receiver queues the task, run here in-process) ...
    with django_capture_on_commit_callbacks(execute=True):
        land(flight)
    # ... and the event is delivered twice more, and the task retried
    coupon_ids = [c.pk for c in Coupon.objects.filter(segment__flight=flight)]
    with django_capture_on_commit_callbacks(execute=True):
        reservations_events.flight_arrived.send_robust(sender=None, flight_id=flight.pk, coupon_ids=coupon_ids)
        receivers.on_flight_arrived(None, flight_id=flight.pk, coupon_ids=coupon_ids)
    assert tasks.accrue_flight.apply(kwargs={"flight_id": flight.pk}).get() == 0

    # Then each member is credited once
    assert [len(entries(a)), len(entries(b))] == [1, 1]
    assert [a.award_balance for a in Member.objects.filter(pk__in=[a.pk, b.pk])] == [LHR_JFK, LHR_JFK]


@pytest.mark.django_db
def test_the_sweep_credits_a_coupon_whose_task_was_lost_exactly_once():
    # Given a flight that landed while the broker was down (no accrual ran), and one already credited
    lost, fine = member(family_name="Lost"), member(family_name="Fine")
    missed = flown_booking(passengers=[traveller(lost)])
    credited = flown_booking(passengers=[traveller(fine)])
    services.miles_accrue_for_flight(flight_id=credited.flight.pk)

    # When the periodic sweep runs, twice
    first = tasks.accrual_sweep.apply().get()
    second = tasks.accrual_sweep.apply().get()

    # Then the missed coupon is credited once, marked as credited late, and nothing else moves
    assert (first, second) == (1, 0)
    [entry] = entries(lost)
    assert (entry.coupon_id, entry.award_miles, entry.details["via"]) == (missed.coupons[0].pk, LHR_JFK, "sweep")
    assert len(entries(fine)) == 1
    assert_balance_is_sum(lost)


@pytest.mark.django_db
def test_the_sweep_leaves_flights_older_than_its_window_to_retro_claims():
    # Given a member's flight of 40 days ago that was never credited
    old = member(family_name="Old")
    flown_booking(passengers=[traveller(old)], departure=(timezone.now() - timedelta(days=40)).replace(microsecond=0))

    # When the sweep looks at the last 30 days
    assert services.miles_accrual_sweep(days=30) == 0

    # Then it is left alone
    assert entries(old) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_accruals_of_the_same_flight_credit_once():
    # Given a landed flight with five members aboard, not yet credited
    travellers = [member(family_name=f"Racer{i}") for i in range(5)]
    flight = long_haul_flight()
    checked_in_booking(flight=flight, passengers=[traveller(m) for m in travellers])
    with accrual_not_announced():
        land(flight)
    assert MilesEntry.objects.count() == 0

    # When six workers credit the flight at the same moment
    barrier, results, errors = threading.Barrier(6), [], []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(len(services.miles_accrue_for_flight(flight_id=flight.pk)))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then five entries in all, each member credited once, balances equal to the entries
    assert errors == []
    assert sum(results) == 5
    assert MilesEntry.objects.count() == 5
    for m in travellers:
        assert [e.award_miles for e in entries(m)] == [LHR_JFK]
        assert_balance_is_sum(m)


@pytest.mark.django_db(transaction=True)
def test_landing_credits_the_miles_after_commit_through_the_task():
    # Given a member checked in on a flight
    m = member(family_name="Eager")
    flight = long_haul_flight()
    checked_in_booking(flight=flight, passengers=[traveller(m)])

    # When the flight lands (on-commit callbacks run for real here)
    land(flight)

    # Then the miles are there
    assert [e.award_miles for e in entries(m)] == [LHR_JFK]
    assert set(Coupon.objects.filter(segment__flight=flight).values_list("status", flat=True)) == {CouponStatus.FLOWN}


# --- Cost ---------------------------------------------------------------------------------------------------


def _flight_with_members(n: int, *, qualifying: int = 0):  # noqa: ANN202
    """A landed flight of ``n`` members, each already holding ``qualifying`` miles of the current period."""
    flight = long_haul_flight()
    people = [member(family_name=f"Party{i}") for i in range(n)]
    if qualifying:
        for m in people:
            credit(m, qualifying, qualifying=qualifying)
    for start in range(0, n, 9):
        checked_in_booking(flight=flight, passengers=[traveller(m) for m in people[start : start + 9]])
    land(flight)
    return flight, people


@pytest.mark.parametrize(
    ("qualifying", "tier", "most"),
    [
        # the programme, the candidate coupons, lock, insert, apply, the tier check (2), and savepoints
        pytest.param(0, "blue", 7, id="nobody-moves-up"),
        # ... and for the members the flight takes past Silver's 25,000: the programme's period, one update
        pytest.param(25_000 - LHR_JFK, "silver", 9, id="everyone-moves-up"),
    ],
)
@pytest.mark.django_db
def test_accrual_costs_the_same_queries_for_3_and_30_passengers(qualifying, tier, most, django_capture_on_commit_callbacks):  # noqa: ANN001
    (small, few_people), (large, many_people) = (
        _flight_with_members(3, qualifying=qualifying),
        _flight_with_members(30, qualifying=qualifying),
    )

    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        with CaptureQueriesContext(connection) as few:
            assert len(services.miles_accrue_for_flight(flight_id=small.pk)) == 3
        with CaptureQueriesContext(connection) as many:
            assert len(services.miles_accrue_for_flight(flight_id=large.pk)) == 30

    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    statements = [q["sql"] for q in few.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) <= most, statements
    # every traveller is in the tier their counters reach, valid to the end of the next period, and told so once
    people = few_people + many_people
    moved = Member.objects.filter(pk__in=[m.pk for m in people]).select_related("tier")
    assert {m.tier.code for m in moved} == {tier}
    changes = sorted(p["member_id"] for name, p in seen if name == "tier_changed")
    if tier == "blue":
        assert changes == []
    else:
        assert changes == sorted(m.pk for m in people)
        assert {(m.tier_since, m.tier_valid_until) for m in moved} == {
            (timezone.localdate(), services.valid_until_after_next(start=m.qualification_start, months=12)) for m in moved
        }
        assert {p["reason"] for _name, p in seen} == {"qualified"}


# --- Statement sentences ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_statement_lines_read_as_sentences_in_the_readers_language_with_a_fallback_for_unknown_reasons():
    from django.utils import translation

    from loyalty.texts import reason_description

    m = member(family_name="Reader")
    bonus = services.miles_post(
        posting=services.Posting(member_id=m.pk, kind=EntryKind.BONUS, reason="welcome_bonus", key="t:1", award=1000)
    )
    odd = services.miles_post(
        posting=services.Posting(member_id=m.pk, kind=EntryKind.PARTNER, reason="not_known_yet", key="t:2", award=10)
    )
    reversal = services.miles_reverse(entry=bonus, reason="correction")

    assert entry_description(bonus) == "Welcome bonus"
    assert entry_description(odd) == "Partner miles"  # an unknown reason reads as its kind
    assert entry_description(reversal) == f"Reversal of entry {bonus.pk} (correction)"
    # details of another shape never break a statement
    assert reason_description(kind=EntryKind.ACCRUAL, reason="flight", details={"distance": "n/a"}).startswith("Flight")
    assert reason_description(kind="something_new", reason="x", details=None) == "something_new"
    # the sentence is made when shown, in the language active then
    with translation.override("zh-hans"):
        assert isinstance(entry_description(bonus), str)
