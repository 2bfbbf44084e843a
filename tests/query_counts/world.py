"""The data every page of the query-count baseline is measured against, built at two sizes.

"small" is the least that makes each page show something: bookings of one traveller on one flight, one
of each list row. "large" is the same world with eight travellers on every booking, two flights on the
passenger's trip, and a dozen of everything that a page lists (bookings, customers, leads, notes, timeline entries, consents, merges, accesses,
flights, disrupted bookings...). A page whose query count is higher at "large" has a query per row.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import time as datetime_time
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from crm import services as crm_services
from crm.models import (
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    Customer,
    CustomerAccess,
    CustomerMerge,
    Lead,
    LeadNote,
    LeadStatus,
    User,
)
from crm.permissions import AGENT, MARKETER, PASSENGER, SUPERVISOR
from loyalty import services as loyalty_services
from loyalty.models import Member
from marketing import services as marketing_services
from marketing.models import Campaign, CampaignRun, Delivery, DeliveryStatus, Segment
from reservations import services
from reservations.models import (
    Booking,
    BookingClass,
    BookingStatus,
    Channel,
    CheckIn,
    Coupon,
    Flight,
    FlightStatus,
    PaymentMethod,
    Refund,
    RefundStatus,
    Ticket,
)
from tests.crm.factories import CustomerFactory, StaffFactory, UserFactory
from tests.reservations.factories import (
    AircraftTypeFactory,
    BookingFactory,
    BookingPassengerFactory,
    FlightFactory,
    RouteFactory,
    SegmentFactory,
    airport,
)


@dataclass(frozen=True)
class Size:
    travellers: int  # on every booking
    flights: int  # of the passenger's trip
    rows: int  # of every list: bookings, customers, leads, notes, timeline entries, flights of a day...
    # Travellers of a search and of the forms to book: a form per traveller costs far more to render than
    # to read, so the large world asks for three (still more than one, so a query per traveller shows).
    party: int


SIZES = {"small": Size(travellers=1, flights=1, rows=1, party=1), "large": Size(travellers=8, flights=2, rows=12, party=3)}
FARE = "ECO_FLEX"  # refundable and changeable: the change and cancel pages show their quotes
GIVEN_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Tony", "Radia", "Ken", "Sophie", "Niklaus"]
_serial = itertools.count(1)


@dataclass
class World:
    size: str
    travellers: int
    party: int
    rows: int
    passenger: User  # a portal login with its own customer record
    customer: Customer
    unverified: User  # registered, e-mail not confirmed yet
    staff: dict[str, User]
    trip: Booking  # ticketed, everyone checked in on its first flight; a payment and goodwill refunds
    held: Booking  # held, not paid yet
    ticketed: Booking  # ticketed, nobody checked in yet, check-in open
    flight: Flight  # the trip's first flight: departs in a few hours, so check-in is open
    check_in: CheckIn  # the first traveller's, on the trip's first flight
    lead: Lead
    duplicates: tuple[Customer, Customer]
    tokens: dict[str, str] = field(default_factory=dict)
    member: Member | None = None  # the passenger's membership: head of a household, with adjustments waiting
    segment: Segment | None = None  # rules over attributes of crm, reservations and loyalty, with a static list
    campaign: Campaign | None = None  # paused (so editable), with runs of deliveries in every status


def build(size: str) -> World:
    dimensions = SIZES[size]
    travellers, rows = dimensions.travellers, dimensions.rows
    services.fares_ensure()
    staff = {
        "agent": StaffFactory(username="qc-agent", roles=[AGENT]),
        "supervisor": StaffFactory(username="qc-supervisor", roles=[SUPERVISOR]),
        "marketer": StaffFactory(username="qc-marketer", roles=[MARKETER]),
    }
    user = UserFactory(username="ada.lovelace@example.com", roles=[PASSENGER], email_verified_at=timezone.now())
    customer = CustomerFactory(
        user=user, given_name="Ada", family_name="Lovelace", email=user.email, home_airport="LHR", preferred_cabin="economy"
    )
    unverified = UserFactory(username="new.passenger@example.com", roles=[PASSENGER])
    CustomerFactory(user=unverified, email=unverified.email)

    out, back = _flights(rows)
    trip = _book(customer, [out, back][: dimensions.flights], travellers, by=user)
    _pay(trip, by=staff["agent"])
    services.check_in(
        booking=trip,
        segment=trip.segments.get(sequence=1),
        passengers=list(trip.passengers.all()),
        bags={p.pk: [Decimal("18.5")] for p in trip.passengers.all()},
        hand_carry={p.pk: 1 for p in trip.passengers.all()},
        channel=Channel.PORTAL,
        by=user,
    )
    payment = trip.payments.get()
    for _n in range(rows):
        Refund.objects.create(
            booking=trip, payment=payment, amount=Decimal("1.00"), currency=trip.currency, reason="Goodwill",
            status=RefundStatus.SUCCEEDED, created_by=staff["agent"], completed_at=timezone.now(),
        )  # fmt: skip
    held = _book(customer, [out], travellers, by=user)
    ticketed = _book(customer, [out], travellers, by=user)
    _pay(ticketed, by=staff["agent"])

    _more_trips(customer, back, travellers, rows)
    _disruptions(travellers, rows)
    duplicates = _customers(rows)
    lead = _leads(customer, staff, rows)
    _record_history(customer, staff, rows)
    member = _household_and_adjustments(customer, staff, rows)
    partner_key = _loyalty_partners_and_flags(staff, rows)
    _membership(customer, staff, rows)
    _loyalty(customer, rows)
    _offers(customer, rows)
    segment = _marketing(customer, staff, rows)
    _api_campaigns(segment, staff, rows)
    campaign = _campaigns(segment, staff, rows)
    _campaign_results(segment, rows)
    _messages_sent(customer, segment, rows)

    world = World(
        size=size,
        travellers=travellers,
        party=dimensions.party,
        rows=rows,
        passenger=user,
        customer=customer,
        unverified=unverified,
        staff=staff,
        trip=trip,
        held=held,
        ticketed=ticketed,
        flight=out,
        check_in=CheckIn.objects.filter(segment__booking=trip).order_by("passenger__sequence").first(),
        lead=lead,
        duplicates=duplicates,
        member=member,
        segment=segment,
        campaign=campaign,
    )
    from rest_framework.authtoken.models import Token

    for who, login in {"passenger": user, **staff}.items():
        world.tokens[who] = Token.objects.get_or_create(user=login)[0].key
    world.tokens["partner"] = partner_key  # the QC hotel's key: `Authorization: Partner <key>`
    return world


# --- Flights and bookings -----------------------------------------------------------------------


def _flights(rows: int) -> tuple[Flight, Flight]:
    """The trip's two flights on a roomy aircraft, and more flights on the same route and day."""
    aircraft = AircraftTypeFactory(
        code="QC1",
        name="Query-count test aircraft",
        sections=[
            {"cabin": "business", "first_row": 1, "last_row": 4, "layout": "AC DF"},
            {"cabin": "economy", "first_row": 5, "last_row": 40, "layout": "ABC DEF", "exit_rows": [12]},
        ],
    )
    lhr, cdg = airport("LHR"), airport("CDG")
    outbound, inbound = RouteFactory(origin=lhr, destination=cdg), RouteFactory(origin=cdg, destination=lhr)
    departs = (timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    out = _flight(outbound, aircraft, departs)
    back = _flight(inbound, aircraft, departs + timedelta(days=3))
    for n in range(1, rows):
        # The same day's other departures: search results, changes, the flight list.
        _flight(outbound, aircraft, departs + timedelta(minutes=4 * n))
    feeder = RouteFactory(origin=airport("AMS"), destination=lhr)
    for n in range(rows):
        # Flights from Amsterdam landing in time for them: journeys AMS-LHR-CDG with a change in London.
        _flight(feeder, aircraft, departs - timedelta(hours=3) + timedelta(minutes=4 * n))
    return out, back


def _flight(route, aircraft, departs) -> Flight:  # noqa: ANN001
    return FlightFactory(
        route=route,
        aircraft_type=aircraft,
        scheduled_departure=departs,
        scheduled_arrival=departs + timedelta(minutes=route.block_minutes),
        gate="B7",
    )


def _book(customer: Customer, flights: list[Flight], travellers: int, *, by: User) -> Booking:
    passengers = [
        services.PassengerRequest(
            passenger_type="ADT",
            given_name=GIVEN_NAMES[i % len(GIVEN_NAMES)],
            family_name="Lovelace" if i == 0 else f"Traveller{chr(65 + i)}",
            date_of_birth=timezone.localdate().replace(year=1980),
            nationality="GB",
            document_type="P",
            document_number=f"X90817{next(_serial):04d}",
            document_country="GB",
            meal="VGML" if i % 2 else "",
            customer=customer if i == 0 else None,
        )
        for i in range(travellers)
    ]
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=f.pk, cabin="economy", fare_family=FARE) for f in flights],
        passengers=passengers,
        contact_email=customer.email,
        contact_phone="+442079460958",
        channel=Channel.PORTAL,
        customer=customer,
        by=by,
    )


