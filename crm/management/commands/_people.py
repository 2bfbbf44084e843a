"""Realistic passengers for demo and scale data: names from many locales, real phones and airports."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import phonenumbers
from faker import Faker


@dataclass(frozen=True)
class Market:
    """One country the airline sells in: where names, phones, addresses and home airports come from."""

    locale: str
    country: str
    language: str
    weight: int
    romanized: bool = False  # passport names in Latin letters (the Faker locale writes them in its own script)


MARKETS = (
    Market("en_GB", "GB", "en", 18),
    Market("en_US", "US", "en", 16),
    Market("zh_CN", "CN", "zh-hans", 14, romanized=True),
    Market("de_DE", "DE", "de", 9),
    Market("fr_FR", "FR", "fr", 8),
    Market("ja_JP", "JP", "ja", 7, romanized=True),
    Market("es_ES", "ES", "es", 6),
    Market("it_IT", "IT", "it", 5),
    Market("en_IN", "IN", "en", 5),
    Market("pt_BR", "BR", "pt", 4),
    Market("nl_NL", "NL", "nl", 3),
    Market("en_AU", "AU", "en", 3),
    Market("sv_SE", "SE", "sv", 1),
    Market("pl_PL", "PL", "pl", 1),
)
MARKET_WEIGHTS = [m.weight for m in MARKETS]

# Reserved for documentation (RFC 2606): demo and scale e-mails can never reach a real inbox.
MAIL_DOMAINS = ("mail.example", "inbox.example", "post.example", "webmail.example", "netmail.example")


def pick_market(rng: random.Random) -> Market:
    return rng.choices(MARKETS, weights=MARKET_WEIGHTS)[0]


@cache
def faker_for(locale: str) -> Faker:
    return Faker(locale)


def ascii_slug(text: str) -> str:
    """'Zoë Müller-Lüdenscheidt' -> 'zoe.muller-ludenscheidt' (for e-mail local parts)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9-]+", ".", plain).strip(".") or "traveller"


# Faker's romanized Chinese given names (the most common ones) carry no gender; Wikipedia's list of
# common Chinese names says which each usually is. A name missing here is given to either.
ROMANIZED_GIVEN_NAME_GENDER = {
    "Chao": "M", "Gang": "M", "Jie": "M", "Jun": "M", "Lei": "M", "Ming": "M", "Qiang": "M", "Tao": "M",
    "Wei": "M", "Yong": "M", "Fang": "F", "Guiying": "F", "Jing": "F", "Juan": "F", "Li": "F", "Min": "F",
    "Na": "F", "Xia": "F", "Xiulan": "F", "Xiuying": "F", "Yan": "F",
}  # fmt: skip
GENDER_WEIGHTS = {"F": 49, "M": 49, "X": 2}
TITLES = {"F": ("MS", "MRS", "MISS"), "M": ("MR",), "X": ("MX",)}


@dataclass(frozen=True)
class Person:
    """A passenger's name, title and gender, drawn together so that they agree."""

    title: str
    given_name: str
    family_name: str
    gender: str


def person_name(fake: Faker, market: Market, gender: str) -> tuple[str, str]:
    """A given and family name of the market for this gender ("F", "M" or "X": either)."""
    if market.romanized:
        gendered = {"F": "first_romanized_name_female", "M": "first_romanized_name_male"}.get(gender)
        if gendered and hasattr(fake, gendered):
            return getattr(fake, gendered)(), fake.last_romanized_name()
        given = fake.first_romanized_name()
        for _attempt in range(50):
            if gender not in ("F", "M") or ROMANIZED_GIVEN_NAME_GENDER.get(given, gender) == gender:
                break
            given = fake.first_romanized_name()
        return given, fake.last_romanized_name()
    if gender == "F":
        return fake.first_name_female(), fake.last_name()
    if gender == "M":
        return fake.first_name_male(), fake.last_name()
    return fake.first_name(), fake.last_name()


