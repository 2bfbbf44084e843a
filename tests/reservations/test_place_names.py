"""Cities, airports, fares and charges in the reader's language: English pages name London, Chinese pages 伦敦."""

from __future__ import annotations

import email
import importlib
from datetime import timedelta
from email import policy

from django.apps import apps
from django.core import mail
from django.test import Client
from django.utils import translation

from reservations import services
from reservations.models import Airport, BookingCharge, ChargeKind
from reservations.services.reference import DEFAULT_HUB, NETWORK, PLACES
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.portal_support import (  # noqa: F401
    SEARCH,
    TEST_CARD,
    adult,
    book_url,
    departure_in,
    fares_fixture,
    hold,
    make_flight,
    pay_form,
    search_params,
)

STATUS = "/flight-status/"


def in_language(client: Client, language: str) -> Client:
    client.post("/i18n/setlang/", {"language": language, "next": "/"})
    return client


def read(message) -> dict[str, str]:
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    return {part.get_content_type(): part.get_content() for part in parsed.walk() if part.get_content_maintype() == "text"}


# --- reference data ----------------------------------------------------------------------------


def test_every_served_airport_has_its_city_and_name_in_english_and_chinese():
    # given the network the schedule is generated for
    served = (DEFAULT_HUB, *NETWORK)

    # then each of its airports has the city people use in English, and a city and an airport name in Chinese
    assert set(served) <= set(PLACES)
    for code in served:
        city, city_zh, name_zh, _name = PLACES[code]
        assert city and city_zh and name_zh, code
        assert not any("a" <= ch.lower() <= "z" for ch in city_zh + name_zh), code


def test_the_loader_names_airports_as_passengers_do_in_both_languages(db):
    # when the loader writes Toronto, Istanbul and Frankfurt, served, and Tokyo Narita, not served
    services.airports_load(codes=["YYZ", "IST", "FRA", "NRT"])
    toronto, istanbul, frankfurt, narita = (Airport.objects.get(iata_code=c) for c in ("YYZ", "IST", "FRA", "NRT"))

    # then the served cities carry the names people use, not the municipality the package names
    assert (toronto.city, istanbul.city, frankfurt.city) == ("Toronto", "Istanbul", "Frankfurt")
    assert (toronto.city_zh, istanbul.city_zh, frankfurt.name_zh) == ("多伦多", "伊斯坦布尔", "法兰克福机场")

    # and each is shown in the reader's language, given or active
    assert toronto.label("en") == "Toronto (YYZ)" and toronto.label("zh-hans") == "多伦多 (YYZ)"
    with translation.override("zh-hans"):
        assert str(istanbul) == "伊斯坦布尔 (IST)" and frankfurt.local_name() == "法兰克福机场"
    with translation.override("en"):
        assert str(istanbul) == "Istanbul (IST)" and frankfurt.local_name() == "Frankfurt Airport"

    # and an airport with no Chinese form reads in English in a Chinese page rather than not at all
    assert narita.city_zh == "" and narita.label("zh-hans") == "Tokyo (NRT)"


def test_the_data_migration_names_the_airports_already_loaded(db):
    # given Toronto as it was loaded from the package before (the municipality as its city, no Chinese)
    Airport.objects.filter(iata_code="YYZ").delete()
    Airport.objects.create(
        iata_code="YYZ", name="Toronto Pearson International Airport", city="Mississauga", country="CA",
        latitude=43.6772, longitude=-79.6306, time_zone="America/Toronto",
    )  # fmt: skip

    # when the migrations' data steps run (the names people use, then the Chinese names)
    importlib.import_module("reservations.migrations.0009_airport_names_people_use").rename(apps, None)
    importlib.import_module("reservations.migrations.0010_airport_names_in_chinese").name_served_airports(apps, None)

    # then the row reads Toronto, in English and in Chinese
    toronto = Airport.objects.get(iata_code="YYZ")
    assert (toronto.city, toronto.city_zh, toronto.name_zh) == ("Toronto", "多伦多", "多伦多皮尔逊国际机场")


# --- pages -------------------------------------------------------------------------------------


def test_flight_status_and_search_name_the_cities_in_the_page_language(client, fares):
    # given a flight from London to Paris
    flight = make_flight("LHR", "CDG", at=departure_in(3))
    status = {"flight_code": flight.flight_code, "service_date": flight.service_date.isoformat()}

    # when the status and the search form are read in English
    english = client.get(STATUS, status).content.decode() + client.get(SEARCH).content.decode()

    # then the cities are in English
    assert "London (LHR)" in english and "Paris (CDG)" in english
    assert "伦敦" not in english and "巴黎" not in english

    # and when the same pages are read in Chinese, the cities are in Chinese, in the results too
    in_language(client, "zh-hans")
    chinese = (
        client.get(STATUS, status).content.decode()
        + client.get(SEARCH).content.decode()
        + client.get(SEARCH, search_params(flight)).content.decode()
    )
    assert "伦敦 (LHR)" in chinese and "巴黎 (CDG)" in chinese
    assert '<option value="LHR">伦敦 (LHR)</option>' in chinese
    assert "London" not in chinese and "Paris" not in chinese


