"""Reactions to other apps' events and this app's customer-record extension.

Bookings, tickets, payments and check-ins appear on the customer 360, in "download my data", in erasure
and merge, and booking references and ticket numbers find the customer in the office search box.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.fields import ArrayField
from django.db import models, transaction
from django.db.models import F, Func, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import registry
from crm.models import Cabin, Customer, User
from reservations import selectors
from reservations.forms import FlightSearchForm
from reservations.models import Booking, BookingPassenger, Coupon, CouponStatus, TravelVoucher

PANEL_BOOKINGS = 10


# --- Customer 360 -----------------------------------------------------------------------------


def bookings_panel(request, customer: Customer) -> registry.Panel | None:  # noqa: ANN001
    """The customer's latest bookings; only for staff who may see bookings."""
    user = request.user
    if not user.has_perm("reservations.view_booking"):
        return None
    bookings = list(selectors.bookings_for_customer_panel(customer=customer)[: PANEL_BOOKINGS + 1])
    rows = []
    for booking in bookings[:PANEL_BOOKINGS]:
        segments = list(booking.segments.all())
        rows.append(
            {
                "booking": booking,
                "segments": segments,
                "role": _("booked") if booking.customer_id == customer.pk else _("travels"),
                "tickets": list(booking.tickets.all()),
                "payments": list(booking.payments.all()),
                "check_ins": sum(len(s.check_ins.all()) for s in segments),
            }
        )
    return registry.Panel(
        title=_("Bookings"),
        template="office/reservations/panels/bookings.html",
        context={
            "rows": rows,
            "more": len(bookings) > PANEL_BOOKINGS,
            "can_open": user.has_perms(("reservations.view_booking", "reservations.view_bookingpassenger")),
            "can_book": user.has_perms(("reservations.add_booking", "crm.view_customer")),
        },
        order=20,
    )


# --- Download my data -------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def _money(amount: Any, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency": currency}


def _passenger(p: BookingPassenger) -> dict[str, Any]:
    return {
        "sequence": p.sequence,
        "type": p.passenger_type,
        "title": p.title,
        "given_name": p.given_name,
        "family_name": p.family_name,
        "date_of_birth": _iso(p.date_of_birth),
        "nationality": str(p.nationality or ""),
        "document_type": p.document_type,
        "document_number": p.document_number or "",
        "document_expiry": _iso(p.document_expiry),
        "document_country": str(p.document_country or ""),
        "meal": p.meal,
        "assistance": list(p.assistance),
        "frequent_flyer_number": p.frequent_flyer_number,
    }


