"""Creating bookings with all-or-nothing seat holds, and releasing holds that were never paid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.events import send_after_commit
from crm.models import AssistanceCode, Customer, MealCode, TravelPurpose, User
from crm.rows import columns, execute_prepared, insert
from crm.services import timeline_record
from reservations import events, hooks, pricing, rules
from reservations.models import (
    Booking,
    BookingCharge,
    BookingClass,
    BookingPassenger,
    BookingStatus,
    Channel,
    ChargeKind,
    DocumentType,
    FareFamily,
    Flight,
    FlightCabin,
    FlightStatus,
    PassengerType,
    PaymentStatus,
    Segment,
    SegmentStatus,
    TaxRule,
    TripType,
)
from reservations.services.cancellation import booking_cancel
from reservations.services.common import BOOKING_CUTOFF, MAX_SEATS, _lock_for_change, connection_time
from reservations.services.inventory import _lock_inventory, inventory_release, inventory_take
from reservations.services.notifications import _cancellation_queue


@dataclass(frozen=True)
class SegmentRequest:
    """One flight the party wants, in a cabin and fare family (e.g. economy Standard)."""

    flight_id: int
    cabin: str
    fare_family: str


@dataclass
class PassengerRequest:
    """One traveller as entered; blank preferences are filled from ``customer`` when given."""

    passenger_type: str
    given_name: str
    family_name: str
    title: str = ""
    date_of_birth: date | None = None
    nationality: str = ""
    document_type: str = ""
    document_number: str = ""
    document_expiry: date | None = None
    document_country: str = ""
    meal: str = ""
    assistance: list[str] = field(default_factory=list)
    frequent_flyer_number: str = ""
    customer: Customer | None = None


def passengers_link_booker(*, passengers: list[PassengerRequest], booker: Customer | None) -> list[PassengerRequest]:
    """A passenger booking for themselves travels as themselves: the first traveller is linked to their
    customer record (documents, preferences, miles, the trip on their account) while the name entered is
    still theirs. Another name means they book for someone else, and nobody is linked.

    For self-service bookings (portal and API); at the office the agent says whether the customer travels.
    """
    if booker is None or not passengers or passengers[0].customer is not None:
        return passengers
    first = passengers[0]
    entered = (first.given_name.strip().casefold(), first.family_name.strip().casefold())
    if entered != (booker.given_name.strip().casefold(), booker.family_name.strip().casefold()):
        return passengers
    return [replace(first, customer=booker), *passengers[1:]]


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _validate_party(passengers: list[PassengerRequest], first_day: date) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    counts = dict.fromkeys(PassengerType.values, 0)
    for i, p in enumerate(passengers, start=1):
        prefix = f"passengers.{i}"
        if p.passenger_type not in PassengerType.values:
            errors[f"{prefix}.passenger_type"] = [_("Choose adult, child or infant.")]
            continue
        counts[p.passenger_type] += 1
        if not p.given_name.strip():
            errors[f"{prefix}.given_name"] = [_("Enter the given name as in the travel document.")]
        if not p.family_name.strip():
            errors[f"{prefix}.family_name"] = [_("Enter the family name as in the travel document.")]
        if p.meal and p.meal not in MealCode.values:
            errors[f"{prefix}.meal"] = [_("Choose a special meal from the list.")]
        bad = [code for code in p.assistance if code not in AssistanceCode.values]
        if bad:
            errors[f"{prefix}.assistance"] = [_("Unknown assistance code: %(codes)s.") % {"codes": ", ".join(bad)}]
        if p.document_type and p.document_type not in DocumentType.values:
            errors[f"{prefix}.document_type"] = [_("Choose passport or national identity card.")]
        if p.document_expiry and p.document_expiry < first_day:
            errors[f"{prefix}.document_expiry"] = [_("The travel document expires before the flight.")]
        if p.passenger_type in (PassengerType.CHILD, PassengerType.INFANT) and not p.date_of_birth:
            errors[f"{prefix}.date_of_birth"] = [_("Enter the date of birth of every child and infant.")]
        elif p.date_of_birth:
            if p.date_of_birth > timezone.localdate():
                errors[f"{prefix}.date_of_birth"] = [_("The date of birth is in the future.")]
                continue
            age = _age_on(p.date_of_birth, first_day)
            if p.passenger_type == PassengerType.INFANT and age >= 2:
                errors[f"{prefix}.date_of_birth"] = [_("An infant is under 2 on the day of the first flight.")]
            elif p.passenger_type == PassengerType.CHILD and not 2 <= age <= 11:
                errors[f"{prefix}.date_of_birth"] = [_("A child is 2 to 11 years old on the day of the first flight.")]
            elif p.passenger_type == PassengerType.ADULT and age < 12:
                errors[f"{prefix}.date_of_birth"] = [_("An adult is 12 or older on the day of the first flight.")]
    if counts[PassengerType.ADULT] < 1:
        errors["passengers"] = [_("Every booking needs at least one adult.")]
    elif counts[PassengerType.ADULT] + counts[PassengerType.CHILD] > MAX_SEATS:
        errors["passengers"] = [_("At most %(max)d seats per booking (adults and children).") % {"max": MAX_SEATS}]
    elif counts[PassengerType.INFANT] > counts[PassengerType.ADULT]:
        errors["passengers"] = [_("Each infant travels on the lap of an adult: no more infants than adults.")]
    if errors:
        raise ApplicationError(_("Please correct the passenger details."), fields=errors)
    return counts


def _validate_itinerary(segments: list[SegmentRequest], known: dict[int, Flight] | None = None) -> list[Flight]:
    """The flights in the order asked, each bookable. ``known``: flights already read (with their airports,
    route and aircraft, as below); only the others are read here."""
    if not segments:
        raise ApplicationError(_("Choose at least one flight."), fields={"segments": [_("Choose at least one flight.")]})
    if len(segments) > 6:
        raise ApplicationError(_("At most 6 flights per booking."), fields={"segments": [_("At most 6 flights per booking.")]})
    flights = dict(known or {})
    missing = [s.flight_id for s in segments if s.flight_id not in flights]
    if missing:
        # aircraft_type too: the booking answer shows it, and booking_create hands these flights back on its segments.
        flights.update(Flight.objects.select_related("origin", "destination", "route", "aircraft_type").in_bulk(missing))
    errors: dict[str, list[str]] = {}
    ordered: list[Flight] = []
    now = timezone.now()
    for i, request in enumerate(segments, start=1):
        flight = flights.get(request.flight_id)
        key = f"segments.{i}"
        if flight is None:
            errors[key] = [_("No such flight.")]
            continue
        if request.cabin not in {c for c, _label in FlightCabin._meta.get_field("cabin").choices}:
            errors[f"{key}.cabin"] = [_("Choose a cabin.")]
        if flight.status in (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED):
            errors[key] = [_("%(flight)s is no longer bookable.") % {"flight": flight.flight_code}]
        elif flight.scheduled_departure - now < BOOKING_CUTOFF:
            errors[key] = [_("%(flight)s departs too soon to be booked.") % {"flight": flight.flight_code}]
        least = connection_time(landing=ordered[-1], leaving=flight) if ordered else None
        if least is not None and flight.scheduled_departure < ordered[-1].scheduled_arrival + least:
            errors[key] = [
                _("Each flight must depart at least %(minutes)d minutes after the previous one lands.")
                % {"minutes": int(least.total_seconds() // 60)}
            ]
        ordered.append(flight)
    if errors:
        raise ApplicationError(_("Please check the flights."), fields=errors)
    return ordered


def _trip_type(flights: list[Flight]) -> str:
    """By journeys, so that a flight and its connection through the hub are one way, not multi-city."""
    journeys = rules.journeys(flights)
    if len(journeys) == 1:
        return TripType.ONE_WAY
    if (
        len(journeys) == 2
        and journeys[0][0].origin_id == journeys[1][-1].destination_id
        and journeys[0][-1].destination_id == journeys[1][0].origin_id
    ):
        return TripType.ROUND_TRIP
    return TripType.MULTI_CITY


def _prefill(p: PassengerRequest) -> PassengerRequest:
    """Meals, assistance and documents the customer record already holds, unless entered anew."""
    c = p.customer
    if c is None:
        return p
    p.title = p.title or c.title
    p.date_of_birth = p.date_of_birth or c.date_of_birth
    p.nationality = p.nationality or str(c.nationality or "")
    p.meal = p.meal or c.meal_preference
    p.assistance = p.assistance or list(c.special_assistance)
    if not p.document_number and c.passport_number:
        p.document_type, p.document_number = DocumentType.PASSPORT, c.passport_number
        p.document_expiry = p.document_expiry or c.passport_expiry
        p.document_country = p.document_country or str(c.passport_country or "")
    return p


def _fare_classes(cabins: set[str]) -> list[BookingClass]:
    """The booking classes of these cabins with their fare families, in the model's order (cabin, price per km).

    ``BookingClass.objects.select_related("fare_family").filter(fare_family__cabin__in=cabins)`` in SQL:
    every booking reads it, and the ORM's compiling of it cost more than the answer (``crm.rows``).
    """
    klass, family = columns(BookingClass, "bc"), columns(FareFamily, "ff")
    with connection.cursor() as cursor:
        execute_prepared(  # one placeholder per cabin, so that PostgreSQL plans it once (see crm.rows)
            cursor,
            name=f"booking_fare_classes_{len(cabins)}",
            sql=f"SELECT {klass.sql}, {family.sql} FROM {BookingClass._meta.db_table} bc "  # noqa: S608 - the models' own table and column names
            f"JOIN {FareFamily._meta.db_table} ff ON ff.id = bc.fare_family_id "
            f"WHERE ff.cabin IN ({', '.join(['%s'] * len(cabins))}) ORDER BY ff.cabin, bc.price_per_km, bc.id",
            params=sorted(cabins),
        )
        rows = cursor.fetchall()
    families: dict[int, FareFamily] = {}
    classes = []
    for row in rows:
        booking_class = klass.build(row)
        booking_class.fare_family = families.get(booking_class.fare_family_id) or families.setdefault(
            booking_class.fare_family_id, family.build(row, klass.width)
        )
        classes.append(booking_class)
    return classes


def _tax_rules() -> list[TaxRule]:
    """Every tax rule by code (the model's order); ``TaxRule.objects.all()`` in SQL, as above."""
    rule = columns(TaxRule, "t")
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            name="booking_tax_rules",
            sql=f"SELECT {rule.sql} FROM {TaxRule._meta.db_table} t ORDER BY t.code, t.id",  # noqa: S608 - the models' own table and column names
        )
        return [rule.build(row) for row in cursor.fetchall()]


