"""IATA Bar Coded Boarding Pass (Resolution 792), format "M", and its PDF417 rendering.

Pure functions: no database, no Django. Field lengths and their order follow the published item list
(item numbers in the comments), so that any airport gate reader or airline app can decode our passes.

Layout of the string (version 6 onwards):

    M | legs | name(20) | E                                  mandatory unique items
    per leg: PNR(7) from(3) to(3) carrier(3) flight(5) date(3) compartment(1) seat(4) sequence(5)
             status(1) size-of-variable-field(2, hex)          mandatory repeated items
    first leg only: '>' version(1) size(2, hex) + unique conditional items
    every leg: size(2, hex) + repeated conditional items, then airline individual use
    optionally '^' type(1) size(2, hex) security data
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pdf417gen

FORMAT_CODE = "M"
VERSION = "6"
VERSION_MARKER = ">"
SECURITY_MARKER = "^"
MAX_LEGS = 4
NAME_LENGTH = 20

# Item 15: passenger description.
ADULT, MALE, FEMALE, CHILD, INFANT, CABIN_BAGGAGE, ADULT_WITH_INFANT, UNACCOMPANIED_MINOR = "01234567"
# Items 12 and 14: where the passenger checked in and where the pass was issued.
SOURCE_WEB, SOURCE_KIOSK, SOURCE_REMOTE_KIOSK, SOURCE_MOBILE, SOURCE_AIRPORT_AGENT, SOURCE_TOWN_AGENT, SOURCE_VENDOR = (
    "W", "K", "R", "M", "O", "T", "V",
)  # fmt: skip
# Item 113: passenger status.
STATUS_CHECKED_IN = "1"
STATUS_BAGS_CHECKED_IN = "3"
# Item 16: document type.
DOCUMENT_TYPE_BOARDING = "B"

_AIRPORT = re.compile(r"^[A-Z]{3}$")
_CARRIER = re.compile(r"^[A-Z0-9]{2,3}$")
_SEAT = re.compile(r"^(\d{1,3})([A-Z])$")
_PRINTABLE = re.compile(r"^[ -~]*$")


class EncodingError(ValueError):
    """The data cannot be represented in a Resolution 792 field."""


@dataclass(frozen=True)
class Leg:
    """One flight on the pass: the mandatory repeated items and the conditional ones we issue."""

    record_locator: str  # item 7, operating carrier PNR code
    origin: str  # item 26
    destination: str  # item 38
    carrier: str  # item 42, operating carrier designator
    flight_number: int  # item 43 (with ``flight_suffix``)
    flight_date: date  # item 46, as day of the year
    compartment: str  # item 71
    seat: str  # item 104, "12A"; "INF" for a lap infant; "" when not yet allocated
    sequence: int | None  # item 107, check-in sequence number
    passenger_status: str = STATUS_CHECKED_IN  # item 113
    flight_suffix: str = " "
    airline_numeric_code: str = ""  # item 142, first 3 digits of the ticket number
    document_serial: str = ""  # item 143, last 10 digits of the ticket number
    selectee: str = " "  # item 18
    documentation_verification: str = " "  # item 108: 0 not required, 1 required, 2 performed
    marketing_carrier: str = ""  # item 19
    frequent_flyer_carrier: str = ""  # item 20
    frequent_flyer_number: str = ""  # item 236
    id_ad: str = " "  # item 89
    free_baggage: str = ""  # item 118, e.g. "1PC", "20K"
    fast_track: str = " "  # item 254: Y, N or blank
    airline_data: str = ""  # item 4, for individual airline use

    @classmethod
    def ticket_fields(cls, ticket_number: str) -> dict[str, str]:
        """Items 142 and 143 from a 13-digit e-ticket number."""
        if not re.fullmatch(r"\d{13}", ticket_number or ""):
            raise EncodingError(f"A ticket number has 13 digits, not {ticket_number!r}.")
        return {"airline_numeric_code": ticket_number[:3], "document_serial": ticket_number[3:]}


def _field(value: str, length: int, item: str) -> str:
    """Left-justified, space-filled; longer values and non-printable characters are refused."""
    value = value or ""
    if len(value) > length:
        raise EncodingError(f"{item}: {value!r} is longer than {length} characters.")
    if not _PRINTABLE.match(value):
        raise EncodingError(f"{item}: {value!r} has characters outside printable ASCII.")
    return value.ljust(length)


def _free(value: str, item: str) -> str:
    """A variable-length item: printable ASCII, no padding, at most 255 characters."""
    value = value or ""
    if len(value) > 0xFF or not _PRINTABLE.match(value):
        raise EncodingError(f"{item}: {value!r} is not up to 255 printable ASCII characters.")
    return value


def _flag(value: str, item: str) -> str:
    return _field(value or " ", 1, item)


def _hex_size(section: str, item: str) -> str:
    if len(section) > 0xFF:
        raise EncodingError(f"{item}: section of {len(section)} characters does not fit two hex digits.")
    return f"{len(section):02X}"


def _name_part(text: str) -> str:
    """Upper-case Latin letters and spaces only: accents dropped, hyphens and apostrophes removed."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii").upper()
    return " ".join(re.sub(r"[^A-Z ]", "", plain).split())