def _pay(booking: Booking, *, by: User) -> None:
    services.payment_take(booking=booking, method=PaymentMethod.COUNTER, idempotency_key=f"qc-{booking.record_locator}", by=by)


def _ticket_number() -> str:
    return f"878{next(_serial) + 7_000_000_000:010d}"


def _bare_booking(*, flight: Flight, travellers: int, customer: Customer | None = None, **fields) -> Booking:
    """A ticketed booking written row by row: quicker than the services for data that only fills lists."""
    booking = BookingFactory(status=BookingStatus.TICKETED, customer=customer, adults=travellers, hold_expires_at=None, **fields)
    segment = SegmentFactory(booking=booking, flight=flight, booking_class=BookingClass.objects.get(code="B"))
    for sequence in range(1, travellers + 1):
        passenger = BookingPassengerFactory(booking=booking, sequence=sequence, family_name=f"Traveller{chr(64 + sequence)}")
        ticket = Ticket.objects.create(number=_ticket_number(), booking=booking, passenger=passenger)
        Coupon.objects.create(ticket=ticket, segment=segment, number=1)
    return booking


def _more_trips(customer: Customer, flight: Flight, travellers: int, rows: int) -> None:
    """More of the passenger's bookings (their trips list, the 360 panel), and some they travel on."""
    for n in range(rows - 1):
        booking = _bare_booking(flight=flight, travellers=travellers, customer=customer if n % 2 == 0 else None)
        if n % 2:
            booking.passengers.filter(sequence=1).update(customer=customer)