@transaction.atomic
def booking_create(
    *,
    segments: list[SegmentRequest],
    passengers: list[PassengerRequest],
    contact_email: str,
    channel: str,
    contact_phone: str = "",
    purpose: str = "",
    customer: Customer | None = None,
    by: User | None = None,
    language: str = "en",
    discount_code: str = "",
    options: dict[str, bool] | None = None,
) -> Booking:
    """Hold seats for the whole party on every flight, price it, and record the booking.

    All or nothing: if any flight has too few seats, nothing is taken and the caller gets a 409.
    A ``discount_code`` is priced by the discount hook that knows it (a negative ``discount`` charge
    per fare line) and redeemed in this transaction; every passenger check runs on every traveller.
    ``options`` says which booking options (``hooks.booking_options``, by name) the booker ticked; each
    option offered to the booker is applied once the booking is complete, in this transaction; a name
    no option is registered under is refused (``unknown_booking_option``, under ``options.<name>``).

    The booking comes back knowing what was written, so the answer that shows it can ask
    ``booking_as_written`` instead of reading it again; when an option was ticked, which may change the
    rows (a frequent flyer number), it does not, and the booking is read afresh like any other.
    """
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown booking channel."), fields={"channel": [_("Unknown booking channel.")]})
    refusal = hooks.booking_options_unknown(names=(options or {}).keys())
    if refusal is not None:
        raise refusal
    if purpose and purpose not in TravelPurpose.values:
        raise ApplicationError(_("Choose a purpose of travel from the list."), fields={"purpose": [_("Unknown purpose.")]})
    if not contact_email or "@" not in contact_email:
        raise ApplicationError(_("Enter a contact e-mail."), fields={"contact_email": [_("Enter a valid e-mail address.")]})
    if not segments or len(segments) > 6:
        _validate_itinerary(segments)  # refused before anything is locked
    # The cabins are locked first, their flights read in the same statement; the itinerary is then checked
    # on those flights (a flight without the cabin asked, or no such flight, is read or refused there).
    inventory = _lock_inventory(wanted=[(s.flight_id, s.cabin) for s in segments], with_flights=True)
    flights = _validate_itinerary(segments, known={flight_id: cabin.flight for (flight_id, _c), cabin in inventory.items()})
    first_day = flights[0].service_date
    counts = _validate_party([_prefill(p) for p in passengers], first_day)
    seats = counts[PassengerType.ADULT] + counts[PassengerType.CHILD]

    classes = _fare_classes({s.cabin for s in segments})
    rules = _tax_rules()
    chosen: list[pricing.FareOffer] = []
    for i, (request, flight) in enumerate(zip(segments, flights, strict=True), start=1):
        cabin = inventory.get((flight.pk, request.cabin))
        if cabin is None:
            raise ApplicationError(
                _("%(flight)s has no such cabin.") % {"flight": flight.flight_code},
                fields={f"segments.{i}.cabin": [_("This flight has no such cabin.")]},
            )
        if cabin.available < seats:
            raise Conflict(
                _("Sold out: %(flight)s has %(left)d seats left in %(cabin)s, %(seats)d needed.")
                % {
                    "flight": flight.flight_code,
                    "left": cabin.available,
                    "cabin": cabin.get_cabin_display().lower(),
                    "seats": seats,
                },
                code="sold_out",
            )
        offers = pricing.offers_for(flight=flight, inventory=cabin, classes=classes, rules=rules, counts=counts)
        offer = next((o for o in offers if o.fare_family.code == request.fare_family), None)
        if offer is None:
            raise Conflict(
                _("The %(family)s fare is no longer available on %(flight)s; choose another fare.")
                % {"family": request.fare_family, "flight": flight.flight_code},
                code="fare_unavailable",
            )
        chosen.append(offer)
    for request, flight in zip(segments, flights, strict=True):
        inventory_take(inventory=inventory[(flight.pk, request.cabin)], seats=seats)

    # The booking, its travellers, segments and charges are built in memory first and then inserted with one
    # statement per table (infants, who point at their adult, with a second): the total is known before the
    # booking row is written, and a party of nine costs the same statements as one traveller.
    booking = Booking(
        customer=customer,
        created_by=by if by is not None and by.is_authenticated else None,
        trip_type=_trip_type(flights),
        channel=channel,
        purpose=purpose,
        contact_email=contact_email.strip(),
        contact_phone=contact_phone or "",
        language=language,
        adults=counts[PassengerType.ADULT],
        children=counts[PassengerType.CHILD],
        infants=counts[PassengerType.INFANT],
        currency=chosen[0].currency,
        hold_expires_at=timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
    )
    rows = []
    adults: list[BookingPassenger] = []
    for seq, p in enumerate(passengers, start=1):
        row = BookingPassenger(
            booking=booking, sequence=seq, customer=p.customer, passenger_type=p.passenger_type, title=p.title,
            given_name=p.given_name.strip(), family_name=p.family_name.strip(), date_of_birth=p.date_of_birth,
            nationality=p.nationality, document_type=p.document_type, document_number=p.document_number or None,
            document_expiry=p.document_expiry, document_country=p.document_country, meal=p.meal,
            assistance=list(p.assistance), frequent_flyer_number=p.frequent_flyer_number.strip(),
        )  # fmt: skip
        if p.passenger_type == PassengerType.INFANT:
            row.travelling_with = adults[len([r for r in rows if r.passenger_type == PassengerType.INFANT])] if adults else None
        if p.passenger_type == PassengerType.ADULT:
            adults.append(row)
        rows.append(row)
    if any(r.passenger_type == PassengerType.INFANT and r.travelling_with is None for r in rows):
        raise ApplicationError(
            _("List the adults before the infants they carry."), fields={"passengers": [_("List adults first.")]}
        )

    charges = []
    booked_segments = []
    for seq, (offer, flight) in enumerate(zip(chosen, flights, strict=True), start=1):
        segment = Segment(
            booking=booking, flight=flight, sequence=seq, cabin=offer.cabin,
            booking_class=offer.booking_class, fare_family=offer.fare_family,
        )  # fmt: skip
        booked_segments.append(segment)
        for row in rows:
            price = offer.prices[row.passenger_type]
            charges.append(BookingCharge(
                booking=booking, passenger=row, segment=segment, kind=ChargeKind.FARE, code=offer.booking_class.code,
                description=f"{flight.flight_code} {offer.fare_family.name} ({row.get_passenger_type_display()})",
                amount=price.fare, currency=offer.currency,
            ))  # fmt: skip
            charges.extend(
                BookingCharge(
                    booking=booking,
                    passenger=row,
                    segment=segment,
                    kind=ChargeKind.TAX,
                    code=tax.code,
                    description=f"{flight.flight_code} {tax.name}",
                    amount=tax.amount,
                    currency=offer.currency,
                )  # fmt: skip
                for tax in price.taxes
            )
    discounted = _discount(
        code=discount_code, charges=charges, channel=channel, first_day=first_day, customer=customer, counts=counts
    )
    booking.total_amount = pricing.money(sum((c.amount for c in charges), Decimal(0)))
    # In SQL (crm.rows.insert) rather than save() and bulk_create(): the same statements, without the ORM
    # compiling each of them on every booking. Nothing listens to these models' save signals.
    insert([booking])
    insert([r for r in rows if r.passenger_type != PassengerType.INFANT])
    if counts[PassengerType.INFANT]:
        insert([r for r in rows if r.passenger_type == PassengerType.INFANT])
    insert(booked_segments)
    insert(charges)
    hooks.passengers_check(passengers=[(f"passengers.{r.sequence}", r) for r in rows], booking=booking, stage=hooks.BOOKING)

    route = " – ".join([flights[0].origin.iata_code, *(f.destination.iata_code for f in flights)])
    for person in {c.pk: c for c in [customer, *(r.customer for r in rows)] if c is not None}.values():
        timeline_record(
            customer=person,
            kind="booking.created",
            message=gettext_noop("Booking %(locator)s made: %(route)s"),
            params={"locator": booking.record_locator, "route": route},
            data={"record_locator": booking.record_locator, "channel": channel},
            actor=by,
        )
    if discounted is not None:
        name, discount = discounted
        hooks.discounts.get(name).redeem(discount=discount, booking=booking)
    hooks.booking_options_apply(booking=booking, customer=customer, ticked=options or {}, by=by)
    if not any((options or {}).values()):
        # Kept aside, not attached: a caller that goes on to pay or ticket reads the booking as it then is.
        booking._written = (rows, booked_segments, charges)
    send_after_commit(
        events.booking_created,
        sender=Booking,
        booking_id=booking.pk,
        record_locator=booking.record_locator,
        channel=channel,
        customer_id=booking.customer_id,
    )
    return booking


