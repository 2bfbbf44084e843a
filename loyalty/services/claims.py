"""Retro claims: a member asks for the miles of a flight flown without their number on the booking.

The claim names a 13-digit e-ticket. It is honoured for the ticket's flown coupons within
``Programme.retro_claim_months`` of the flight, when the ticket's traveller carries the member's family
name and given name (case, accents, spaces and punctuation aside, compared as the frequent flyer number
check compares names): a relative of the same family name cannot claim another's flight; each coupon is credited with the ``coupon:<id>`` key the arrival and the
sweep use, so a coupon is credited once whoever gets there first. An award ticket (its booking paid
with miles) is refused: award tickets earn no miles. Every claim the rules look at is
recorded (credited, or refused with a code rendered in the reader's language when shown), and a refusal
is also raised as an ``ApplicationError`` naming the ``ticket_number`` field.
"""

from __future__ import annotations

import re
from datetime import date

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from crm.errors import ApplicationError
from crm.models import User
from crm.registry import months_before
from crm.services import timeline_record
from crm.timeline import label
from loyalty.models import ClaimStatus, Member, MemberStatus, MilesEntry, RetroClaim
from loyalty.selectors import programme
from loyalty.services.accrual import coupons_credited, miles_accrue_for_coupons, paid_with_miles
from loyalty.services.membership import name_fold
from reservations.models import Coupon, CouponStatus, Ticket

FIELD = "ticket_number"
TICKET_NUMBER = re.compile(r"^[0-9]{13}$")

# Refusal codes and what they say; stored as codes on the claim, rendered when shown.
REFUSALS = {
    "unknown_ticket": gettext_lazy("We have no e-ticket with this number."),
    "name_mismatch": gettext_lazy("This e-ticket was issued to a traveller with another family name."),
    "given_name_mismatch": gettext_lazy(
        "This e-ticket was issued to a traveller with another given name: only the traveller named on it can claim its miles."
    ),
    "not_flown": gettext_lazy("No flight on this e-ticket has been flown yet."),
    "too_old": gettext_lazy("The flights on this e-ticket are too old to be claimed."),
    "award_ticket": gettext_lazy("This e-ticket was paid with miles; award tickets earn no miles."),
    "already_credited": gettext_lazy("The miles for the flights on this e-ticket have already been credited."),
}


class ClaimRefused(ApplicationError):
    """A claim the rules turned down; ``claim`` is the refused claim as recorded."""

    def __init__(self, claim: RetroClaim) -> None:
        message = str(REFUSALS[claim.refusal])
        super().__init__(message, code=claim.refusal, fields={FIELD: [message]})
        self.claim = claim


def refusal_message(code: str) -> str:
    """A refusal code in the reader's language (empty for none)."""
    return str(REFUSALS.get(code, code)) if code else ""


def ticket_number_clean(value: str) -> str:
    """Digits only: people type ticket numbers with spaces and dashes (``878-1234567890``)."""
    return re.sub(r"[\s-]", "", value or "")


def retro_claim_submit(*, member: Member, ticket_number: str, by: User | None = None) -> RetroClaim:
    """Credit the member with the flown, uncredited coupons of their e-ticket; returns the credited claim.

    A bad number is refused before anything is recorded. Any other refusal is recorded as a refused
    claim (so the member's list shows it, and agents see repeated tries) and raised as ``ClaimRefused``.
    """
    number = ticket_number_clean(ticket_number)
    if not TICKET_NUMBER.match(number):
        message = _("An e-ticket number has 13 digits, e.g. 878 1234567890.")
        raise ApplicationError(message, code="invalid_ticket_number", fields={FIELD: [message]})
    if member.status != MemberStatus.ACTIVE:
        message = _("This membership is closed.")
        raise ApplicationError(message, code="member_closed", fields={FIELD: [message]}, status=409)
    with transaction.atomic():  # the credit, its claim and the timeline line together; a refusal is kept too
        refusal, flight_date, credited = _claim_apply(member=member, number=number, by=by)
        claim = RetroClaim.objects.create(
            member=member,
            ticket_number=number,
            flight_date=flight_date,
            status=ClaimStatus.REFUSED if refusal else ClaimStatus.CREDITED,
            refusal=refusal,
            miles=credited,
        )
        if not refusal and member.customer_id:
            timeline_record(
                customer=member.customer,
                kind="loyalty.claim_credited",
                message=gettext_noop("Missing miles credited for e-ticket %(ticket)s: %(miles)s miles"),
                params={"ticket": number, "miles": label("crm.number", credited)},
                data={"claim_id": claim.pk, "ticket_number": number, "miles": credited},
                actor=by,
            )
    if refusal:
        raise ClaimRefused(claim)
    return claim


@transaction.atomic
def _claim_apply(*, member: Member, number: str, by: User | None) -> tuple[str, date | None, int]:
    """The rules in the order a member can act on: (refusal code or "", flight date, miles credited)."""
    ticket = Ticket.objects.select_related("passenger").filter(number=number).first()
    if ticket is None:
        return "unknown_ticket", None, 0
    customer = member.customer if member.customer_id else None
    if name_fold(ticket.passenger.family_name) != name_fold(customer.family_name if customer else ""):
        return "name_mismatch", None, 0
    if name_fold(ticket.passenger.given_name) != name_fold(customer.given_name if customer else ""):
        return "given_name_mismatch", None, 0
    flown = list(
        Coupon.objects.filter(ticket=ticket, status=CouponStatus.FLOWN)
        .select_related("segment__flight")
        .order_by("segment__flight__scheduled_departure", "pk")
    )
    if not flown:
        return "not_flown", None, 0
    oldest_allowed = months_before(timezone.localdate(), programme().retro_claim_months)
    recent = [c for c in flown if c.segment.flight.service_date >= oldest_allowed]
    flight_date = (recent or flown)[0].segment.flight.service_date
    if not recent:
        return "too_old", flight_date, 0
    if Ticket.objects.filter(pk=ticket.pk).filter(paid_with_miles("booking_id")).exists():
        return "award_ticket", flight_date, 0
    open_ids = {c.pk for c in recent} - coupons_credited(coupon_ids=[c.pk for c in recent])
    if not open_ids:
        return "already_credited", flight_date, 0
    member = Member.objects.select_related("tier").get(pk=member.pk)
    inserted = miles_accrue_for_coupons(coupons=Coupon.objects.filter(pk__in=open_ids), member=member, via="claim", by=by)
    if not inserted:  # the arrival or the sweep got there in the meantime
        return "already_credited", flight_date, 0
    miles = MilesEntry.objects.filter(pk__in=inserted).aggregate(total=Sum("award_miles"))["total"] or 0
    return "", flight_date, miles


__all__ = ["REFUSALS", "ClaimRefused", "refusal_message", "retro_claim_submit", "ticket_number_clean"]