def _disruptions(travellers: int, rows: int) -> None:
    """Bookings on a cancelled flight, waiting to be rebooked."""
    cancelled = FlightFactory(
        route=RouteFactory(origin=airport("LHR"), destination=airport("AMS")),
        scheduled_departure=timezone.now() + timedelta(days=2),
        status=FlightStatus.CANCELLED,
    )
    for n in range(rows):
        _bare_booking(
            flight=cancelled,
            travellers=travellers,
            disrupted_at=timezone.now() - timedelta(minutes=n),
            disruption_reason="Cancelled: crew shortage",
        )


# --- The customer record ------------------------------------------------------------------------


def _customers(rows: int) -> tuple[Customer, Customer]:
    """Other customers named Lovelace (the search pages), in pairs sharing an e-mail (the duplicates review)."""
    pairs = []
    for n in range(rows):
        email = f"lovelace{n}@example.com"
        pairs.append(
            (
                CustomerFactory(family_name="Lovelace", email=email, passport_number=f"Q{n:07d}"),
                CustomerFactory(family_name="Lovelace", email=email.upper(), passport_number=f"Q{n:07d}"),
            )
        )
    return pairs[0]


def _leads(customer: Customer, staff: dict[str, User], rows: int) -> Lead:
    """Leads in every status (the pipeline board), referred by the passenger, converted into customers."""
    others = list(Customer.objects.exclude(pk=customer.pk).order_by("pk"))
    first = None
    for status in LeadStatus.values:
        for n in range(rows):
            lead = Lead.objects.create(
                given_name=GIVEN_NAMES[n % len(GIVEN_NAMES)],
                family_name=f"Prospect{n}",
                email=f"{status}{n}@prospects.example",
                source="referral" if n % 2 else "campaign",
                source_detail="Spring sale",
                status=status,
                referred_by=customer if n % 2 else None,
                owner=staff["agent"],
                created_by=staff["marketer"],
                converted_customer=(customer if n % 2 else others[n % len(others)]) if status == LeadStatus.CONVERTED else None,
                converted_at=timezone.now() if status == LeadStatus.CONVERTED else None,
                lost_reason="Chose another airline" if status == LeadStatus.LOST else "",
            )
            first = first or lead
    for n in range(rows):
        LeadNote.objects.create(lead=first, from_status="new", to_status="new", text=f"Called back ({n})", author=staff["agent"])
    return first