def _cached(manager, objects: list) -> object:  # noqa: ANN001
    """``manager``'s queryset with its result already known, as ``prefetch_related`` leaves it."""
    queryset = manager.all()
    queryset._result_cache, queryset._prefetch_done = list(objects), True
    return queryset


def _attach_as_written(
    booking: Booking, *, rows: list[BookingPassenger], segments: list[Segment], charges: list[BookingCharge]
) -> None:
    """Fill the booking's related caches with the rows just inserted: everything
    ``selectors.booking_office_queryset`` would read back (passengers with their customers, segments with
    flight, class and fare family, charges in id order), and the payments, refunds, tickets, seats and
    check-ins a booking made a moment ago cannot have yet. The API answers a booking with it, so a
    booking costs no second read of what it has just written."""
    for segment in segments:
        segment._prefetched_objects_cache = {
            "check_ins": _cached(segment.check_ins, []),
            "seat_assignments": _cached(segment.seat_assignments, []),
        }
    booking._prefetched_objects_cache = {
        "passengers": _cached(booking.passengers, rows),
        "segments": _cached(booking.segments, segments),
        "charges": _cached(booking.charges, charges),
        "payments": _cached(booking.payments, []),
        "refunds": _cached(booking.refunds, []),
        "tickets": _cached(booking.tickets, []),
    }
    booking._as_written = True


