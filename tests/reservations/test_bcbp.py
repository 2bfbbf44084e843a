"""The boarding pass barcode: IATA Resolution 792 format "M", field by field, and its PDF417 image.

Positions below are 0-based slices of the string; the comments give the Resolution's item numbers and
field lengths (mandatory items 1, 5, 11, 253, then per leg 7, 26, 38, 42, 43, 46, 71, 104, 107, 113, 6).
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image

from reservations import bcbp, boarding, selectors, services
from reservations.models import Channel, PassengerType
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory, RouteFactory, airport

# The two-leg example of the IATA BCBP implementation guide (version 6), security data included.
IATA_EXAMPLE = (
    "M2DESMARAIS/LUC       EABC123 YULFRAAC 0834 226F001A0025 14D>6181WW6225BAC 00141234560032A0141234567890 1AC AC "
    "1234567890123    20KYLX58ZDEF456 FRAGVALH 3664 227C012C0002 12E2A0140987654321 1AC AC 1234567890123    2PCNWQ^164"
    "GIWVC5EH7JNT684FVNJ91W2QA4DVN5J8K4F0L0GEQ3DF5TGBN8709HKT5D3DW3GBHFCVHMY7J5T6HFR41W2QA4DVN5J8K4F0L0GE"
)


def decode_png(png: bytes) -> list[str]:
    """What a barcode reader at the gate reads from the image."""
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_the_published_two_leg_example_is_reproduced_character_for_character():
    # Given the data of the implementation guide's example pass
    common = {
        "documentation_verification": "1",
        "marketing_carrier": "AC",
        "frequent_flyer_carrier": "AC",
        "frequent_flyer_number": "1234567890123",
    }
    legs = [
        bcbp.Leg(
            record_locator="ABC123", origin="YUL", destination="FRA", carrier="AC", flight_number=834,
            flight_date=date(2016, 8, 13), compartment="F", seat="1A", sequence=25,
            **bcbp.Leg.ticket_fields("0141234567890"), free_baggage="20K", fast_track="Y", airline_data="LX58Z", **common,
        ),
        bcbp.Leg(
            record_locator="DEF456", origin="FRA", destination="GVA", carrier="LH", flight_number=3664,
            flight_date=date(2016, 8, 14), compartment="C", seat="12C", sequence=2,
            **bcbp.Leg.ticket_fields("0140987654321"), free_baggage="2PC", fast_track="N", airline_data="WQ", **common,
        ),
    ]  # fmt: skip

    # When it is encoded
    data = bcbp.encode(
        family_name="Desmarais",
        given_name="Luc",
        legs=legs,
        passenger_description=bcbp.MALE,
        check_in_source=bcbp.SOURCE_WEB,
        issuance_source=bcbp.SOURCE_WEB,
        issued_on=date(2016, 8, 12),
        issuer="AC",
        baggage_tags=["0014123456003"],
        security_type="1",
        security_data=IATA_EXAMPLE.split("^164")[1],
    )

    # Then it is the published string
    assert data == IATA_EXAMPLE


@pytest.fixture
def boarding_data(db, django_capture_on_commit_callbacks):
    """A checked-in adult on AU0123 LHR-JFK, ticket 878..., seat 4C, with a frequent flyer number and a bag."""
    family = FareFamilyFactory(code="ECO_BCBP", baggage_pieces=1, baggage_kg=23)
    route = RouteFactory(origin=airport("LHR"), destination=airport("JFK"), distance_km=5540, block_minutes=480)
    flight = flight_in(5, route=route, flight_number=123)
    booking = ticketed_booking(
        flight=flight,
        booking_class=BookingClassFactory(code="B", fare_family=family),
        passengers=[{"given_name": "Zoë Anne", "family_name": "O'Brien-Smith", "frequent_flyer_number": "AU12345678"}],
    )
    segment = booking.segments.get()
    passenger = booking.passengers.get()
    check_in = services.check_in(
        booking=booking, segment=segment, passengers=[passenger], seats={passenger.pk: "4C"},
        bags={passenger.pk: [18]}, channel=Channel.PORTAL,
    )[0]  # fmt: skip
    return check_in, booking, flight


def test_each_mandatory_field_sits_at_its_published_position(boarding_data):
    # Given a checked-in passenger
    check_in, booking, flight = boarding_data
    ticket = check_in.coupon.ticket.number

    # When their boarding pass is built
    data = selectors.boarding_pass(check_in=check_in).barcode

    # Then every mandatory item has its length and place
    assert data[0] == "M"  # item 1, format code
    assert data[1] == "1"  # item 5, number of legs encoded
    assert data[2:22] == "OBRIENSMITH/ZOE ANNE"  # item 11, passenger name (20)
    assert data[22] == "E"  # item 253, electronic ticket indicator
    assert data[23:30] == f"{booking.record_locator} "  # item 7, operating carrier PNR code (7)
    assert data[30:33] == "LHR"  # item 26, from city airport code
    assert data[33:36] == "JFK"  # item 38, to city airport code
    assert data[36:39] == "AU "  # item 42, operating carrier designator (3)
    assert data[39:44] == "0123 "  # item 43, flight number: 4 digits, leading zeros, suffix blank
    assert data[44:47] == f"{flight.service_date.timetuple().tm_yday:03d}"  # item 46, Julian date of flight
    assert data[47] == "Y"  # item 71, compartment code
    assert data[48:52] == "004C"  # item 104, seat number: 3 digits and the letter
    assert data[52:57] == f"{check_in.sequence_number:04d} "  # item 107, check-in sequence number
    assert data[57] == "3"  # item 113, passenger status: bags checked, passenger checked in
    variable_size = int(data[58:60], 16)  # item 6, field size of the variable size field (hex)
    assert len(data) == 60 + variable_size

    # And the conditional items follow in order
    assert data[60] == ">"  # item 8, beginning of version number
    assert data[61] == "6"  # item 9, version number
    unique_size = int(data[62:64], 16)  # item 10, size of the unique conditional items
    unique = data[64 : 64 + unique_size]
    assert unique[0] == "0"  # item 15, passenger description: adult
    assert unique[1] == "W"  # item 12, source of check-in: web
    assert unique[2] == "W"  # item 14, source of boarding pass issuance
    issued = check_in.checked_in_at.astimezone(ZoneInfo("Europe/London")).date()
    assert unique[3:7] == f"{issued.year % 10}{issued.timetuple().tm_yday:03d}"  # item 22, date of issue
    assert unique[7] == "B"  # item 16, document type: boarding pass
    assert unique[8:11] == "AU "  # item 21, airline designator of the issuer
    rest = data[64 + unique_size :]
    repeated_size = int(rest[0:2], 16)  # item 17, size of the repeated conditional items
    assert repeated_size == 42
    repeated = rest[2 : 2 + repeated_size]
    assert repeated[0:3] == ticket[:3]  # item 142, airline numeric code
    assert repeated[3:13] == ticket[3:]  # item 143, document form / serial number
    assert repeated[13] == "0"  # item 18, selectee indicator
    assert repeated[14] == "1"  # item 108, international documentation verification: required (GB to US)
    assert repeated[15:18] == "AU "  # item 19, marketing carrier designator
    assert repeated[18:21] == "AU "  # item 20, frequent flyer airline designator
    assert repeated[21:37] == "AU12345678      "  # item 236, frequent flyer number (16)
    assert repeated[37] == " "  # item 89, ID/AD indicator
    assert repeated[38:41] == "1PC"  # item 118, free baggage allowance
    assert repeated[41] == "N"  # item 254, fast track


def test_boarding_pass_times_are_the_departure_airports_clock_and_boarding_starts_40_minutes_before(boarding_data):
    # Given a checked-in passenger on a flight from London
    check_in, _booking, flight = boarding_data

    # When the boarding pass is built
    bp = selectors.boarding_pass(check_in=check_in)

    # Then departure and boarding are London times, boarding 40 minutes earlier, and the seat and zone are printed
    assert bp.departure.utcoffset() == flight.scheduled_departure.astimezone(ZoneInfo("Europe/London")).utcoffset()
    assert bp.departure == flight.scheduled_departure
    assert bp.boarding == bp.departure - timedelta(minutes=40)
    assert bp.arrival.tzinfo == ZoneInfo("America/New_York")
    assert bp.seat == "4C"
    assert bp.zone == 4
    assert bp.sequence == check_in.sequence_number


def test_the_pdf417_image_decodes_back_to_the_same_string(boarding_data):
    # Given the barcode string of a real boarding pass
    data = selectors.boarding_pass(check_in=boarding_data[0]).barcode

    # When it is drawn as PDF417 and read back by a barcode reader
    png = bcbp.pdf417_png(data)

    # Then the reader gets exactly the string, and it is a PDF417 symbol
    assert png.startswith(b"\x89PNG")
    assert decode_png(png) == [data]
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].format == zxingcpp.BarcodeFormat.PDF417


def test_the_boarding_pass_pdf_carries_the_barcode_image(boarding_data):
    # Given a checked-in passenger
    check_in = boarding_data[0]

    # When the printable PDF is made
    pdf = boarding.boarding_pass_pdf(check_in=check_in)

    # Then it is a one-page PDF with an embedded image
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Image" in pdf
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1


def test_an_infant_on_a_lap_gets_seat_inf_and_the_infant_passenger_description(db):
    # Given an adult with an infant on their lap, both checked in
    booking = ticketed_booking(
        passengers=[
            {"given_name": "Mary", "family_name": "Jones"},
            {"given_name": "Tom", "family_name": "Jones", "passenger_type": PassengerType.INFANT},
        ]
    )
    adult, infant = booking.passengers.order_by("sequence")
    rows = services.check_in(booking=booking, segment=booking.segments.get(), passengers=[adult], channel=Channel.AGENT)

    # When both boarding passes are built
    adult_bp, infant_bp = (selectors.boarding_pass(check_in=r) for r in rows)

    # Then the infant holds "INF" instead of a seat, and the descriptions say adult-with-infant and infant
    assert infant_bp.barcode[48:52] == "INF "
    assert infant_bp.barcode[64] == bcbp.INFANT
    assert adult_bp.barcode[64] == bcbp.ADULT_WITH_INFANT
    assert adult_bp.barcode[65] == bcbp.SOURCE_AIRPORT_AGENT
    assert adult_bp.lap_infant == "Tom Jones"
    assert infant_bp.travelling_with == "Mary Jones"


@pytest.mark.parametrize(
    ("family", "given", "expected"),
    [
        ("Desmarais", "Luc", "DESMARAIS/LUC       "),
        ("Müller-Lüdenscheidt", "Jürgen", "MULLERLUDENSCHEIDT/J"),
        ("Wolfeschlegelsteinhausen", "Hubert", "WOLFESCHLEGELSTEIN/H"),
        ("de la Cruz", "María José", "DE LA CRUZ/MARIA JOS"),
        ("王", "小明", "PASSENGER/          "),
    ],
)
def test_names_are_plain_upper_case_and_cut_to_twenty_characters_given_name_first(family, given, expected):
    # When a name is put on the pass
    name = bcbp.passenger_name(family_name=family, given_name=given)

    # Then it is 20 characters of A-Z, space and one slash, the given name shortened before the family name
    assert name == expected
    assert len(name) == 20


@pytest.mark.parametrize(
    ("number", "seat", "sequence", "flight", "seat_field", "sequence_field"),
    [
        (1, "1A", 1, "0001 ", "001A", "0001 "),
        (9999, "123K", 9999, "9999 ", "123K", "9999 "),
        (42, "", None, "0042 ", "    ", "     "),
    ],
)
def test_numbers_are_zero_padded_to_their_field_width(number, seat, sequence, flight, seat_field, sequence_field):
    # Given a leg at the edges of each numeric field
    leg = bcbp.Leg(
        record_locator="ABC123", origin="LHR", destination="CDG", carrier="AU", flight_number=number,
        flight_date=date(2025, 1, 1), compartment="Y", seat=seat, sequence=sequence,
    )  # fmt: skip

    # When it is encoded
    data = bcbp.encode(family_name="Test", given_name="Pat", legs=[leg])

    # Then the flight number, date, seat and sequence have their fixed widths
    assert data[39:44] == flight
    assert data[44:47] == "001"
    assert data[48:52] == seat_field
    assert data[52:57] == sequence_field


@pytest.mark.parametrize(
    "change",
    [
        {"seat": "A12"},
        {"origin": "LONDON"},
        {"flight_number": 10000},
        {"record_locator": "TOOLONGPNR"},
        {"sequence": 10000},
    ],
)
def test_values_that_do_not_fit_their_field_are_refused_rather_than_cut(change):
    # Given a leg with one value that cannot be represented
    fields = {
        "record_locator": "ABC123", "origin": "LHR", "destination": "CDG", "carrier": "AU", "flight_number": 1,
        "flight_date": date(2025, 6, 1), "compartment": "Y", "seat": "1A", "sequence": 1,
    }  # fmt: skip
    leg = bcbp.Leg(**{**fields, **change})

    # When it is encoded, then it is refused
    with pytest.raises(bcbp.EncodingError):
        bcbp.encode(family_name="Test", given_name="Pat", legs=[leg])


def test_the_julian_date_counts_the_leap_day():
    # Given the last day of a leap year and of a common year
    # Then they are day 366 and 365, and the issue date carries the last digit of the year
    assert bcbp.julian_day(date(2024, 12, 31)) == "366"
    assert bcbp.julian_day(date(2025, 12, 31)) == "365"
    assert bcbp.issue_date(datetime(2025, 2, 1).date()) == "5032"