def export_bookings(customer: Customer) -> dict[str, Any]:
    """Every booking the customer made or travels on.

    On a booking they made, everything is theirs (they entered the party and paid). On a booking someone
    else made, only their own passenger record, tickets and check-ins: the others' data and the booker's
    payments belong to those people.
    """
    bookings = selectors.booking_office_queryset().filter(pk__in=selectors.bookings_for_customer(customer=customer).values("pk"))
    exported = []
    for booking in bookings.order_by("created_at", "id"):
        own = booking.customer_id == customer.pk
        passengers = [p for p in booking.passengers.all() if own or p.customer_id == customer.pk]
        mine = {p.pk for p in passengers}
        segments = list(booking.segments.all())
        item: dict[str, Any] = {
            "record_locator": booking.record_locator,
            "booked_by_you": own,
            "status": booking.status,
            "trip_type": booking.trip_type,
            "channel": booking.channel,
            "purpose": booking.purpose,
            "created_at": _iso(booking.created_at),
            "cancelled_at": _iso(booking.cancelled_at),
            "passengers": [_passenger(p) for p in passengers],
            "segments": [
                {
                    "sequence": s.sequence,
                    "flight": s.flight.flight_code,
                    "date": _iso(s.flight.service_date),
                    "origin": s.flight.origin.iata_code,
                    "destination": s.flight.destination.iata_code,
                    "scheduled_departure": _iso(s.flight.scheduled_departure),
                    "scheduled_arrival": _iso(s.flight.scheduled_arrival),
                    "cabin": s.cabin,
                    "booking_class": s.booking_class.code,
                    "fare_family": s.fare_family.name,
                    "status": s.status,
                    "seats": [
                        {"passenger": _seq(passengers, a.passenger_id), "seat": a.seat}
                        for a in s.seat_assignments.all()
                        if a.passenger_id in mine
                    ],
                    "check_ins": [
                        {
                            "passenger": _seq(passengers, c.passenger_id),
                            "seat": c.seat,
                            "bags": c.bags,
                            "bag_weights_kg": [str(w) for w in c.bag_weights_kg],
                            "hand_carry": c.hand_carry,
                            "excess_baggage_fee": str(c.excess_baggage_fee),
                            "checked_in_at": _iso(c.checked_in_at),
                        }
                        for c in s.check_ins.all()
                        if c.passenger_id in mine
                    ],
                }
                for s in segments
            ],
            "tickets": [
                {
                    "number": t.number,
                    "passenger": _seq(passengers, t.passenger_id),
                    "status": t.status,
                    "issued_at": _iso(t.issued_at),
                    "coupons": [
                        {"number": c.number, "flight": c.segment.flight.flight_code, "status": c.status} for c in t.coupons.all()
                    ],
                }
                for t in booking.tickets.all()
                if t.passenger_id in mine
            ],
        }
        if own:
            item["contact_email"] = booking.contact_email
            item["contact_phone"] = str(booking.contact_phone or "")
            item["total"] = _money(booking.total_amount, booking.currency)
            item["charges"] = [
                {"kind": c.kind, "code": c.code, "description": c.description, **_money(c.amount, c.currency)}
                for c in booking.charges.all()
            ]
            item["payments"] = [
                {
                    "method": p.method,
                    "status": p.status,
                    **_money(p.amount, p.currency),
                    "card_brand": p.card_brand,
                    "card_last4": p.card_last4,
                    "created_at": _iso(p.created_at),
                }
                for p in booking.payments.all()
            ]
            item["refunds"] = [
                {"status": r.status, **_money(r.amount, r.currency), "reason": r.reason, "created_at": _iso(r.created_at)}
                for r in booking.refunds.all()
            ]
        exported.append(item)
    vouchers = [
        {
            "code": v.code,
            "value": _money(v.initial_amount, v.currency),
            "balance": str(v.balance),
            "valid_until": _iso(v.expires_on),
        }
        for v in TravelVoucher.objects.filter(customer=customer).order_by("created_at", "id")
    ]
    return {"bookings": exported, "travel_vouchers": vouchers}


def _seq(passengers: list[BookingPassenger], passenger_id: int) -> int | None:
    return next((p.sequence for p in passengers if p.pk == passenger_id), None)


# --- Erasure and merge ------------------------------------------------------------------------


def erase_bookings(customer: Customer) -> None:
    """Anonymize the travellers this customer is or entered, and the contact details they gave.

    Tickets, coupons, charges, payments (brand and last 4 only) and refunds stay: the airline must keep
    its money and travel records. Co-travellers who have their own customer record keep their names.
    """
    erased = _("Erased")
    travellers = BookingPassenger.objects.filter(customer=customer) | BookingPassenger.objects.filter(
        booking__customer=customer, customer__isnull=True
    )
    travellers.update(
        title="",
        given_name=erased,
        family_name=erased,
        date_of_birth=None,
        nationality="",
        document_type="",
        document_number=None,
        document_expiry=None,
        document_country="",
        meal="",
        assistance=[],
        frequent_flyer_number="",
    )
    Booking.objects.filter(customer=customer).update(contact_email="", contact_phone="")


@transaction.atomic
def merge_bookings(survivor: Customer, loser: Customer) -> dict[str, int]:
    return {
        "bookings": Booking.objects.filter(customer=loser).update(customer=survivor),
        "passengers": BookingPassenger.objects.filter(customer=loser).update(customer=survivor),
        "travel_vouchers": TravelVoucher.objects.filter(customer=loser).update(customer=survivor),
    }