def booking_as_written(booking: Booking) -> bool:
    """Attach to the booking ``booking_create`` just returned what it wrote; False when there is nothing to attach.

    Only for showing the booking at once (the API's answer to a booking): the related caches say "no
    tickets, no payments", which stops being true as soon as anything else happens to the booking.
    """
    written = getattr(booking, "_written", None)
    if written is None:
        return getattr(booking, "_as_written", False)
    rows, segments, charges = written
    _attach_as_written(booking, rows=rows, segments=segments, charges=charges)
    booking._written = None
    return True


def _discount(
    *,
    code: str,
    charges: list[BookingCharge],
    channel: str,
    first_day: date,
    customer: Customer | None,
    counts: dict[str, int],
) -> tuple[str, hooks.Discount] | None:
    """Price ``code`` against the fare lines and add its negative charges, spread over the fares.

    Each fare line carries its share, so a later change or cancellation values a flight net of it.
    """
    if not (code or "").strip():
        return None
    fares = [c for c in charges if c.kind == ChargeKind.FARE]
    draft = hooks.BookingDraft(
        channel=channel,
        currency=charges[0].currency,
        first_day=first_day,
        fare_lines=tuple(
            hooks.PriceLine(
                passenger_sequence=c.passenger.sequence,  # the rows are not saved yet: no ids
                passenger_type=c.passenger.passenger_type,
                segment_sequence=c.segment.sequence,
                flight_id=c.segment.flight_id,
                cabin=c.segment.cabin,
                fare_family=c.segment.fare_family.code,
                amount=c.amount,
            )  # fmt: skip
            for c in fares
        ),
        taxes_total=sum((c.amount for c in charges if c.kind == ChargeKind.TAX), Decimal(0)),
        customer=customer,
        counts=dict(counts),
    )
    name, discount = hooks.discount_apply(code=code, draft=draft)
    total, granted = draft.fare_total, pricing.money(discount.amount)
    shares = [pricing.money(granted * fare.amount / total) for fare in fares]
    largest = max(range(len(fares)), key=lambda i: fares[i].amount)
    shares[largest] += granted - sum(shares, Decimal(0))  # the rounding cents go on the dearest fare
    for fare, share in zip(fares, shares, strict=True):
        # A code worth no money (bonus miles) still leaves its line, on the dearest fare, to show and to release.
        if share or (not granted and fare is fares[largest]):
            charges.append(BookingCharge(
                booking=fare.booking, passenger=fare.passenger, segment=fare.segment, kind=ChargeKind.DISCOUNT,
                code=discount.code[: hooks.DISCOUNT_CODE_MAX], description=discount.description[:200], amount=-share,
                currency=fare.currency,
            ))  # fmt: skip
    return name, discount


