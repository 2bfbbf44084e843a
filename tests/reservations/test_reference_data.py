"""Reference data: airports from the package, the fleet's seat maps, and the generated network schedule."""

import re
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import airportsdata
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crm.errors import ApplicationError
from reservations import services
from reservations.models import AircraftType, Airport, BookingClass, FareFamily, Flight, FlightCabin, Route, TaxRule
from tests.reservations.factories import FlightFactory, RouteFactory, airport

PACKAGE = airportsdata.load("IATA")
WINTER_DAY = date(2027, 1, 20)
SUMMER_DAY = date(2027, 7, 20)


# --- airports ----------------------------------------------------------------------------------


def test_airports_load_writes_the_named_airports_from_the_package(db):
    # given an outdated name for Heathrow
    Airport.objects.create(iata_code="LHR", name="Old name", country="GB", latitude=0, longitude=0, time_zone="Europe/London")

    # when two airports are loaded, one in lower case
    loaded = services.airports_load(codes=["LHR", "nrt"])

    # then both come from the package, the old row refreshed rather than duplicated
    assert loaded == 2
    assert Airport.objects.count() == 2
    heathrow = Airport.objects.get(iata_code="LHR")
    assert heathrow.name == PACKAGE["LHR"]["name"]
    assert heathrow.icao_code == "EGLL"
    assert heathrow.time_zone == "Europe/London"
    assert float(heathrow.latitude) == pytest.approx(PACKAGE["LHR"]["lat"], abs=1e-6)
    narita = Airport.objects.get(iata_code="NRT")
    assert (narita.country.code, narita.time_zone) == ("JP", "Asia/Tokyo")


def test_airports_load_without_codes_loads_the_whole_package_in_bulk(db, django_assert_max_num_queries):
    # when every airport is loaded
    with django_assert_max_num_queries(12):
        loaded = services.airports_load()

    # then there is one row per IATA airport of the package, each with its time zone
    expected = sum(1 for data in PACKAGE.values() if data["tz"] and data["country"])
    assert loaded == expected == Airport.objects.count()
    assert expected > 7000
    assert not Airport.objects.filter(time_zone="").exists()


def test_airports_load_refuses_unknown_codes_and_writes_nothing(db):
    with pytest.raises(ApplicationError) as refused:
        services.airports_load(codes=["LHR", "QQQ"])

    assert "QQQ" in refused.value.message
    assert "codes" in refused.value.fields
    assert not Airport.objects.exists()


# --- aircraft ----------------------------------------------------------------------------------


def _seats_by_cabin(aircraft: AircraftType) -> dict[str, int]:
    seats: dict[str, int] = {}
    for section in aircraft.sections.all():
        seats[section.cabin] = seats.get(section.cabin, 0) + len(section.seats())
    return seats


def test_aircraft_types_have_the_seat_maps_of_the_fleet(db):
    # when the fleet is ensured twice
    services.aircraft_types_ensure()
    fleet = {a.code: a for a in services.aircraft_types_ensure()}

    # then there are three types, each with its sections once, and seats counted without blocked ones
    assert set(fleet) == {"320", "32Q", "789"}
    assert AircraftType.objects.count() == 3
    assert _seats_by_cabin(fleet["320"]) == {"business": 3 * 4, "economy": 27 * 6 - 2}
    assert _seats_by_cabin(fleet["32Q"]) == {"business": 4 * 4, "economy": 32 * 6 - 2}
    assert _seats_by_cabin(fleet["789"]) == {"business": 8 * 4, "premium_economy": 6 * 7, "economy": 27 * 9 - 3}
    economy = fleet["320"].sections.get(cabin="economy")
    assert economy.layout == "ABC DEF"
    assert economy.exit_rows == [12, 13]
    assert "30E" not in economy.seats() and "30D" in economy.seats()
    dreamliner_business = fleet["789"].sections.get(cabin="business")
    assert dreamliner_business.letters == ["A", "D", "F", "K"]


