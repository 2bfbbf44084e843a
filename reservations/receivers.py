"""Reactions to other apps' events and this app's customer-record extension.

Bookings, tickets, payments and check-ins appear on the customer 360, in "download my data", in erasure
and merge, and booking references and ticket numbers find the customer in the office search box.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm import registry
from crm.models import Customer
from reservations import selectors
from reservations.models import Booking, BookingPassenger, TravelVoucher

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


registry.register(
    registry.CustomerExtension(
        label="reservations",
        panel=bookings_panel,
        exporter=export_bookings,
        eraser=erase_bookings,
        merger=merge_bookings,
        searcher=search_customers,
        order=20,
    )
)