def _loyalty(customer: Customer, rows: int) -> None:
    """The passenger is a member with missing-miles claims, credited and refused."""
    from loyalty import services as loyalty_services
    from loyalty.models import ClaimStatus, RetroClaim

    member = loyalty_services.member_enrol(customer=customer, channel="portal")
    for n in range(rows):
        credited = n % 2 == 0
        RetroClaim.objects.create(
            member=member, ticket_number=f"878{9_000_000_000 + n:010d}", flight_date=timezone.localdate(),
            status=ClaimStatus.CREDITED if credited else ClaimStatus.REFUSED, refusal="" if credited else "too_old",
            miles=1200 if credited else 0,
        )  # fmt: skip


def _record_history(customer: Customer, staff: dict[str, User], rows: int) -> None:
    """What the 360 shows beside the bookings: timeline, consent, change history, merges, who looked."""
    supervisor = staff["supervisor"]
    for n in range(rows):
        crm_services.customer_update(customer=customer, data={"city": f"London {n}"}, by=supervisor)
        crm_services.consent_record(
            customer=customer,
            channel=ConsentChannel.EMAIL,
            purpose=ConsentPurpose.MARKETING,
            granted=n % 2 == 0,
            source=ConsentSource.OFFICE,
            by=supervisor,
        )
        crm_services.timeline_record(customer=customer, kind="note", summary=f"Called about the trip ({n})", actor=supervisor)
        CustomerMerge.objects.create(
            survivor=customer,
            loser_customer_number=f"ZZ{n:06d}",
            loser_name="Ada Lovelace",
            moved={"crm": {"timeline": 1}},
            merged_by=supervisor,
        )
    for other in Customer.objects.order_by("pk")[: rows + 1]:
        for login in (supervisor, staff["agent"]):
            CustomerAccess.objects.create(customer=other, user=login, surface="office", path="/office/customers/")


# --- Frequent flyer: household, transfers, adjustments -------------------------------------------


