"""Demo data (seed_demo) and scale data (generate_scale)."""

import random
from collections import Counter
from io import StringIO

import airportsdata
import phonenumbers
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from crm import registry, selectors
from crm.management.commands._people import MARKETS, ROMANIZED_GIVEN_NAME_GENDER, airport_city, faker_for, person
from crm.models import CUSTOMER_NUMBER_ALPHABET, ConsentEvent, Customer, Lead, LeadNote, LeadStatus, TimelineEntry, User

DEMO_LOGINS = {
    "agent": "Agent",
    "supervisor": "Supervisor",
    "marketer": "Marketer",
    "analyst": "Analyst",
    "admin": "Administrator",
    "passenger@example.com": "Passenger",
}


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (User, Customer, ConsentEvent, TimelineEntry, Lead, LeadNote)}


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.exists()
    assert not Customer.objects.exists()


def test_seed_demo_twice_changes_nothing_the_second_time(seeded, settings):
    # given a database seeded once
    before = counts()

    # when the command runs again (every `make run` does)
    out = StringIO()
    call_command("seed_demo", stdout=out)

    # then nothing was added, and it says so
    assert counts() == before
    assert "nothing changed" in out.getvalue()
    assert before["Customer"] >= 200


def test_seed_demo_creates_the_demo_logins_in_their_roles(seeded, client):
    for username, role in DEMO_LOGINS.items():
        user = User.objects.get(username=username)
        assert user.check_password("airline-demo"), username
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.is_staff == (role != "Passenger")
    assert User.objects.get(username="admin").is_superuser
    passenger = User.objects.get(username="passenger@example.com")
    assert passenger.email_verified_at is not None
    assert passenger.customer.email == "passenger@example.com"
    # and they work at their own surfaces
    assert client.post("/office/login/", {"username": "agent", "password": "airline-demo"}).status_code == 302
    client.logout()
    assert client.post("/accounts/login/", {"username": "passenger@example.com", "password": "airline-demo"}).status_code == 302


def test_seed_demo_customers_look_like_real_passengers(seeded):
    customers = list(Customer.objects.all())
    airports = airportsdata.load("IATA")

    # names and nationalities from many markets
    assert len({c.nationality.code for c in customers}) >= 8
    assert len({c.family_name for c in customers}) >= 120
    # phones valid in their own numbering plan, in E.164
    for customer in customers:
        if customer.phone:
            assert phonenumbers.is_valid_number(customer.phone), customer.phone
            assert str(customer.phone).startswith("+")
    # home airports are real airports with IATA codes
    homes = [c.home_airport for c in customers if c.home_airport]
    assert len(homes) >= 200
    assert all(code in airports for code in homes)
    assert len(set(homes)) >= 30
    # preferences and documents, as agents would find them
    assert sum(1 for c in customers if c.meal_preference) >= 20
    assert sum(1 for c in customers if c.passport_hash) >= 100
    assert any(c.special_assistance for c in customers)
    assert Counter(c.seat_preference for c in customers).keys() >= {"window", "aisle"}
    # demo mail can never reach a real inbox
    assert all(c.email.endswith((".example", "@example.com")) for c in customers if c.email)


def test_seed_demo_has_histories_leads_and_duplicates(seeded):
    # consent histories, including withdrawals
    assert ConsentEvent.objects.filter(granted=True).count() >= 150
    assert ConsentEvent.objects.filter(granted=False).exists()
    # timelines beyond the creation entry
    assert TimelineEntry.objects.exclude(kind__in=["customer.created", "consent.changed"]).count() >= 100
    # leads in every pipeline status, referrals, and conversions traced to customers
    assert set(Lead.objects.values_list("status", flat=True)) == set(LeadStatus.values)
    assert Lead.objects.filter(referred_by__isnull=False).exists()
    converted = Lead.objects.filter(status=LeadStatus.CONVERTED)
    assert converted.exists()
    assert all(lead.converted_customer_id for lead in converted)
    # planted duplicates for the review, and the typo search has its John Smith
    scan = selectors.customer_duplicate_candidates()
    reasons = {reason for _a, _b, reason in scan.pairs}
    assert len(scan.pairs) >= 5 and scan.older_than is None  # the demo fits in one window
    assert any("same passport" in r for r in reasons)
    assert any("same e-mail" in r for r in reasons)
    assert any("same phone" in r for r in reasons)
    assert "John Smith" in [c.full_name for c in selectors.customer_search(query="Jonh Smiht")]