def search_customers(query: str) -> set[int]:
    return selectors.booking_customer_ids(query=query)


# --- Customer 360 API ----------------------------------------------------------------------


def bookings_section(customer: Customer, user: User) -> dict[str, Any] | None:
    """The latest bookings and the customer's flying, for staff who may see bookings (a fixed number of queries)."""
    if not user.has_perm("reservations.view_booking"):
        return None
    flying = (
        registry.annotate(
            Customer.objects.filter(pk=customer.pk).values("pk"),
            "last_flight_date",
            registry.attribute("flights_in_last_months").bind(alias="flights_last_12_months", months=12),
        ).first()
        or {}
    )
    bookings = list(selectors.bookings_for_customer(customer=customer)[:PANEL_BOOKINGS])
    return {
        "last_flight_date": _iso(flying.get("last_flight_date")),
        "flights_last_12_months": flying.get("flights_last_12_months", 0),
        "bookings": [
            {
                "record_locator": b.record_locator,
                "status": b.status,
                "booked_by_customer": b.customer_id == customer.pk,
                "created_at": _iso(b.created_at),
                "total": _money(b.total_amount, b.currency),
                "segments": [
                    {
                        "flight": s.flight.flight_code,
                        "date": _iso(s.flight.service_date),
                        "origin": s.flight.origin.iata_code,
                        "destination": s.flight.destination.iata_code,
                        "cabin": s.cabin,
                        "status": s.status,
                    }
                    for s in b.segments.all()
                ],
            }
            for b in bookings
        ],
    }


def _bookings_section_serializer() -> type:
    from rest_framework import serializers

    from reservations.models import BookingStatus, SegmentStatus

    class Customer360MoneySerializer(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
        currency = serializers.CharField()

    class Customer360SegmentSerializer(serializers.Serializer):
        flight = serializers.CharField()
        date = serializers.DateField()
        origin = serializers.CharField()
        destination = serializers.CharField()
        cabin = serializers.ChoiceField(choices=Cabin.choices)
        status = serializers.ChoiceField(choices=SegmentStatus.choices)

    class Customer360BookingSerializer(serializers.Serializer):
        record_locator = serializers.CharField()
        status = serializers.ChoiceField(choices=BookingStatus.choices)
        booked_by_customer = serializers.BooleanField(help_text="False: the customer travels on someone else's booking.")
        created_at = serializers.DateTimeField()
        total = Customer360MoneySerializer()
        segments = Customer360SegmentSerializer(many=True)

    class Customer360ReservationsSerializer(serializers.Serializer):
        last_flight_date = serializers.DateField(allow_null=True)
        flights_last_12_months = serializers.IntegerField()
        bookings = Customer360BookingSerializer(many=True, help_text=f"The latest {PANEL_BOOKINGS}, newest first.")

    return Customer360ReservationsSerializer


# --- Customer attributes ----------------------------------------------------------------------


def _flown():  # noqa: ANN202
    """The customer's flown coupons (as a traveller, whoever booked)."""
    return Coupon.objects.filter(status=CouponStatus.FLOWN, ticket__passenger__customer=OuterRef("pk")).order_by()


def _last_flight_date() -> models.Expression:
    latest = _flown().order_by("-segment__flight__service_date").values("segment__flight__service_date")[:1]
    return Subquery(latest, output_field=models.DateField())


def _flights_in_last_months(*, months: int) -> models.Expression:
    since = registry.months_before(timezone.localdate(), months)
    count = _flown().filter(segment__flight__service_date__gte=since).annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(count, output_field=models.IntegerField()), 0)


def _list_of(expression: Any) -> models.Expression:
    """The distinct values of ``expression`` over the customer's flown coupons, sorted, as text[]."""
    text_list = ArrayField(models.TextField())
    text = Cast(expression, models.TextField())
    values = (
        _flown()
        .values("ticket__passenger__customer")
        .annotate(items=ArrayAgg(text, distinct=True, order_by=text))
        .values("items")
    )
    return Coalesce(Subquery(values, output_field=text_list), Value([], output_field=text_list))