def passenger_name(*, family_name: str, given_name: str) -> str:
    """Item 11: "FAMILY/GIVEN" in 20 characters; the given name is shortened first, then the family name."""
    family, given = _name_part(family_name), _name_part(given_name)
    if not family:
        # A name written only in non-Latin script: the gate matches the pass against the document instead.
        family, given = given or "PASSENGER", ""
    room_for_given = NAME_LENGTH - len(family) - 1
    if room_for_given < 1:
        family, given = family[: NAME_LENGTH - 2], given[:1]
    else:
        given = given[:room_for_given]
    return f"{family}/{given}".strip().ljust(NAME_LENGTH)[:NAME_LENGTH]


def julian_day(day: date) -> str:
    """Items 46: day of the year, 001-366."""
    return f"{day.timetuple().tm_yday:03d}"


def issue_date(day: date) -> str:
    """Item 22: last digit of the year and the day of the year."""
    return f"{day.year % 10}{julian_day(day)}"


def flight_number(number: int, suffix: str = " ") -> str:
    """Item 43: four digits with leading zeros and the operational suffix (blank when none)."""
    if not 1 <= int(number) <= 9999:
        raise EncodingError(f"Flight number {number!r} is not 1-9999.")
    return f"{int(number):04d}{_flag(suffix, 'operational suffix')}"


def seat_number(seat: str) -> str:
    """Item 104: "012A"; lap infants carry "INF"; blank until a seat is allocated."""
    seat = (seat or "").strip().upper()
    if not seat:
        return " " * 4
    if seat == "INF":
        return "INF "
    match = _SEAT.match(seat)
    if not match:
        raise EncodingError(f"Seat {seat!r} is not a row number and a letter.")
    return f"{int(match.group(1)):03d}{match.group(2)}"


def sequence_number(sequence: int | None) -> str:
    """Item 107: four digits and a blank; blank when no number was issued."""
    if sequence is None:
        return " " * 5
    if not 0 <= int(sequence) <= 9999:
        raise EncodingError(f"Check-in sequence {sequence!r} is not 0-9999.")
    return f"{int(sequence):04d} "


def free_baggage_allowance(*, pieces: int = 0, kg: int = 0) -> str:
    """Item 118: "2PC" for a piece allowance, "20K" for a weight allowance."""
    if pieces:
        return f"{pieces}PC" if pieces <= 9 else ""
    if kg:
        return f"{kg:02d}K" if kg <= 99 else ""
    return "0PC"


def _mandatory_leg(leg: Leg) -> str:
    if not _AIRPORT.match(leg.origin or "") or not _AIRPORT.match(leg.destination or ""):
        raise EncodingError("Airports are three-letter IATA codes.")
    if not _CARRIER.match(leg.carrier or ""):
        raise EncodingError(f"Carrier {leg.carrier!r} is not a two- or three-character designator.")
    return "".join(
        [
            _field(leg.record_locator.upper(), 7, "PNR code"),  # item 7
            leg.origin,  # item 26
            leg.destination,  # item 38
            _field(leg.carrier, 3, "operating carrier"),  # item 42
            flight_number(leg.flight_number, leg.flight_suffix),  # item 43
            julian_day(leg.flight_date),  # item 46
            _flag(leg.compartment, "compartment code"),  # item 71
            seat_number(leg.seat),  # item 104
            sequence_number(leg.sequence),  # item 107
            _flag(leg.passenger_status, "passenger status"),  # item 113
        ]
    )


