"""Fares: the fare families and their rules, revenue management by load factor, child and infant
prices, taxes by country of departure, and the minimum fare."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from reservations import selectors, services
from reservations.models import BookingClass, FareFamily, FlightCabin, TaxRule
from tests.reservations.factories import FlightFactory, RouteFactory, airport


@pytest.fixture
def fares(db):
    services.fares_ensure()


def travel_day():
    return timezone.localdate() + timedelta(days=20)


def flight_from(origin: str = "LHR", destination: str = "CDG", *, distance_km: int = 1000, **kwargs):
    """A flight at 10:00 local time twenty days from now on a route of the given length."""
    route = RouteFactory(origin=airport(origin), destination=airport(destination), distance_km=distance_km)
    leaves = datetime.combine(travel_day(), time(10, 0), tzinfo=ZoneInfo(route.origin.time_zone))
    return FlightFactory(route=route, scheduled_departure=leaves, **kwargs)


LONDON_TAXES = Decimal("83.50")  # YQ 35 + YR 5 + GB 15 + UB 28.50 per adult


def set_economy(flight, *, capacity: int, available: int) -> None:
    FlightCabin.objects.filter(flight=flight, cabin="economy").update(capacity=capacity, available=available)


def search(flight, *, adults: int = 1, children: int = 0, infants: int = 0, cabin: str = "economy"):
    options = selectors.flight_search(
        origin=flight.origin.iata_code,
        destination=flight.destination.iata_code,
        departure_date=flight.service_date,
        cabin=cabin,
        adults=adults,
        children=children,
        infants=infants,
    )
    return next(o for o in options if o.flight.pk == flight.pk)


def offer(option, family: str):
    return next(o for o in option.offers if o.fare_family.code == family)


# --- the fare families -------------------------------------------------------------------------


def test_fare_families_carry_the_rules_of_light_standard_and_flex(fares):
    light, standard, flex = (FareFamily.objects.get(code=c) for c in ("ECO_LIGHT", "ECO_STANDARD", "ECO_FLEX"))

    # Light: no bag, no refund, no changes, seats cost extra, half the miles
    assert (light.baggage_pieces, light.refundable, light.changeable) == (0, False, False)
    assert light.seat_selection_fee > 0
    # Standard: a bag, changes for a fee, no refund
    assert (standard.baggage_pieces, standard.refundable, standard.changeable) == (1, False, True)
    assert standard.change_fee > 0
    # Flex: refundable and free to change, more bags and miles
    assert (flex.refundable, flex.changeable, flex.change_fee, flex.cancellation_fee) == (True, True, 0, 0)
    assert light.miles_earn_percent < standard.miles_earn_percent < flex.miles_earn_percent
    assert flex.baggage_pieces > standard.baggage_pieces
    assert {f.cabin for f in FareFamily.objects.all()} == {"economy", "premium_economy", "business"}
    assert set(FareFamily.objects.values_list("code", flat=True)) == {
        "ECO_LIGHT", "ECO_STANDARD", "ECO_FLEX", "PREM_FLEX", "BUS_STANDARD", "BUS_FLEX",
    }  # fmt: skip
    assert all(f.currency == "EUR" for f in FareFamily.objects.all())


def test_cheaper_booking_classes_close_earlier(fares):
    for family in FareFamily.objects.all():
        classes = list(family.booking_classes.order_by("price_per_km"))
        assert len(classes) >= 2, family.code
        closing = [c.closes_at_load_factor for c in classes]
        assert closing == sorted(closing), family.code
    # the last seats of every cabin stay sellable in some class
    for cabin in ("economy", "premium_economy", "business"):
        assert BookingClass.objects.filter(fare_family__cabin=cabin, closes_at_load_factor=Decimal("1.000")).exists()
    light = [c.closes_at_load_factor for c in BookingClass.objects.filter(fare_family__code="ECO_LIGHT").order_by("price_per_km")]
    assert light == [Decimal("0.500"), Decimal("0.700"), Decimal("0.850")]


def test_fares_ensure_is_idempotent_and_keeps_an_admins_price(fares):
    # given an administrator's new price for class Q
    BookingClass.objects.filter(code="Q").update(minimum_fare=Decimal("45.00"))
    counts = (FareFamily.objects.count(), BookingClass.objects.count(), TaxRule.objects.count())

    # when the fares are ensured again
    services.fares_ensure()

    # then nothing was duplicated and the price stands
    assert (FareFamily.objects.count(), BookingClass.objects.count(), TaxRule.objects.count()) == counts
    assert BookingClass.objects.get(code="Q").minimum_fare == Decimal("45.00")


# --- revenue management ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sold", "light_class", "standard_class"),
    [
        (0, "O", "L"),
        (499, "O", "L"),
        (500, "Q", "L"),  # O closes at 0.500
        (699, "Q", "L"),
        (700, "K", "M"),  # Q and L close at 0.700
        (849, "K", "M"),
        (850, None, "M"),  # K, the last Light class, closes at 0.850: no Light fare at all
        (900, None, "H"),
    ],
)
def test_cheaper_classes_close_exactly_at_their_load_factor(fares, sold, light_class, standard_class):
    # given an economy cabin of 1000 seats with this many sold
    flight = flight_from()
    set_economy(flight, capacity=1000, available=1000 - sold)

    # when one adult searches
    option = search(flight)

    # then each family is offered in its cheapest class still open
    families = {o.fare_family.code: o.booking_class.code for o in option.offers}
    assert families.get("ECO_LIGHT") == light_class
    assert families["ECO_STANDARD"] == standard_class
    assert families["ECO_FLEX"] == "B"


def test_the_same_fare_costs_more_as_the_cabin_fills(fares):
    early, late = flight_from(), flight_from()
    set_economy(late, capacity=1000, available=300)

    assert offer(search(late), "ECO_LIGHT").total > offer(search(early), "ECO_LIGHT").total
    assert search(late).lowest.total > search(early).lowest.total


def test_a_class_needs_seats_for_the_whole_party(fares):
    # given 3 seats left of 1000 (load factor 0.997: only the classes that never close sell)
    flight = flight_from()
    set_economy(flight, capacity=1000, available=3)

    assert {o.booking_class.code for o in search(flight, adults=3).offers} == {"H", "Y"}
    assert search(flight, adults=3, children=1).offers == []


def flight_on(day, *, distance_km: int = 1000, sold: int = 0):
    """A 1000-seat economy flight LHR-CDG at 10:00 London time on ``day`` with ``sold`` seats gone."""
    route = RouteFactory(origin=airport("LHR"), destination=airport("CDG"), distance_km=distance_km)
    flight = FlightFactory(route=route, scheduled_departure=datetime.combine(day, time(10, 0), tzinfo=ZoneInfo("Europe/London")))
    set_economy(flight, capacity=1000, available=1000 - sold)
    return flight


def test_the_same_class_is_cheaper_far_out_and_dearer_in_the_last_days(fares):
    # given three empty flights (class O of Light open on each): ten weeks, three weeks and two days away
    today = timezone.localdate()
    far, usual, close = (flight_on(today + timedelta(days=d)) for d in (70, 21, 2))

    # when one adult searches each
    prices = [offer(search(f), "ECO_LIGHT") for f in (far, usual, close)]

    # then the class is the same, but the fare follows the days left: 60 x 0.90, 60, 60 x 1.30
    assert {p.booking_class.code for p in prices} == {"O"}
    assert [p.prices["ADT"].fare for p in prices] == [Decimal("54.00"), Decimal("60.00"), Decimal("78.00")]
    assert [p.demand.advance_multiplier for p in prices] == [Decimal("0.90"), Decimal("1.00"), Decimal("1.30")]


def test_a_nearly_full_cabin_costs_more_in_the_same_class(fares):
    # given two flights three weeks away, one empty and one 80 % sold (Flex class B is open on both)
    day = timezone.localdate() + timedelta(days=21)
    empty, full = flight_on(day), flight_on(day, sold=800)

    # when one adult searches both
    on_empty, on_full = offer(search(empty), "ECO_FLEX"), offer(search(full), "ECO_FLEX")

    # then the same class B costs 10 % more on the fuller cabin: 0.22 x 1000 = 220, and 242
    assert on_empty.booking_class.code == on_full.booking_class.code == "B"
    assert on_empty.prices["ADT"].fare == Decimal("220.00")
    assert on_full.prices["ADT"].fare == Decimal("242.00")
    assert on_full.demand.load_factor == Decimal("0.8")
    assert on_full.demand.load_multiplier == Decimal("1.10")


def test_the_price_calendar_shows_different_prices_on_days_with_different_loads(fares):
    # given the same flight on three days three weeks away: empty, 60 % and 92 % sold
    day = timezone.localdate() + timedelta(days=21)
    flight_on(day - timedelta(days=1))
    flight_on(day, sold=600)
    flight_on(day + timedelta(days=1), sold=920)

    # when the calendar around the middle day is shown
    calendar = selectors.price_calendar(origin="LHR", destination="CDG", around=day, cabin="economy", adults=1, days=1)

    # then each day has its own lowest price, rising with the load: Light O 60, Light Q 75, Standard H 165 x 1.20
    fares_only = [d.lowest - LONDON_TAXES for d in calendar]
    assert fares_only == [Decimal("60.00"), Decimal("75.00"), Decimal("198.00")]


def test_the_price_quoted_in_search_is_the_price_charged_at_booking(fares):
    # given a flight five days away, 80 % sold (a last-week fare with a load surcharge)
    flight = flight_on(timezone.localdate() + timedelta(days=5), sold=800)
    quoted = offer(search(flight, adults=2, children=1, infants=1), "ECO_STANDARD")
    assert quoted.demand.multiplier == Decimal("1.15") * Decimal("1.10")

    # when the party books that fare
    booking = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[
            services.PassengerRequest(passenger_type="ADT", given_name="Ada", family_name="Quote"),
            services.PassengerRequest(passenger_type="ADT", given_name="Bo", family_name="Quote"),
            services.PassengerRequest(passenger_type="CHD", given_name="Cy", family_name="Quote", date_of_birth=date(2019, 5, 1)),
            services.PassengerRequest(
                passenger_type="INF",
                given_name="Di",
                family_name="Quote",
                date_of_birth=timezone.localdate() - timedelta(days=200),
            ),
        ],
        contact_email="quote@example.com",
        channel="portal",
    )

    # then the booking charges exactly the quoted total, fare by fare
    assert booking.total_amount == quoted.total
    fares_charged = sorted(booking.charges.filter(kind="fare").values_list("amount", flat=True))
    assert fares_charged == sorted(quoted.prices[p].fare for p in ("ADT", "ADT", "CHD", "INF"))


# --- passenger types ---------------------------------------------------------------------------


def test_children_and_infants_pay_their_percentage_of_the_adult_fare(fares):
    # given a 1000 km flight from London: Standard class L is 0.11 per km = 110.00 for an adult
    flight = flight_from(distance_km=1000)

    # when two adults, a child and an infant search
    standard = offer(search(flight, adults=2, children=1, infants=1), "ECO_STANDARD")

    # then the child pays 75 % and the infant 10 % of the adult fare
    assert standard.booking_class.code == "L"
    assert standard.prices["ADT"].fare == Decimal("110.00")
    assert standard.prices["CHD"].fare == Decimal("82.50")
    assert standard.prices["INF"].fare == Decimal("11.00")
    assert standard.fare_total == Decimal("313.50")  # 2 x 110 + 82.50 + 11
    # taxes from London: YQ 35 + YR 5 + GB 15 + UB 28.50 per seat; the infant only YR and UB
    assert standard.prices["ADT"].total - standard.prices["ADT"].fare == Decimal("83.50")
    assert standard.prices["INF"].total - standard.prices["INF"].fare == Decimal("33.50")
    assert standard.total == Decimal("313.50") + 3 * Decimal("83.50") + Decimal("33.50")
    assert standard.currency == "EUR"


def test_child_price_follows_the_percentage_the_fare_family_sets(fares):
    FareFamily.objects.filter(code="ECO_STANDARD").update(child_percent=67, infant_percent=0)
    flight = flight_from(distance_km=1000)

    standard = offer(search(flight, adults=1, children=1, infants=1), "ECO_STANDARD")

    assert standard.prices["CHD"].fare == Decimal("73.70")  # 67 % of 110.00
    assert standard.prices["INF"].fare == Decimal("0.00")


# --- taxes -------------------------------------------------------------------------------------


def _tax_codes(option_offer, passenger_type: str) -> set[str]:
    return {t.code for t in option_offer.prices[passenger_type].taxes}


@pytest.mark.parametrize(
    ("origin", "destination", "adult_taxes", "infant_taxes"),
    [
        ("LHR", "CDG", {"YQ", "YR", "GB", "UB"}, {"YR", "UB"}),
        ("CDG", "LHR", {"YQ", "YR", "FR", "IZ"}, {"YR"}),
        ("FRA", "LHR", {"YQ", "YR", "RA", "DE"}, {"YR", "DE"}),
        ("JFK", "LHR", {"YQ", "YR", "US"}, {"YR"}),
        ("AMS", "LHR", {"YQ", "YR"}, {"YR"}),
    ],
)
def test_taxes_follow_the_country_of_departure_and_spare_infants(fares, origin, destination, adult_taxes, infant_taxes):
    flight = flight_from(origin, destination)

    light = search(flight, adults=1, children=1, infants=1).offers[0]

    assert _tax_codes(light, "ADT") == adult_taxes
    assert _tax_codes(light, "CHD") == adult_taxes
    assert _tax_codes(light, "INF") == infant_taxes


def test_itemised_taxes_add_up_to_the_offer_total(fares):
    flight = flight_from("LHR", "CDG")

    light = search(flight, adults=1).offers[0]

    amounts = {t.code: t.amount for t in light.prices["ADT"].taxes}
    assert amounts == {"YQ": Decimal("35.00"), "YR": Decimal("5.00"), "GB": Decimal("15.00"), "UB": Decimal("28.50")}
    assert light.taxes_total == sum(amounts.values())
    assert light.total == light.fare_total + light.taxes_total


# --- minimum fare ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance_km", "adult_fare"),
    [
        (100, Decimal("39.00")),  # 6.00 by distance: the minimum applies
        (640, Decimal("39.00")),  # 38.40 by distance, still under the minimum
        (650, Decimal("39.00")),  # exactly the minimum
        (700, Decimal("42.00")),  # 0.06 x 700 is over it
        (1000, Decimal("60.00")),
    ],
)
def test_the_minimum_fare_is_a_floor(fares, distance_km, adult_fare):
    flight = flight_from(distance_km=distance_km)

    light = offer(search(flight), "ECO_LIGHT")

    assert light.booking_class.code == "O"
    assert light.prices["ADT"].fare == adult_fare