def _routes_flown() -> models.Expression:
    return _list_of(Concat("segment__flight__origin__iata_code", Value("-"), "segment__flight__destination__iata_code"))


def _cabins_flown() -> models.Expression:
    return _list_of(F("segment__cabin"))


for _attribute in (
    registry.CustomerAttribute(
        key="last_flight_date", label=gettext_lazy("Last flight"), type=registry.DATE, expression=_last_flight_date,
        app="reservations", description=gettext_lazy("Date of the last flight flown, as a traveller."),
    ),
    registry.CustomerAttribute(
        key="flights_in_last_months", label=gettext_lazy("Flights in the last months"), type=registry.INTEGER,
        expression=_flights_in_last_months, app="reservations",
        params=(registry.AttributeParam("months", gettext_lazy("Months"), default=12, minimum=1, maximum=120),),
        description=gettext_lazy("Flights flown in the last N months."),
    ),
    registry.CustomerAttribute(
        key="routes_flown", label=gettext_lazy("Routes flown"), type=registry.LIST, expression=_routes_flown,
        app="reservations", description=gettext_lazy("Every route flown, as ORIGIN-DESTINATION airport codes."),
    ),
    registry.CustomerAttribute(
        key="cabins_flown", label=gettext_lazy("Cabins flown"), type=registry.LIST, expression=_cabins_flown,
        app="reservations", choices=tuple(Cabin.choices), description=gettext_lazy("Every cabin flown in."),
    ),
):  # fmt: skip
    registry.register_attribute(_attribute)


# --- The portal home page: a flight search first, as airlines' home pages have -----------------


def flight_search_home_section(request: Any, customer: Customer | None) -> registry.Panel:
    """The search form of the flights page, from the passenger's home airport when we know it."""
    initial = {"origin": customer.home_airport} if customer is not None and customer.home_airport else {}
    form = FlightSearchForm(initial=initial, airports=selectors.airport_choices())
    return registry.Panel(
        title=_("Book a flight"), template="portal/reservations/includes/home_search.html", context={"form": form}, order=10
    )


registry.register_home_section("reservations_flight_search", flight_search_home_section)


# --- Navigation -------------------------------------------------------------------------------

SEE_BOOKINGS = ("reservations.view_booking", "reservations.view_bookingpassenger")
registry.register_nav(
    registry.NavItem(registry.OFFICE, gettext_lazy("Bookings"), "reservations_office:booking_search", SEE_BOOKINGS, order=20),
    registry.NavItem(registry.OFFICE, gettext_lazy("Flights"), "reservations_office:flight_list", ("reservations.view_flight",), order=30),
    registry.NavItem(registry.OFFICE, gettext_lazy("Disruptions"), "reservations_office:disruption_list", SEE_BOOKINGS, order=40),
    registry.NavItem(registry.PORTAL, gettext_lazy("Book a flight"), "reservations_portal:search", current=("search", "book"), order=10),
    registry.NavItem(
        registry.PORTAL, gettext_lazy("My trips"), "reservations_portal:trips", audience=registry.SIGNED_IN, current=("trips",), order=20
    ),
    registry.NavItem(registry.PORTAL, gettext_lazy("Check in"), "reservations_portal:check_in_lookup", current=("check_in_lookup",), order=30),
    registry.NavItem(registry.PORTAL, gettext_lazy("Flight status"), "reservations_portal:flight_status", current=("flight_status",), order=40),
)  # fmt: skip


registry.register(
    registry.CustomerExtension(
        label="reservations",
        panel=bookings_panel,
        api_section=bookings_section,
        api_serializer=_bookings_section_serializer(),
        exporter=export_bookings,
        eraser=erase_bookings,
        merger=merge_bookings,
        searcher=search_customers,
        order=20,
    )
)


# --- Demo data --------------------------------------------------------------------------------


def _seed_demo(*, stdout=None) -> str:  # noqa: ANN001
    from reservations import demo

    return demo.seed(stdout=stdout)


# After loyalty (30): the demo passenger is a member when her trips are booked and flown.
registry.register_demo_seeder("reservations", _seed_demo, order=40)