def _release_booking_seats(booking: Booking) -> None:
    """Give back every confirmed segment's seats and seat assignments."""
    segments = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).order_by("flight_id"))
    cabins = _lock_inventory(wanted=[(s.flight_id, s.cabin) for s in segments])
    for segment in segments:
        if (segment.flight_id, segment.cabin) in cabins:
            inventory_release(flight_id=segment.flight_id, cabin=segment.cabin, seats=booking.seats)
        segment.seat_assignments.all().delete()


def booking_expire_hold(*, booking_id: int) -> Booking | None:
    """Release an unpaid hold whose time is up; a booking paid meanwhile is left alone.

    Locks flight cabins before the booking, like every other writer. A hold partly paid (a voucher,
    say) is cancelled instead, which refunds what was paid.
    """
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None or booking.status != BookingStatus.HELD:
        return booking
    if _payment_settling(booking):
        return booking
    if booking.paid_amount > booking.refunded_amount:
        if booking.hold_expires_at and booking.hold_expires_at <= timezone.now():
            return booking_cancel(booking=booking, reason=_("The hold expired before the booking was fully paid."))
        return booking
    planned = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).values_list("flight_id", "cabin"))
    with transaction.atomic():
        _inventory, booking = _lock_for_change(booking=booking, flights=planned)
        if booking.status != BookingStatus.HELD or booking.paid_amount > booking.refunded_amount or _payment_settling(booking):
            return booking
        if booking.hold_expires_at and booking.hold_expires_at > timezone.now():
            return booking
        _release_booking_seats(booking)
        hooks.discounts_release(booking=booking)
        booking.status = BookingStatus.EXPIRED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at", "updated_at"])
        if booking.customer_id:
            timeline_record(
                customer=booking.customer,
                kind="booking.expired",
                message=gettext_noop("Booking %(locator)s expired unpaid; its seats were released."),
                params={"locator": booking.record_locator},
                data={"record_locator": booking.record_locator},
            )
        send_after_commit(
            events.booking_cancelled,
            sender=Booking,
            booking_id=booking.pk,
            record_locator=booking.record_locator,
            reason="expired",
        )
        _cancellation_queue(
            booking=booking,
            segments=list(booking.segments.filter(status=SegmentStatus.CONFIRMED)),
            refunds=[],
            fees=Decimal("0"),
            reason="expired",
        )
    return booking


def _payment_settling(booking: Booking) -> bool:
    """A card payment still at the gateway, or a paid hold whose tickets failed: the payment sweep's to finish."""
    paid = booking.paid_amount > booking.refunded_amount and booking.balance_due <= 0
    return paid or booking.payments.filter(status=PaymentStatus.PENDING).exists()


def booking_expire_holds(*, limit: int = 500) -> int:
    """Expire every overdue hold, each in its own transaction (the periodic task calls this)."""
    overdue = list(
        Booking.objects.filter(status=BookingStatus.HELD, hold_expires_at__lte=timezone.now())
        .order_by("hold_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for booking_id in overdue:
        booking = booking_expire_hold(booking_id=booking_id)
        if booking is not None and booking.status == BookingStatus.EXPIRED:
            expired += 1
    return expired