def _household_and_adjustments(customer: Customer, staff: dict[str, User], rows: int) -> Member:
    """The passenger heads a household of ``rows`` other members and has ``rows`` invitations out; an agent
    has asked for ``rows`` adjustments above the threshold (the approvals queue) and ``rows`` within it."""
    from loyalty.selectors import programme

    settings_row = programme()
    settings_row.household_max_members = rows + 2
    settings_row.save(update_fields=["household_max_members"])
    member = loyalty_services.member_enrol(customer=customer, channel="portal")
    loyalty_services.household_create(member=member)
    for n in range(rows):
        joined = loyalty_services.member_enrol(customer=CustomerFactory(family_name=f"Pool{n}"), channel="office")
        invitation = loyalty_services.household_invite(head=member, number=joined.number, family_name=f"Pool{n}")
        loyalty_services.household_invitation_accept(invitation_id=invitation.pk, member=joined)
        invited = loyalty_services.member_enrol(customer=CustomerFactory(family_name=f"Asked{n}"), channel="office")
        loyalty_services.household_invite(head=member, number=invited.number, family_name=f"Asked{n}")
        for award in (100, 1_000_000):
            loyalty_services.adjustment_request(
                member=joined, kind="goodwill", award_miles=award, reason="Delayed bag", by=staff["agent"]
            )
    loyalty_services.adjustment_request(member=member, kind="goodwill", award_miles=3000, reason="Welcome", by=staff["agent"])
    return member


# --- Loyalty: partners' statements and fraud flags ------------------------------------------------------

QC_PARTNER = "qc-hotel"


def _loyalty_partners_and_flags(staff: dict[str, User], rows: int) -> str:
    """A partner with ``rows`` credits last month and this month (one of these reversed), for ``rows``
    members; two more partners; ``rows`` open fraud flags of each kind and ``rows`` reviewed ones.
    Returns the partner's API key."""
    from loyalty import selectors as loyalty_selectors
    from loyalty import services as loyalty_services
    from loyalty.models import EntryKind, FraudFlag, FraudSignal, ReviewStatus

    hotel = loyalty_services.partner_create(code=QC_PARTNER, name="QC Hotels", kind="hotel")
    for n in range(2):
        loyalty_services.partner_create(code=f"qc-other-{n}", name=f"QC Partner {n}", kind="car")
    last_month = loyalty_selectors.month_bounds(loyalty_selectors.previous_month())[0]
    for n in range(rows):
        member = loyalty_services.member_enrol(customer=CustomerFactory(), channel="office")
        for when, key in ((last_month + timedelta(days=1, hours=n), "L"), (timezone.now(), "T")):
            entry = loyalty_services.miles_post(
                posting=loyalty_services.Posting(
                    member_id=member.pk, kind=EntryKind.PARTNER, reason="partner", key=f"partner:{QC_PARTNER}:{key}{n}",
                    award=1000, details={"partner": QC_PARTNER, "reference": f"{key}{n}"}, partner_id=hotel.pk, at=when,
                )
            )  # fmt: skip
        if n == 0:
            loyalty_services.miles_reverse(entry=entry, reason="partner_cancelled")
        FraudFlag.objects.create(
            member=member, signal=FraudSignal.PARTNER_VELOCITY, key=f"qc-velocity:{n}",
            details={"partner": QC_PARTNER, "partner_name": "QC Hotels", "miles_24h": 25000, "alert": 20000},
        )  # fmt: skip
        FraudFlag.objects.create(
            member=member, signal=FraudSignal.THIRD_PARTY_AFTER_LOGIN_CHANGE, key=f"qc-award:{n}",
            details={"record_locator": "QCQCQC", "login_change": "password", "hours_after_change": 2.5, "travellers": 2},
        )  # fmt: skip
        FraudFlag.objects.create(
            member=member, signal=FraudSignal.PARTNER_VELOCITY, key=f"qc-velocity-cleared:{n}", details={"partner": QC_PARTNER},
            status=ReviewStatus.CLEARED, reviewed_by=staff["supervisor"], reviewed_at=timezone.now(), review_note="Genuine.",
        )  # fmt: skip
    return loyalty_services.partner_key_issue(partner=hotel)


# --- Frequent flyer programme -------------------------------------------------------------------