def test_a_trip_booked_in_chinese_reads_in_english_and_back_with_its_fare_lines(passenger, passenger_client, fares):
    # given a flight booked in Chinese by the passenger
    _, customer = passenger
    flight = make_flight("LHR", "CDG", at=departure_in(5))
    url = book_url(search_params(flight), (flight, "ECO_FLEX"))
    in_language(passenger_client, "zh-hans")
    booking = hold(passenger_client, url, adult(1, customer.given_name, customer.family_name))
    trip = f"/trips/{booking.record_locator}/"

    # when the trip is read in English
    in_language(passenger_client, "en")
    english = passenger_client.get(trip).content.decode()

    # then the cities, the fare family and the passenger type of each fare line read in English
    assert f"{flight.flight_code} Flex (Adult)" in english
    assert "London (LHR)" in english
    assert not any(word in english for word in ("成人", "灵活", "伦敦"))

    # and in Chinese they read in Chinese, with the taxes named by the airline's catalogue of taxes
    in_language(passenger_client, "zh-hans")
    chinese = passenger_client.get(trip).content.decode()
    assert f"{flight.flight_code} 灵活 (成人)" in chinese and "伦敦 (LHR)" in chinese
    assert "Flex" not in chinese and "Adult" not in chinese
    taxes = BookingCharge.objects.filter(booking=booking, kind=ChargeKind.TAX)
    assert taxes and all(f"{flight.flight_code} " in t.description for t in taxes)
    with translation.override("zh-hans"):
        assert all(t.local_description() in chinese for t in taxes)


def test_seat_and_cancellation_fee_lines_read_in_the_readers_language_whoever_made_them():
    # given lines written in Chinese and in English when they were charged, and one in words of the airline's
    seat_in_chinese = BookingCharge(kind=ChargeKind.SEAT, description="AU100 选座")
    fee = BookingCharge(kind=ChargeKind.CANCELLATION_FEE, description="AU100 Flex")
    tax_after_a_change = BookingCharge(kind=ChargeKind.TAX, description="AU100 GB")
    other_seat_line = BookingCharge(kind=ChargeKind.SEAT, description="AU100 row 12 exit seat")

    # when they are read in English, then in Chinese
    with translation.override("en"):
        english = [c.local_description() for c in (seat_in_chinese, fee, tax_after_a_change, other_seat_line)]
    with translation.override("zh-hans"):
        chinese = [c.local_description() for c in (seat_in_chinese, fee, tax_after_a_change, other_seat_line)]

    # then the seat fee and the fare family read in the reader's language; a line the airline wrote
    # otherwise, and a tax named by its code, read as written
    assert english == ["AU100 seat selection", "AU100 Flex", "AU100 GB", "AU100 row 12 exit seat"]
    assert chinese == ["AU100 选座", "AU100 灵活", "AU100 GB", "AU100 row 12 exit seat"]


def test_the_receipt_email_names_the_cities_in_the_bookings_language(
    passenger, passenger_client, fares, django_capture_on_commit_callbacks
):
    # given a booking made in Chinese by a passenger who reads Chinese
    _, customer = passenger
    customer.preferred_language = "zh-hans"
    customer.save(update_fields=["preferred_language"])
    flight = make_flight("LHR", "CDG", at=departure_in(5))
    in_language(passenger_client, "zh-hans")
    booking = hold(passenger_client, book_url(search_params(flight), (flight, "ECO_FLEX")), adult(1, "Li", "Wei"))

    # when it is paid, and its receipt e-mailed
    with django_capture_on_commit_callbacks(execute=True):
        passenger_client.post(
            f"/trips/{booking.record_locator}/pay/", {**pay_form(passenger_client, booking), "number": TEST_CARD}
        )

    # then the receipt names London and Paris in Chinese, with the fare family in Chinese
    receipt = next(read(m) for m in mail.outbox if booking.record_locator in m.subject)
    for body in (receipt["text/plain"], receipt["text/html"]):
        assert "伦敦 (LHR)" in body and "巴黎 (CDG)" in body and "灵活" in body
        assert "London" not in body and "Flex" not in body


def test_a_disruption_email_names_the_cities_in_each_bookings_language_whoever_reports_it(
    db, agent, settings, django_capture_on_commit_callbacks
):
    # given a London-Paris flight with a booking in English and one in Chinese
    settings.DISRUPTION_DELAY_MINUTES = 180
    flight = flight_in(30)
    english = ticketed_booking(flight=flight, passengers=[{"family_name": "Ng"}])
    chinese = ticketed_booking(flight=flight, language="zh-hans", passengers=[{"family_name": "Li"}])

    # when an agent working in English reports a long delay
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        services.flight_status_update(
            flight=flight, by=agent, estimated_departure=flight.scheduled_departure + timedelta(hours=4)
        )

    # then each e-mail names the cities in its reader's language
    bodies = {m.to[0]: read(m)["text/plain"] for m in mail.outbox}
    origin, destination = flight.origin, flight.destination
    assert origin.label("en") in bodies[english.contact_email] and destination.label("en") in bodies[english.contact_email]
    assert origin.label("zh-hans") in bodies[chinese.contact_email]
    assert destination.label("zh-hans") in bodies[chinese.contact_email]
    assert origin.city_zh and origin.city not in bodies[chinese.contact_email]