def test_aircraft_types_ensure_keeps_a_seat_map_an_admin_edited(db):
    # given an A320 whose economy an administrator shortened
    services.aircraft_types_ensure()
    AircraftType.objects.get(code="320").sections.filter(cabin="economy").update(last_row=20)

    # when the fleet is ensured again
    services.aircraft_types_ensure()

    # then the edit stands
    assert AircraftType.objects.get(code="320").sections.get(cabin="economy").last_row == 20


# --- schedule ----------------------------------------------------------------------------------


def test_schedule_generation_is_idempotent(db, django_assert_max_num_queries):
    # given two days of schedule
    timetable = services.schedule_timetable()
    first = services.schedule_generate(days=2, start=WINTER_DAY)
    flights, cabins = Flight.objects.count(), FlightCabin.objects.count()

    # when the same days are generated again, and then one more day
    with django_assert_max_num_queries(25):
        again = services.schedule_generate(days=2, start=WINTER_DAY)
    more = services.schedule_generate(days=3, start=WINTER_DAY)

    # then nothing was duplicated and only the new day was added
    assert first == 2 * len(timetable) == flights
    assert again == 0
    assert more == len(timetable)
    assert Flight.objects.count() == 3 * len(timetable)
    assert FlightCabin.objects.count() == cabins * 3 // 2
    assert Route.objects.count() == len({(e.origin, e.destination) for e in timetable})


def test_schedule_is_a_hub_and_spoke_network_of_real_airports(db):
    services.schedule_generate(days=1, start=WINTER_DAY)

    # every flight touches the hub, between 20 and 30 spokes, in both directions
    assert not Flight.objects.exclude(origin__iata_code="LHR").exclude(destination__iata_code="LHR").exists()
    spokes = set(Route.objects.filter(origin__iata_code="LHR").values_list("destination__iata_code", flat=True))
    assert 20 <= len(spokes) <= 30
    assert spokes == set(Route.objects.filter(destination__iata_code="LHR").values_list("origin__iata_code", flat=True))
    # rotations by distance: Paris three times a day, Athens twice, New York once, each way
    day = Flight.objects.filter(service_date=WINTER_DAY)
    assert day.filter(origin__iata_code="LHR", destination__iata_code="CDG").count() == 3
    assert day.filter(origin__iata_code="LHR", destination__iata_code="ATH").count() == 2
    assert day.filter(origin__iata_code="LHR", destination__iata_code="JFK").count() == 1
    assert day.filter(origin__iata_code="JFK", destination__iata_code="LHR").count() == 1


def test_routes_have_great_circle_distances_and_block_times(db):
    services.schedule_generate(days=1, start=WINTER_DAY)

    paris = Route.objects.get(origin__iata_code="LHR", destination__iata_code="CDG")
    new_york = Route.objects.get(origin__iata_code="LHR", destination__iata_code="JFK")
    singapore = Route.objects.get(origin__iata_code="LHR", destination__iata_code="SIN")
    # published great-circle distances: LHR-CDG 348 km, LHR-JFK 5,540 km, LHR-SIN 10,880 km
    assert paris.distance_km == pytest.approx(348, abs=5)
    assert new_york.distance_km == pytest.approx(5540, abs=30)
    assert singapore.distance_km == pytest.approx(10880, abs=40)
    assert 55 <= paris.block_minutes <= 80
    assert 7 * 60 <= new_york.block_minutes <= 8 * 60
    assert 12 * 60 <= singapore.block_minutes <= 14 * 60
    assert all(r.block_minutes % 5 == 0 for r in (paris, new_york, singapore))
    back = Route.objects.get(origin__iata_code="JFK", destination__iata_code="LHR")
    assert (back.distance_km, back.block_minutes) == (new_york.distance_km, new_york.block_minutes)