def test_seed_demo_runs_every_registered_seeder_in_order(db, settings):
    # given two seeders registered by apps crm does not know
    settings.DEBUG = True
    calls = []
    registry.register_demo_seeder("zz-second", lambda *, stdout: calls.append("second") or "second added", order=900)
    registry.register_demo_seeder("zz-first", lambda *, stdout: calls.append("first") or "", order=899)
    try:
        out = StringIO()
        # when seed_demo runs
        call_command("seed_demo", stdout=out)
    finally:
        registry.unregister_demo_seeder("zz-second")
        registry.unregister_demo_seeder("zz-first")
    # then both ran, in their order, and the one that added data says so
    assert calls == ["first", "second"]
    assert "second added" in out.getvalue()
    assert User.objects.filter(username="passenger@example.com").exists()


def test_a_demo_seeder_name_is_registered_once():
    registry.register_demo_seeder("zz-once", lambda *, stdout: "")
    try:
        with pytest.raises(ImproperlyConfigured, match="already registered"):
            registry.register_demo_seeder("zz-once", lambda *, stdout: "")
    finally:
        registry.unregister_demo_seeder("zz-once")


@pytest.mark.timeout(180)
def test_generate_scale_copies_realistic_customers_in_batches(db):
    # when 500 customers are generated in batches of 200
    out = StringIO()
    call_command("generate_scale", customers=500, batch_size=200, seed=1, stdout=out)

    # then there are 500, with unique customer numbers of the model's alphabet and length
    assert Customer.objects.count() == 500
    numbers = list(Customer.objects.values_list("customer_number", flat=True))
    assert len(set(numbers)) == 500
    assert all(len(n) == 8 and set(n) <= set(CUSTOMER_NUMBER_ALPHABET) for n in numbers)
    assert "Added 500 customers" in out.getvalue()
    customers = list(Customer.objects.all())
    assert len({c.email for c in customers}) == 500
    assert len({c.nationality.code for c in customers}) >= 8
    assert all(phonenumbers.is_valid_number(c.phone) for c in customers)
    airports = airportsdata.load("IATA")
    assert all(c.home_airport in airports for c in customers)
    # search_name is PostgreSQL's own generated column
    sample = customers[0]
    sample.refresh_from_db()
    assert sample.search_name == f"{sample.given_name} {sample.family_name}".lower()


@pytest.mark.timeout(180)
def test_generated_passports_are_encrypted_and_found_by_their_keyed_hash(db):
    call_command("generate_scale", customers=300, passport_share=0.5, seed=2, stdout=StringIO())

    with_passport = Customer.objects.exclude(passport_hash="")
    assert with_passport.count() > 100
    customer = with_passport.first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT passport_number FROM crm_customer WHERE id = %s", [customer.pk])
        (stored,) = cursor.fetchone()
    assert customer.passport_number not in stored  # ciphertext at rest
    assert customer.passport_hash == selectors.identity_hash(customer.passport_number)
    assert customer in selectors.customer_search(query=customer.passport_number, by_documents=True)


@pytest.mark.timeout(180)
def test_generated_customers_are_found_by_every_kind_of_search(db):
    call_command("generate_scale", customers=200, seed=3, stdout=StringIO())
    customer = Customer.objects.order_by("id")[50]

    assert customer in selectors.customer_search(query=customer.email)
    assert customer in selectors.customer_search(query=str(customer.phone))
    assert customer in selectors.customer_search(query=customer.customer_number.lower())
    assert customer in selectors.customer_search(query=f"{customer.given_name} {customer.family_name}")


def test_generate_scale_rejects_a_non_positive_count(db):
    with pytest.raises(CommandError):
        call_command("generate_scale", customers=0, stdout=StringIO())


def test_generated_people_have_a_title_and_name_that_agree_with_their_gender():
    # Given every market the demo draws passengers from
    rng = random.Random(7)
    title_gender = {"MR": "M", "MS": "F", "MRS": "F", "MISS": "F", "MX": "X"}
    for market in MARKETS:
        fake = faker_for(market.locale)
        fake.seed_instance(7)
        # When 200 people are drawn
        people = [person(fake, market, rng) for _ in range(200)]
        # Then each title goes with the gender drawn (doctors and professors are either)
        assert all(title_gender.get(p.title, p.gender) == p.gender for p in people), market.locale
        assert {p.gender for p in people} >= {"F", "M"}
        # And a romanized given name Wikipedia calls male or female goes with that gender
        if market.locale == "zh_CN":
            assert all(ROMANIZED_GIVEN_NAME_GENDER.get(p.given_name, p.gender) == p.gender for p in people if p.gender != "X")


def test_demo_cities_are_written_in_english_like_the_airport_data():
    # Given a Chinese and a Japanese resident's home airport
    # When the city of their address is taken from it
    # Then it is the English name, not one in a script an English page is not written in
    assert airport_city("PEK") == "Beijing"
    assert airport_city("NRT") == "Tokyo"
    assert airport_city("XXX") == ""