def _repeated_conditional(leg: Leg) -> str:
    body = "".join(
        [
            _field(leg.airline_numeric_code, 3, "airline numeric code"),  # item 142
            _field(leg.document_serial, 10, "document serial number"),  # item 143
            _flag(leg.selectee, "selectee indicator"),  # item 18
            _flag(leg.documentation_verification, "international documentation verification"),  # item 108
            _field(leg.marketing_carrier, 3, "marketing carrier"),  # item 19
            _field(leg.frequent_flyer_carrier, 3, "frequent flyer airline"),  # item 20
            _field(leg.frequent_flyer_number, 16, "frequent flyer number"),  # item 236
            _flag(leg.id_ad, "ID/AD indicator"),  # item 89
            _field(leg.free_baggage, 3, "free baggage allowance"),  # item 118
            _flag(leg.fast_track, "fast track"),  # item 254
        ]
    )
    return _hex_size(body, "repeated conditional items") + body  # item 17


def _unique_conditional(
    *,
    version: str,
    passenger_description: str,
    check_in_source: str,
    issuance_source: str,
    issued_on: date | None,
    document_type: str,
    issuer: str,
    baggage_tags: Sequence[str],
) -> str:
    if len(baggage_tags) > 3:
        raise EncodingError("At most three baggage tag ranges fit on a pass.")
    body = "".join(
        [
            _flag(passenger_description, "passenger description"),  # item 15
            _flag(check_in_source, "source of check-in"),  # item 12
            _flag(issuance_source, "source of boarding pass issuance"),  # item 14
            issue_date(issued_on) if issued_on else " " * 4,  # item 22
            _flag(document_type, "document type"),  # item 16
            _field(issuer, 3, "boarding pass issuer"),  # item 21
            *(_field(tag, 13, "baggage tag licence plate") for tag in baggage_tags),  # items 23, 31, 32
        ]
    )
    return VERSION_MARKER + _flag(version, "version") + _hex_size(body, "unique conditional items") + body  # items 8-10


def encode(
    *,
    family_name: str,
    given_name: str,
    legs: Sequence[Leg],
    electronic_ticket: bool = True,
    passenger_description: str = ADULT,
    check_in_source: str = SOURCE_WEB,
    issuance_source: str = SOURCE_WEB,
    issued_on: date | None = None,
    document_type: str = DOCUMENT_TYPE_BOARDING,
    issuer: str = "",
    baggage_tags: Sequence[str] = (),
    version: str = VERSION,
    security_type: str = "",
    security_data: str = "",
) -> str:
    """The boarding pass barcode data, one to four legs, exactly as Resolution 792 lays it out."""
    if not 1 <= len(legs) <= MAX_LEGS:
        raise EncodingError(f"A pass carries 1 to {MAX_LEGS} legs, not {len(legs)}.")
    parts = [
        FORMAT_CODE,  # item 1
        str(len(legs)),  # item 5
        passenger_name(family_name=family_name, given_name=given_name),  # item 11
        "E" if electronic_ticket else " ",  # item 253
    ]
    for index, leg in enumerate(legs):
        variable = ""
        if index == 0:
            variable += _unique_conditional(
                version=version,
                passenger_description=passenger_description,
                check_in_source=check_in_source,
                issuance_source=issuance_source,
                issued_on=issued_on,
                document_type=document_type,
                issuer=issuer,
                baggage_tags=baggage_tags,
            )
        variable += _repeated_conditional(leg) + _free(leg.airline_data, "airline individual use")
        parts += [_mandatory_leg(leg), _hex_size(variable, "variable size field"), variable]  # item 6
    if security_data:
        parts += [
            SECURITY_MARKER,  # item 25
            _flag(security_type, "type of security data"),  # item 28
            _hex_size(security_data, "security data"),  # item 29
            _free(security_data, "security data"),  # item 30
        ]
    return "".join(parts)


def pdf417_png(data: str, *, scale: int = 2) -> bytes:
    """The barcode as a PNG image: PDF417 with a high error-correction level, as gate readers expect."""
    codes = pdf417gen.encode(data, columns=8, security_level=5, encoding="ascii")
    image = pdf417gen.render_image(codes, scale=scale, ratio=3, padding=scale * 10)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