def person(fake: Faker, market: Market, rng: random.Random, *, gender: str = "") -> Person:
    """Gender first, then a name and a title that go with it (a few doctors and professors of either)."""
    gender = gender or rng.choices(list(GENDER_WEIGHTS), weights=list(GENDER_WEIGHTS.values()))[0]
    given_name, family_name = person_name(fake, market, gender)
    title = rng.choice(["DR", "PROF"]) if rng.random() < 0.04 else rng.choice(TITLES[gender])
    return Person(title=title, given_name=given_name, family_name=family_name, gender=gender)


@cache
def _phone_template(country: str, mobile: bool) -> phonenumbers.PhoneNumber | None:
    kind = phonenumbers.PhoneNumberType.MOBILE if mobile else phonenumbers.PhoneNumberType.FIXED_LINE
    return phonenumbers.example_number_for_type(country, kind) or phonenumbers.example_number(country)


def phone_number(rng: random.Random, country: str, *, mobile: bool = True) -> str:
    """A valid E.164 number of the country's own numbering plan (the example number with new last digits)."""
    template = _phone_template(country, mobile)
    if template is None:
        return ""
    national = str(phonenumbers.national_significant_number(template))
    keep = max(2, len(national) - 6)
    for _attempt in range(30):
        digits = national[:keep] + "".join(rng.choice("0123456789") for _ in range(len(national) - keep))
        candidate = phonenumbers.parse(f"+{template.country_code}{digits}")
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(template, phonenumbers.PhoneNumberFormat.E164)


NOT_PASSENGER_AIRPORTS = re.compile(
    r"heliport|air ?base|\bRAF\b|airfield|seaplane|station|military|naval|army|\bbus\b|railway", re.I
)


@cache
def international_airports() -> dict[str, tuple[str, ...]]:
    """Each country's big passenger airports, from maintained data only (no hand-typed list).

    airportsdata (IATA codes) has no size field, so "big" means: named an international airport, or
    serving a city that names an IANA time zone (London, Stockholm, Sao Paulo...), which only large
    cities do.
    """
    import zoneinfo

    import airportsdata

    zone_cities = {zone.rsplit("/", 1)[-1].replace("_", " ") for zone in zoneinfo.available_timezones() if "/" in zone}
    by_country: dict[str, set[str]] = {}
    for code, airport in airportsdata.load("IATA").items():
        name = airport["name"]
        if len(airport["icao"]) != 4 or NOT_PASSENGER_AIRPORTS.search(name):
            continue
        if "International" in name or "Intl" in name or airport["city"] in zone_cities:
            by_country.setdefault(airport["country"], set()).add(code)
    return {country: tuple(sorted(codes)) for country, codes in by_country.items()}


def home_airport(rng: random.Random, country: str) -> str:
    airports = international_airports()
    return rng.choice(airports.get(country) or airports["GB"])


@cache
def _airport_cities() -> dict[str, str]:
    import airportsdata

    return {code: airport["city"] for code, airport in airportsdata.load("IATA").items()}


def airport_city(code: str) -> str:
    """The city an airport serves, in English as the airport data writes it ("Munich", "Beijing"), so a
    Chinese or Japanese address does not show its city in a script the page is not written in."""
    return _airport_cities().get(code, "")


def passport_number(rng: random.Random, country: str) -> str:
    """Plausible machine-readable passport numbers (formats vary by issuing country)."""
    digits = "0123456789"
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    if country in ("GB", "US", "AU", "IN"):
        return "".join(rng.choice(digits) for _ in range(9))
    if country == "CN":
        return "E" + "".join(rng.choice(digits) for _ in range(8))
    if country == "JP":
        return "".join(rng.choice(letters) for _ in range(2)) + "".join(rng.choice(digits) for _ in range(7))
    return "".join(rng.choice(letters + digits) for _ in range(9))
