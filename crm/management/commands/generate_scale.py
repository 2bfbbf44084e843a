"""Bulk customers for load and search benchmarks: `generate_scale --customers 1000000`.

Rows stream into PostgreSQL with COPY in batches. Faker per row would take hours at this size, so
names, streets and cities are drawn from pools Faker fills once per market and combined at random.
Passport numbers are encrypted with the model field itself and hashed with the same keyed hash the
search uses, so exact passport lookups work on generated data too.
"""

from __future__ import annotations

import io
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import phonenumbers
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max
from tqdm import tqdm

from crm.management.commands._people import (
    MAIL_DOMAINS,
    MARKET_WEIGHTS,
    MARKETS,
    Market,
    airport_city,
    ascii_slug,
    faker_for,
    international_airports,
    passport_number,
    person_name,
    phone_number,
)
from crm.models import CUSTOMER_NUMBER_ALPHABET, CUSTOMER_NUMBER_LENGTH, Customer, MealCode, TravelPurpose
from crm.selectors import identity_hash

COLUMNS = (
    "customer_number", "title", "given_name", "family_name", "gender", "date_of_birth", "email", "phone",
    "nationality", "preferred_language", "address_line1", "address_line2", "city", "region", "postal_code",
    "country", "national_id_number", "national_id_hash", "passport_number", "passport_hash", "passport_expiry",
    "passport_country", "meal_preference", "seat_preference", "special_assistance", "preferred_cabin",
    "home_airport", "travel_purposes", "emergency_contact_name", "emergency_contact_phone",
    "emergency_contact_relationship", "created_at", "updated_at",
)  # fmt: skip
NULL = r"\N"
MEALS = [MealCode.VGML, MealCode.VLML, MealCode.KSML, MealCode.MOML, MealCode.DBML, MealCode.GFML, MealCode.HNML, MealCode.AVML]
PURPOSES = [TravelPurpose.LEISURE, TravelPurpose.BUSINESS, TravelPurpose.VFR, TravelPurpose.EDUCATION]
PURPOSE_WEIGHTS = [45, 30, 20, 5]
CABINS = ["economy", "premium_economy", "business", "first", ""]
CABIN_WEIGHTS = [55, 15, 15, 3, 12]
SEATS = ["window", "aisle", "none"]
SEAT_WEIGHTS = [45, 35, 20]


def _escape(value: str) -> str:
    """COPY text format: backslash, tab and newlines must be escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


@dataclass
class Pool:
    """What one market's customers are made of."""

    market: Market
    female: list[tuple[str, str]] = field(default_factory=list)  # (name, ascii slug)
    male: list[tuple[str, str]] = field(default_factory=list)
    family: list[tuple[str, str]] = field(default_factory=list)
    streets: list[str] = field(default_factory=list)
    places: list[tuple[str, str]] = field(default_factory=list)  # (city, postal code)
    airports: tuple[str, ...] = ()
    phone_prefix: str = ""  # "+44740" + free digits, when every completion is a valid number
    phone_free_digits: int = 0


def _unique(generate, count: int, attempts: int) -> list[str]:  # noqa: ANN001
    seen: dict[str, None] = {}
    for _ in range(attempts):
        seen.setdefault(generate(), None)
        if len(seen) >= count:
            break
    return list(seen)


def build_pool(market: Market, rng: random.Random, size: int) -> Pool:
    fake = faker_for(market.locale)
    fake.seed_instance(rng.getrandbits(32))
    pool = Pool(market=market, airports=international_airports().get(market.country) or international_airports()["GB"])
    if market.romanized:
        for gender, names in (("F", pool.female), ("M", pool.male)):
            names.extend((n, ascii_slug(n)) for n in _unique(lambda g=gender: person_name(fake, market, g)[0], size, size * 4))
        pool.family = [(n, ascii_slug(n)) for n in _unique(fake.last_romanized_name, size, size * 4)]
    else:
        pool.female = [(n, ascii_slug(n)) for n in _unique(fake.first_name_female, size, size * 4)]
        pool.male = [(n, ascii_slug(n)) for n in _unique(fake.first_name_male, size, size * 4)]
        pool.family = [(n, ascii_slug(n)) for n in _unique(fake.last_name, size * 2, size * 8)]
    pool.streets = [_escape(fake.street_address().replace("\n", ", ")[:200]) for _ in range(size)]
    # Cities of the market's airports, in English like the airport data, so none is in a script the page is not in.
    cities = sorted({airport_city(code) for code in pool.airports} - {""}) or [fake.city()]
    pool.places = [(_escape(rng.choice(cities)[:100]), _escape(fake.postcode()[:20])) for _ in range(size)]
    # Phones: keep the example mobile number's leading digits when every completion of the rest is valid.
    sample = phone_number(rng, market.country)
    parsed = phonenumbers.parse(sample)
    national = str(phonenumbers.national_significant_number(parsed))
    free = min(6, len(national) - 2)
    prefix = f"+{parsed.country_code}{national[: len(national) - free]}"
    trials = (prefix + "".join(rng.choice("0123456789") for _ in range(free)) for _ in range(300))
    if all(phonenumbers.is_valid_number(phonenumbers.parse(t)) for t in trials):
        pool.phone_prefix, pool.phone_free_digits = prefix, free
    return pool


