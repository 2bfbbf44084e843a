"""Demo data for a developer's machine: the demo logins and a realistic set of customers.

Idempotent: a second run finds the data and changes nothing. Refused unless DEBUG is on, because
every demo login shares one published password.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from crm import registry, services
from crm.errors import ApplicationError
from crm.management.commands._people import (
    MAIL_DOMAINS,
    airport_city,
    ascii_slug,
    faker_for,
    home_airport,
    passport_number,
    person,
    person_name,
    phone_number,
    pick_market,
)
from crm.models import (
    AssistanceCode,
    Cabin,
    ConsentChannel,
    ConsentPurpose,
    ConsentSource,
    Customer,
    Lead,
    LeadSource,
    LeadStatus,
    MealCode,
    SeatPreference,
    TimelineEntry,
    TravelPurpose,
    User,
)
from crm.permissions import ADMINISTRATOR, AGENT, ANALYST, MARKETER, SUPERVISOR

DEMO_PASSWORD = "airline-demo"  # noqa: S105 - published on purpose; refused unless DEBUG
DEMO_PASSENGER = "passenger@example.com"
DEMO_STAFF = (
    # username, role, given name, family name
    ("agent", AGENT, "Amelia", "Hughes"),
    ("supervisor", SUPERVISOR, "Rajesh", "Iyer"),
    ("marketer", MARKETER, "Sofía", "Navarro"),
    ("analyst", ANALYST, "Lukas", "Brandt"),
    ("admin", ADMINISTRATOR, "Mei", "Chen"),
)
DEMO_CUSTOMERS = 200
DEMO_SCHEDULE_DAYS = 60
SEED = 20_260_501

CONTACT_NOTES = (
    ("contact.phone", "Called about baggage allowance for an upcoming trip"),
    ("contact.phone", "Asked to change the seat preference to aisle"),
    ("contact.email", "E-mailed a question about travelling with a musical instrument"),
    ("contact.email", "Sent a copy of an invoice on request"),
    ("contact.chat", "Chat: asked how to add a frequent-flyer number to a booking"),
    ("contact.chat", "Chat: asked about visa requirements for a connection"),
    ("note.added", "Prefers to be contacted in the evening"),
    ("note.added", "Corporate traveller; invoices go to the employer"),
    ("contact.phone", "Requested special assistance at the departure airport"),
    ("contact.email", "Complimented the cabin crew on a recent flight"),
)
LEAD_INTERESTS = (
    "Corporate travel agreement for a 40-person sales team",
    "Group booking for a wedding party in the autumn",
    "Frequent trips between the two offices; asks about lounge access",
    "Student exchange group, about 25 travellers",
    "Conference delegation, business class",
    "Family holiday, two adults and three children",
)


def _flag(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


PURPOSE_WEIGHTS = {
    TravelPurpose.LEISURE: 40,
    TravelPurpose.BUSINESS: 30,
    TravelPurpose.VFR: 20,
    TravelPurpose.EDUCATION: 5,
    TravelPurpose.MEDICAL: 2,
    TravelPurpose.RELIGIOUS: 3,
}


def _travel_purposes(rng: random.Random) -> list[str]:
    chosen = rng.choices(list(PURPOSE_WEIGHTS), weights=list(PURPOSE_WEIGHTS.values()), k=rng.choice([1, 1, 2]))
    return sorted({str(p) for p in chosen})


class Command(BaseCommand):
    help = "Create the demo logins (password 'airline-demo') and realistic demo customers. DEBUG only; idempotent."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates logins with the published password 'airline-demo', so it runs only with DEBUG=true; "
                "nothing was changed."
            )
        rng = random.Random(SEED)
        customers_before = Customer.objects.count()
        try:
            created_logins, created_customers = self._seed(rng)
        except ApplicationError as exc:  # a bug in the demo data, not in the caller's input
            raise CommandError(f"Demo data rejected: {exc.message} {exc.fields}") from None
        # Flights to search and book; by name, because crm does not import the apps built on it.
        call_command("generate_schedule", days=DEMO_SCHEDULE_DAYS, verbosity=0, stdout=self.stdout)
        # Then each app's own demo data, through the seeders the apps registered (crm knows none of them).
        added = self._app_data()
        if not created_logins and not created_customers and not added:
            self.stdout.write("Demo data already loaded; nothing changed.")
            return
        for line in added:
            self.stdout.write(line)
        if not created_logins and not created_customers:
            return
        self.stdout.write(
            f"Demo data loaded: {len(created_logins)} logins created ({', '.join(created_logins) or 'none'}), "
            f"{Customer.objects.count() - customers_before} customers, {Lead.objects.count()} leads. Password for every demo login: {DEMO_PASSWORD}"
        )

    @transaction.atomic
    def _seed(self, rng: random.Random) -> tuple[list[str], int]:
        created_logins = self._logins()
        if self._data_present():
            return created_logins, 0
        staff = {username: User.objects.get(username=username) for username, *_ in DEMO_STAFF}
        return created_logins, self._customers(rng, staff)

    def _app_data(self) -> list[str]:
        """Run every registered demo seeder, each in its own transaction; the lines of those that added data."""
        lines = []
        for seeder in registry.demo_seeders():
            try:
                with transaction.atomic():
                    line = seeder.seed(stdout=self.stdout)
            except ApplicationError as exc:
                raise CommandError(f"Demo data of {seeder.name} rejected: {exc.message} {exc.fields}") from None
            if line:
                lines.append(line)
        return lines

    # --- logins -------------------------------------------------------------------------------

    def _logins(self) -> list[str]:
        created = []
        for username, role, given_name, family_name in DEMO_STAFF:
            if User.objects.filter(username=username).exists():
                continue
            user = User(
                username=username,
                email=f"{username}@airline.example",
                first_name=given_name,
                last_name=family_name,
                is_staff=True,
                is_superuser=role == ADMINISTRATOR,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=role))
            created.append(username)
        if not User.objects.filter(username=DEMO_PASSENGER).exists():
            user = services.passenger_register(
                email=DEMO_PASSENGER, password=DEMO_PASSWORD, given_name="Olivia", family_name="Bennett"
            )
            services.passenger_verify_email(user=user)
            services.customer_update(
                customer=user.customer,
                data={
                    "title": "MS",
                    "gender": "F",
                    "date_of_birth": date(1988, 4, 17),
                    "phone": "+447911123456",
                    "nationality": "GB",
                    "address_line1": "12 Harbour Street",
                    "city": "Bristol",
                    "postal_code": "BS1 4RN",
                    "country": "GB",
                    "passport_number": "533180774",
                    "passport_expiry": date(2031, 9, 30),
                    "passport_country": "GB",
                    "meal_preference": MealCode.VGML,
                    "seat_preference": SeatPreference.WINDOW,
                    "preferred_cabin": Cabin.PREMIUM_ECONOMY,
                    "home_airport": "BRS",
                    "travel_purposes": [TravelPurpose.LEISURE, TravelPurpose.VFR],
                },
                by=user,
            )
            for channel in (ConsentChannel.EMAIL, ConsentChannel.PUSH):
                services.consent_record(
                    customer=user.customer,
                    channel=channel,
                    purpose=ConsentPurpose.SERVICE,
                    granted=True,
                    source=ConsentSource.PORTAL,
                    method="registration form",
                    by=user,
                )
            created.append(DEMO_PASSENGER)
        return created

    # --- customers ----------------------------------------------------------------------------

    @staticmethod
    def _data_present() -> bool:
        """Demo customers use .example mail domains (RFC 2606), which no real passenger has."""
        return Customer.objects.filter(email__endswith=".example").exists()

    def _customers(self, rng: random.Random, staff: dict[str, User]) -> int:
        agent, marketer, supervisor = staff["agent"], staff["marketer"], staff["supervisor"]
        customers: list[Customer] = []
        # A well-known name so "Jonh Smiht" in the search box has someone to find.
        customers.append(self._customer(rng, agent, overrides={"given_name": "John", "family_name": "Smith", "gender": "M"}))
        while len(customers) < DEMO_CUSTOMERS:
            customers.append(self._customer(rng, agent))
        for customer in customers:
            self._history(rng, customer, agent)
        duplicates = self._duplicates(rng, customers, agent)
        self._leads(rng, customers, agent=agent, marketer=marketer, supervisor=supervisor)
        return len(customers) + duplicates

    def _profile(self, rng: random.Random, *, gender: str = "") -> dict[str, Any]:
        market = pick_market(rng)
        fake = faker_for(market.locale)
        fake.seed_instance(rng.getrandbits(32))
        traveller = person(fake, market, rng, gender=gender)
        given_name, family_name = traveller.given_name, traveller.family_name
        born = date.today() - timedelta(days=rng.randint(18 * 365, 82 * 365))
        # Mostly living in the country of their passport; some expatriates.
        nationality = market.country
        residence = pick_market(rng) if _flag(rng, 0.08) else market
        resident_fake = faker_for(residence.locale)
        airport = home_airport(rng, residence.country)
        data: dict[str, Any] = {
            "title": traveller.title,
            "given_name": given_name,
            "family_name": family_name,
            "gender": traveller.gender,
            "date_of_birth": born,
            "email": f"{ascii_slug(given_name)}.{ascii_slug(family_name)}{rng.randint(1, 99)}@{rng.choice(MAIL_DOMAINS)}",
            "phone": phone_number(rng, residence.country),
            "nationality": nationality,
            "preferred_language": market.language,
            "address_line1": " ".join(resident_fake.street_address().split())[:200],  # some locales write two lines
            "city": (airport_city(airport) or resident_fake.city())[:100],  # the home airport's city
            "postal_code": resident_fake.postcode()[:20],
            "country": residence.country,
            "seat_preference": rng.choices(list(SeatPreference.values), weights=[45, 35, 20])[0],
            "preferred_cabin": rng.choices(list(Cabin.values) + [""], weights=[55, 15, 15, 3, 12])[0],
            "home_airport": airport,
            "travel_purposes": _travel_purposes(rng),
        }
        if _flag(rng, 0.7):
            data["passport_number"] = passport_number(rng, nationality)
            data["passport_country"] = nationality
            data["passport_expiry"] = date.today() + timedelta(days=rng.randint(-60, 10 * 365))
        if _flag(rng, 0.3):
            data["meal_preference"] = rng.choice(
                [MealCode.VGML, MealCode.VLML, MealCode.KSML, MealCode.MOML, MealCode.DBML, MealCode.GFML, MealCode.HNML]
            )
        if _flag(rng, 0.06):
            data["special_assistance"] = [
                rng.choice([AssistanceCode.WCHR, AssistanceCode.WCHS, AssistanceCode.BLND, AssistanceCode.DEAF])
            ]
        if _flag(rng, 0.5):
            contact_given, contact_family = person_name(fake, market, rng.choice("FM"))
            data["emergency_contact_name"] = f"{contact_given} {contact_family}"
            data["emergency_contact_phone"] = phone_number(rng, market.country)
            data["emergency_contact_relationship"] = rng.choice(["spouse", "partner", "parent", "sibling", "friend"])
        return data

    def _customer(self, rng: random.Random, agent: User, overrides: dict[str, Any] | None = None) -> Customer:
        data = self._profile(rng, gender=(overrides or {}).get("gender", ""))
        if overrides:
            data.update(overrides)
            data["email"] = f"{ascii_slug(data['given_name'])}.{ascii_slug(data['family_name'])}@{MAIL_DOMAINS[0]}"
        customer = services.customer_create(data=data, by=agent)
        # Customers joined over the last few years, not all today.
        joined = timezone.now() - timedelta(days=rng.randint(30, 6 * 365), minutes=rng.randint(0, 1440))
        Customer.objects.filter(pk=customer.pk).update(created_at=joined)
        TimelineEntry.objects.filter(customer=customer, kind="customer.created").update(occurred_at=joined)
        customer.created_at = joined
        return customer

    def _history(self, rng: random.Random, customer: Customer, agent: User) -> None:
        # Consent: service messages on e-mail for most; marketing granted, sometimes withdrawn later.
        if _flag(rng, 0.9):
            services.consent_record(
                customer=customer,
                channel=ConsentChannel.EMAIL,
                purpose=ConsentPurpose.SERVICE,
                granted=True,
                source=ConsentSource.PORTAL,
                method="booking form",
            )
        for channel in (ConsentChannel.EMAIL, ConsentChannel.SMS):
            if _flag(rng, 0.5):
                services.consent_record(
                    customer=customer,
                    channel=channel,
                    purpose=ConsentPurpose.MARKETING,
                    granted=True,
                    source=rng.choice([ConsentSource.PORTAL, ConsentSource.OFFICE]),
                    method=rng.choice(["newsletter sign-up", "phone call", "preferences page"]),
                    by=agent if _flag(rng, 0.3) else None,
                )
                if _flag(rng, 0.25):
                    services.consent_record(
                        customer=customer,
                        channel=channel,
                        purpose=ConsentPurpose.MARKETING,
                        granted=False,
                        source=ConsentSource.PORTAL,
                        method="unsubscribe link",
                    )
        # A few contacts with the airline, spread since the customer joined.
        age_days = max(1, (timezone.now() - customer.created_at).days)
        for _ in range(rng.randint(0, 4)):
            kind, summary = rng.choice(CONTACT_NOTES)
            services.timeline_record(
                customer=customer,
                kind=kind,
                summary=summary,
                actor=agent,
                occurred_at=timezone.now() - timedelta(days=rng.randint(0, age_days), minutes=rng.randint(0, 1440)),
            )

    def _duplicates(self, rng: random.Random, customers: list[Customer], agent: User) -> int:
        """Plant records that are probably the same person, for the duplicates review."""
        planted = 0
        originals = rng.sample(customers[1:], 4)
        originals.insert(2, rng.choice([c for c in customers[1:] if c.passport_number and c not in originals]))
        john = customers[0]
        variants = [
            # same person typed twice by different agents: a misspelt name, same date of birth
            (john, {"given_name": "Jon", "family_name": "Smith", "date_of_birth": john.date_of_birth}),
            # same e-mail in a different case
            (originals[0], {"email": originals[0].email.upper()}),
            # same phone, given name abbreviated
            (originals[1], {"phone": str(originals[1].phone), "given_name": originals[1].given_name[:1] + "."}),
            # same passport, entered again by a partner system with no date of birth
            (originals[2], {"passport_number": originals[2].passport_number, "date_of_birth": None}),
            # similar name, same date of birth
            (originals[3], {"family_name": originals[3].family_name + "e", "date_of_birth": originals[3].date_of_birth}),
        ]
        for original, changes in variants:
            data = {
                "given_name": original.given_name,
                "family_name": original.family_name,
                "date_of_birth": original.date_of_birth,
                "nationality": str(original.nationality),
                "email": f"{ascii_slug(original.given_name)}{rng.randint(100, 999)}@{rng.choice(MAIL_DOMAINS)}",
                **changes,
            }
            services.customer_create(data=data, by=agent)
            planted += 1
        return planted

    def _leads(self, rng: random.Random, customers: list[Customer], *, agent: User, marketer: User, supervisor: User) -> None:
        """Every pipeline status, referrals from existing customers, and conversions marketing can trace."""
        fake = faker_for("en_GB")
        fake.seed_instance(SEED)
        plans = (
            [LeadStatus.NEW] * 6
            + [LeadStatus.CONTACTED] * 5
            + [LeadStatus.QUALIFIED] * 4
            + [LeadStatus.CONVERTED] * 5
            + [LeadStatus.LOST] * 4
        )
        for index, target in enumerate(plans):
            market = pick_market(rng)
            person_fake = faker_for(market.locale)
            given_name, family_name = person_name(person_fake, market, rng.choice("FM"))
            referral = index % 3 == 0
            referrer = rng.choice(customers) if referral else None
            lead = services.lead_create(
                data={
                    "given_name": given_name,
                    "family_name": family_name,
                    "email": f"{ascii_slug(given_name)}.{ascii_slug(family_name)}@{rng.choice(MAIL_DOMAINS)}",
                    "phone": phone_number(rng, market.country),
                    "company": fake.company() if _flag(rng, 0.5) else "",
                    "source": LeadSource.REFERRAL
                    if referral
                    else rng.choice([LeadSource.CAMPAIGN, LeadSource.EVENT, LeadSource.WEBSITE]),
                    "source_detail": "" if referral else rng.choice(["Spring sale", "ITB Berlin", "Newsletter", "Contact form"]),
                    "referred_by": referrer,
                    "interest": rng.choice(LEAD_INTERESTS),
                    "owner": agent,
                },
                by=marketer,
            )
            if target in (LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.CONVERTED, LeadStatus.LOST):
                lead = services.lead_advance(lead=lead, to_status=LeadStatus.CONTACTED, by=agent, note="First call done")
            if target in (LeadStatus.QUALIFIED, LeadStatus.CONVERTED):
                lead = services.lead_advance(
                    lead=lead, to_status=LeadStatus.QUALIFIED, by=agent, note="Budget and dates confirmed"
                )
            if target == LeadStatus.CONVERTED:
                services.lead_convert(lead=lead, by=supervisor)
            if target == LeadStatus.LOST:
                services.lead_advance(
                    lead=lead,
                    to_status=LeadStatus.LOST,
                    by=agent,
                    lost_reason=rng.choice(["Chose another airline", "Trip cancelled"]),
                )