def _membership(customer: Customer, staff: dict[str, User], rows: int) -> None:
    """The passenger is a member: statement lines of several kinds, adjustments and a status match (export)."""
    from loyalty import services as loyalty_services
    from loyalty.models import Adjustment, StatusMatch, Tier

    member = loyalty_services.member_enrol(customer=customer, channel="portal")
    postings = []
    for n in range(rows * 3):
        kind, reason = [("accrual", "flight"), ("partner", "partner"), ("bonus", "welcome_bonus")][n % 3]
        postings.append(
            loyalty_services.Posting(
                member_id=member.pk, kind=kind, reason=reason, key=f"qc:{member.pk}:{n}", award=500 + n,
                qualifying=500 if kind == "accrual" else 0, segments=1 if kind == "accrual" else 0,
                details={"flight": "AU101", "origin": "LHR", "destination": "CDG"} if kind == "accrual" else {},
            )
        )  # fmt: skip
    loyalty_services.miles_post_many(postings=postings)
    for _n in range(rows):
        Adjustment.objects.create(member=member, kind="goodwill", award_miles=100, reason="Goodwill", requested_by=staff["agent"])
        StatusMatch.objects.create(
            member=member, tier=Tier.objects.get(code="gold"), competitor_airline="Other Air", competitor_tier="Gold",
            competitor_number="OA1", competitor_valid_until=timezone.localdate(), requested_by=staff["agent"],
        )  # fmt: skip


# --- Marketing offers -----------------------------------------------------------------------------


def _offers(customer: Customer, rows: int) -> None:
    """Offers, each with codes for anyone and one for the passenger."""
    from marketing import services as marketing_services

    now = timezone.now()
    for n in range(rows):
        offer = marketing_services.offer_create(
            name=f"QC offer {n}", kind="percentage", value=Decimal("10"), valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=30), routes=["LHR-CDG"], cabins=["economy"],
        )  # fmt: skip
        marketing_services.promo_codes_issue(offer=offer, count=rows)
        marketing_services.promo_codes_issue(offer=offer, customers=[customer])


# --- Marketing ---------------------------------------------------------------------------------


def _marketing(customer: Customer, staff: dict[str, User], rows: int) -> Segment:
    """``rows`` static lists and segments; the last segment uses attributes of every app and a list."""
    for other in [customer, *Customer.objects.exclude(pk=customer.pk).order_by("pk")[: rows * 2]]:
        ConsentEvent.objects.create(
            customer=other, channel=ConsentChannel.EMAIL, purpose=ConsentPurpose.MARKETING, granted=True,
            source=ConsentSource.PORTAL,
        )  # fmt: skip
    numbers = "\n".join(Customer.objects.order_by("pk").values_list("customer_number", flat=True)[: rows + 1])
    lists = [
        marketing_services.static_list_import(name=f"List {n}", content=numbers.encode(), by=staff["marketer"])
        for n in range(rows)
    ]
    segment = None
    for n in range(rows):
        segment = marketing_services.segment_create(
            name=f"Segment {n}",
            rules={
                "any": [
                    {"all": [
                        {"attribute": "home_airport_code", "lookup": "exact", "value": "LHR"},
                        {"attribute": "flights_in_last_months", "lookup": "gte", "value": 0, "params": {"months": 12}},
                    ]},
                    {"attribute": "tier", "lookup": "in", "value": ["blue", "gold"]},
                    {"list": lists[-1].pk},
                ]
            },
            by=staff["marketer"],
        )  # fmt: skip
    return segment


# --- Marketing campaigns --------------------------------------------------------------------------


def _api_campaigns(segment: Segment, staff: dict[str, User], rows: int) -> None:
    """``rows`` campaigns on the segment, made by the marketer, some with an offer, one of each kind."""
    from marketing.models import Offer

    offer = Offer.objects.order_by("pk").first()
    kinds = itertools.cycle(
        [{"kind": "one_off", "send_at": timezone.now() + timedelta(days=3)}, {"kind": "birthday"},
         {"kind": "recurring", "repeat": "weekly"}, {"kind": "triggered", "trigger": "registered"}]
    )  # fmt: skip
    for n in range(rows):
        marketing_services.campaign_create(
            name=f"QC campaign {n}", segment=segment, subject_en="Hello {{ name }}", text_en="Dear {{ name }}",
            offer=offer if n % 2 else None, by=staff["marketer"], status="draft" if n % 3 == 1 else "scheduled",
            **next(kinds),
        )  # fmt: skip