class Command(BaseCommand):
    help = "Bulk-generate N realistic customers with PostgreSQL COPY (for benchmarks), then ANALYZE."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--customers", type=int, required=True, help="how many customers to add")
        parser.add_argument("--batch-size", type=int, default=50_000, help="rows per COPY (default 50000)")
        parser.add_argument("--passport-share", type=float, default=0.35, help="share of customers with a passport on file")
        parser.add_argument("--seed", type=int, default=None, help="random seed for a repeatable data set")
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="keep secondary indexes during the load (by default large loads drop and rebuild them, which is faster)",
        )

    def handle(self, *args, **options) -> None:
        total = options["customers"]
        batch_size = options["batch_size"]
        if total <= 0:
            raise CommandError("--customers must be a positive number.")
        if batch_size <= 0:
            raise CommandError("--batch-size must be a positive number.")
        if not 0 <= options["passport_share"] <= 1:
            raise CommandError("--passport-share is a fraction between 0 and 1.")
        rng = random.Random(options["seed"])
        started = time.monotonic()
        pool_size = 400 if total < 20_000 else 1500
        pools = [build_pool(market, rng, pool_size) for market in MARKETS]
        existing = Customer.objects.count()
        # E-mails carry a serial so that each is unique; start past every id ever used.
        serial_base = (Customer.objects.aggregate(last=Max("id"))["last"] or 0) + 1
        taken = set(Customer.objects.values_list("customer_number", flat=True).iterator(chunk_size=50_000)) if existing else set()
        rebuild = not options["keep_indexes"] and total >= 100_000 and total >= existing
        dropped = self._drop_secondary_indexes() if rebuild else []
        passport_field = Customer._meta.get_field("passport_number")
        try:
            with tqdm(total=total, unit="customers", unit_scale=True, disable=options["verbosity"] == 0) as progress:
                done = 0
                while done < total:
                    n = min(batch_size, total - done)
                    buffer = self._batch(
                        rng, pools, n, serial=serial_base + done, taken=taken, passport_field=passport_field, options=options
                    )
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.cursor.copy_expert(f"COPY crm_customer ({', '.join(COLUMNS)}) FROM STDIN", buffer)
                    done += n
                    progress.update(n)
        finally:
            if dropped:
                self._recreate_indexes(dropped)
        with connection.cursor() as cursor:
            # The name-word dictionary is filled by triggers during the COPY: without fresh statistics the
            # planner scans it whole for every name search.
            cursor.execute("ANALYZE crm_customer")
            cursor.execute("ANALYZE crm_nameword")
        if options["verbosity"]:
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"Added {total:,} customers in {elapsed:.0f} s ({total / max(elapsed, 0.001):,.0f}/s); "
                f"{Customer.objects.count():,} in all. Indexes {'rebuilt' if dropped else 'kept'}; table analysed."
            )

    def _batch(self, rng, pools, n, *, serial, taken, passport_field, options) -> io.StringIO:  # noqa: ANN001
        now = datetime.now(UTC)
        today = date.today()
        passport_share = options["passport_share"]
        weights = MARKET_WEIGHTS
        rows = []
        choices, random_, randint = rng.choices, rng.random, rng.randint
        for i in range(n):
            pool = choices(pools, weights=weights)[0]
            market = pool.market
            gender = "F" if random_() < 0.5 else "M"
            given, given_slug = rng.choice(pool.female if gender == "F" else pool.male)
            family, family_slug = rng.choice(pool.family)
            while True:
                number = "".join(choices(CUSTOMER_NUMBER_ALPHABET, k=CUSTOMER_NUMBER_LENGTH))
                if number not in taken:
                    taken.add(number)
                    break
            title = "MR" if gender == "M" else ("MS" if random_() < 0.6 else "MRS")
            born = today - timedelta(days=randint(18 * 365, 85 * 365))
            email = f"{given_slug}.{family_slug}.{serial + i:x}@{MAIL_DOMAINS[i % len(MAIL_DOMAINS)]}"
            if pool.phone_prefix:
                phone = pool.phone_prefix + str(randint(0, 10**pool.phone_free_digits - 1)).zfill(pool.phone_free_digits)
            else:
                phone = phone_number(rng, market.country)
            city, postcode = rng.choice(pool.places)
            if random_() < passport_share:
                passport = passport_number(rng, market.country)
                passport_cipher = passport_field.get_prep_value(passport)
                passport_digest = identity_hash(passport)
                passport_expiry = (today + timedelta(days=randint(-90, 3650))).isoformat()
                passport_country = market.country
            else:
                passport_cipher, passport_digest, passport_expiry, passport_country = NULL, "", NULL, ""
            meal = rng.choice(MEALS) if random_() < 0.2 else ""
            assistance = "{WCHR}" if random_() < 0.02 else "{}"
            purposes = "{" + ",".join(sorted(set(choices(PURPOSES, weights=PURPOSE_WEIGHTS, k=randint(1, 2))))) + "}"
            joined = (now - timedelta(seconds=randint(0, 8 * 365 * 86400))).isoformat()
            rows.append(
                "\t".join(
                    (
                        number, title, _escape(given), _escape(family), gender, born.isoformat(), email, phone,
                        market.country, market.language, rng.choice(pool.streets), "", city, "", postcode,
                        market.country, NULL, "", passport_cipher, passport_digest, passport_expiry,
                        passport_country, meal, choices(SEATS, weights=SEAT_WEIGHTS)[0], assistance,
                        choices(CABINS, weights=CABIN_WEIGHTS)[0], rng.choice(pool.airports), purposes, "", "", "",
                        joined, joined,
                    )
                )
            )  # fmt: skip
        return io.StringIO("\n".join(rows) + "\n")

    @staticmethod
    def _drop_secondary_indexes() -> list[tuple[str, str]]:
        """Non-unique indexes of crm_customer: cheaper to build once after the load than row by row."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT c.relname, pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = 'crm_customer'::regclass AND NOT i.indisunique AND NOT i.indisprimary
                """
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        return indexes

    def _recreate_indexes(self, indexes: list[tuple[str, str]]) -> None:
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
        self.stdout.write(f"Rebuilt {len(indexes)} indexes in {time.monotonic() - started:.0f} s.")