def test_aircraft_follow_distance_and_cabins_start_full_from_the_seat_map(db):
    services.schedule_generate(days=1, start=WINTER_DAY)

    paris = Flight.objects.filter(origin__iata_code="LHR", destination__iata_code="CDG").first()
    athens = Flight.objects.filter(origin__iata_code="LHR", destination__iata_code="ATH").first()
    new_york = Flight.objects.filter(origin__iata_code="LHR", destination__iata_code="JFK").first()
    assert (paris.aircraft_type.code, athens.aircraft_type.code, new_york.aircraft_type.code) == ("320", "32Q", "789")
    cabins = {c.cabin: (c.capacity, c.available) for c in new_york.cabins.all()}
    assert cabins == {"business": (32, 32), "premium_economy": (42, 42), "economy": (240, 240)}
    assert {c.cabin: c.capacity for c in paris.cabins.all()} == {"business": 12, "economy": 160}
    assert new_york.airline_designator == "AU"


@pytest.mark.parametrize("day", [WINTER_DAY, SUMMER_DAY])
def test_flights_leave_at_their_timetable_local_time_all_year(db, day):
    # when a winter day and a summer day are generated
    services.schedule_generate(days=1, start=day)

    # then each flight leaves at the timetable's local time on its local service date
    timetable = {e.flight_number: e for e in services.schedule_timetable()}
    flights = list(Flight.objects.select_related("origin", "destination"))
    assert len(flights) == len(timetable)
    for flight in flights:
        entry = timetable[flight.flight_number]
        leaves = flight.scheduled_departure.astimezone(ZoneInfo(flight.origin.time_zone))
        assert (flight.origin.iata_code, flight.destination.iata_code) == (entry.origin, entry.destination)
        assert leaves.time() == entry.departure, flight
        assert leaves.date() == flight.service_date == day
        assert flight.duration_minutes == flight.route.block_minutes


def test_the_morning_paris_flight_is_0705_in_london_in_winter_and_summer(db):
    services.schedule_generate(days=1, start=WINTER_DAY)
    services.schedule_generate(days=1, start=SUMMER_DAY)

    winter = Flight.objects.get(flight_number=111, service_date=WINTER_DAY)
    summer = Flight.objects.get(flight_number=111, service_date=SUMMER_DAY)
    # the same wall-clock time in London, one hour apart in UTC because of British Summer Time
    assert winter.scheduled_departure.astimezone(ZoneInfo("Europe/London")).time() == time(7, 5)
    assert summer.scheduled_departure.astimezone(ZoneInfo("Europe/London")).time() == time(7, 5)
    assert winter.scheduled_departure.astimezone(UTC).time() == time(7, 5)
    assert summer.scheduled_departure.astimezone(UTC).time() == time(6, 5)
    # the return leaves Paris after the turnaround, in Paris time
    back = Flight.objects.get(flight_number=112, service_date=WINTER_DAY)
    assert back.origin.iata_code == "CDG"
    assert back.scheduled_departure.astimezone(ZoneInfo("Europe/Paris")).time() == time(9, 55)


def test_overnight_long_haul_lands_the_next_local_day(db):
    services.schedule_generate(days=1, start=WINTER_DAY)

    singapore = Flight.objects.get(origin__iata_code="LHR", destination__iata_code="SIN")
    lands = singapore.scheduled_arrival.astimezone(ZoneInfo("Asia/Singapore"))
    assert singapore.service_date == WINTER_DAY
    assert lands.date() == date(2027, 1, 21)
    assert singapore.scheduled_arrival - singapore.scheduled_departure == timedelta(minutes=singapore.route.block_minutes)


def test_schedule_refuses_a_flight_number_another_route_already_flies(db):
    # given AU111 on the day already flying Heathrow-Amsterdam
    FlightFactory(
        flight_number=111,
        route=RouteFactory(origin=airport("LHR"), destination=airport("AMS")),
        scheduled_departure=datetime(2027, 1, 20, 9, 0, tzinfo=UTC),
    )

    # when the schedule (where AU111 flies to Paris) is generated for that day
    with pytest.raises(ApplicationError) as refused:
        services.schedule_generate(days=1, start=WINTER_DAY)

    # then it is refused with the clashing flight named, and nothing was added
    assert "AU111" in refused.value.message
    assert Flight.objects.count() == 1