def _campaigns(segment: Segment, staff: dict[str, User], rows: int) -> Campaign:
    """``rows`` campaigns of each kind on the calendar's month; the last is paused with ``rows`` runs."""
    now = timezone.now()
    content = {
        "subject_en": "Hello {{ name }}",
        "text_en": "Dear {{ name }}",
        "subject_zh": "你好 {{ name }}",
        "text_zh": "{{ name }}，您好",
    }
    campaign = None
    for n in range(rows):
        marketing_services.campaign_create(
            name=f"Birthday {n}", segment=segment, kind="birthday", send_time=datetime_time(9), status="scheduled",
            by=staff["marketer"], **content,
        )  # fmt: skip
        marketing_services.campaign_create(
            name=f"Win-back {n}", segment=segment, kind="triggered", trigger="inactive", trigger_days=90, status="scheduled",
            by=staff["marketer"], **content,
        )  # fmt: skip
        campaign = marketing_services.campaign_create(
            name=f"Sale {n}", segment=segment, kind="one_off", send_at=now + timedelta(days=1 + n % 5), status="paused",
            by=staff["marketer"], **content,
        )  # fmt: skip
    customers = list(Customer.objects.order_by("pk")[:3])
    statuses = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.HOLDOUT)
    for n in range(rows):
        run = CampaignRun.objects.create(campaign=campaign, occurrence=timezone.localdate() - timedelta(days=n))
        Delivery.objects.bulk_create(Delivery(run=run, customer=c, status=s) for c, s in zip(customers, statuses, strict=False))
    return campaign


# --- Campaign results -----------------------------------------------------------------------------


def _campaign_results(segment: Segment, rows: int) -> None:
    """``rows`` campaigns, each with ``rows`` deliveries over as many days: sent, opened, clicked, converted, held out."""
    from marketing.models import CampaignRun, Delivery

    now = timezone.now()
    customers = list(Customer.objects.order_by("pk")[:rows])
    for n in range(rows):
        campaign = marketing_services.campaign_create(
            name=f"QC results {n}", segment=segment, subject_en="Hello {{ name }}", text_en="See https://example.com/",
            status="running", send_at=now + timedelta(hours=1),
        )  # fmt: skip
        run = CampaignRun.objects.create(campaign=campaign, occurrence=now.date())
        Delivery.objects.bulk_create(
            Delivery(
                run=run, customer=other, variant="ab"[i % 2],
                status="holdout" if i % 4 == 3 else "sent", sent_at=None if i % 4 == 3 else now - timedelta(days=i),
                opened_at=now, open_count=1, clicked_at=now if i % 2 else None,
                converted_at=now if i % 3 == 0 else None, revenue=Decimal("99.00") if i % 3 == 0 else None,
                revenue_currency="EUR" if i % 3 == 0 else "",
            )
            for i, other in enumerate(customers)
        )  # fmt: skip


def _messages_sent(customer: Customer, segment: Segment, rows: int) -> None:
    """``rows`` campaigns that each sent the passenger one message (their marketing preferences list them)."""
    from marketing.models import CampaignRun, Delivery, DeliveryStatus

    for n in range(rows):
        campaign = marketing_services.campaign_create(
            name=f"Campaign {n}",
            segment=segment,
            subject_en="Hello {{ name }}",
            text_en="News for {{ name }}",
            send_at=timezone.now() + timedelta(days=1),
        )
        run = CampaignRun.objects.create(campaign=campaign, occurrence=timezone.localdate() - timedelta(days=n))
        Delivery.objects.create(
            run=run, customer=customer, status=DeliveryStatus.SENT, sent_at=timezone.now() - timedelta(days=n)
        )