def test_schedule_around_another_hub_uses_its_own_flight_numbers(db):
    services.schedule_generate(days=1, start=WINTER_DAY)

    created = services.schedule_generate(days=1, start=WINTER_DAY, hub="FRA")

    frankfurt = Flight.objects.filter(service_date=WINTER_DAY).exclude(flight_number__lt=1000)
    assert created == frankfurt.count() > 0
    assert not frankfurt.exclude(origin__iata_code="FRA").exclude(destination__iata_code="FRA").exists()


# --- command -----------------------------------------------------------------------------------


def test_generate_schedule_command_builds_the_days_and_says_what_it_did(db):
    out = StringIO()
    call_command("generate_schedule", days=2, start="2027-01-20", hub="lhr", verbosity=0, stdout=out)

    per_day = len(services.schedule_timetable())
    assert Flight.objects.count() == 2 * per_day
    assert set(Flight.objects.values_list("service_date", flat=True)) == {date(2027, 1, 20), date(2027, 1, 21)}
    summary = out.getvalue()
    assert f"{2 * per_day} flights created" in summary
    assert "2027-01-20 to 2027-01-21" in summary
    # fares come with the schedule, so it can be searched and sold at once
    assert FareFamily.objects.exists() and BookingClass.objects.exists() and TaxRule.objects.exists()

    again = StringIO()
    call_command("generate_schedule", days=2, start="2027-01-20", verbosity=0, stdout=again)
    assert f"0 flights created, {2 * per_day} already there" in again.getvalue()
    assert Flight.objects.count() == 2 * per_day


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 0}, "--days"),
        ({"days": 400}, "--days"),
        ({"days": 2, "start": "2027-02-30"}, "--start"),
        ({"days": 2, "start": "tomorrow"}, "--start"),
        ({"days": 2, "hub": "QQQ"}, "QQQ"),
    ],
)
def test_generate_schedule_command_refuses_bad_input_and_changes_nothing(db, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_schedule", verbosity=0, stdout=StringIO(), **options)

    assert not Flight.objects.exists()
    assert not Route.objects.exists()


def test_seed_demo_includes_a_flight_schedule(db, settings):
    # given a developer's machine
    settings.DEBUG = True

    # when the demo data is loaded twice
    call_command("seed_demo", stdout=StringIO())
    flights = Flight.objects.count()
    call_command("seed_demo", stdout=StringIO())

    # then there are flights from today on, once
    assert flights >= 30 * len(services.schedule_timetable())
    assert Flight.objects.count() == flights
    assert Flight.objects.filter(service_date=timezone.localdate()).exists()


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db, client):
    from tests.crm.factories import StaffFactory

    admin_user = StaffFactory(roles=[], username="root", is_superuser=True)
    client.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_admin_lists_flights_in_local_time_read_only(admin_client, django_assert_max_num_queries):
    services.schedule_generate(days=1, start=WINTER_DAY)
    flight = Flight.objects.get(flight_number=112, service_date=WINTER_DAY)

    with django_assert_max_num_queries(15):
        listing = admin_client.get("/office/admin/reservations/flight/?q=112")
    detail = admin_client.get(f"/office/admin/reservations/flight/{flight.pk}/change/")

    assert listing.status_code == 200
    # AU112 leaves Paris at 09:55 Paris time and lands at 10:00 London time
    html = listing.content.decode()
    assert re.search(r'<td class="field-departs_local">(.*?)</td>', html).group(1) == "2027-01-20 09:55 CET"
    assert re.search(r'<td class="field-arrives_local">(.*?)</td>', html).group(1) == "2027-01-20 10:00 GMT"
    assert detail.status_code == 200
    assert b"available" in detail.content.lower()
    assert admin_client.get("/office/admin/reservations/flight/add/").status_code == 403


@pytest.mark.parametrize("model", ["airport", "aircrafttype", "route", "farefamily", "bookingclass", "taxrule", "booking"])
def test_admin_pages_for_reference_data_open(admin_client, model):
    services.schedule_generate(days=1, start=WINTER_DAY)
    services.fares_ensure()

    assert admin_client.get(f"/office/admin/reservations/{model}/").status_code == 200
    assert admin_client.get(f"/office/admin/reservations/{model}/?q=LHR").status_code == 200
