"""What a passenger chooses when their flight is cancelled or long delayed: another flight, a refund, or
keeping the delayed flight. Each applies the office's own rules (``booking_rebook``, an involuntary
``booking_cancel``); each is taken once: a second request finds the disruption settled and changes nothing.

The e-mail that announces a disruption carries one link per choice: a signed token naming the booking,
the choice and (for a flight) the flight. The token only says what was offered; the passenger still logs
in, only their own booking is reached, and the choice is confirmed on the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.models import User
from crm.services import timeline_record
from reservations.models import Booking, BookingStatus
from reservations.selectors.operations import booking_disruption, disrupted_segment
from reservations.services.cancellation import booking_cancel
from reservations.services.changes import booking_rebook
from reservations.services.common import _local, _people

REBOOK, REFUND, KEEP = "rebook", "refund", "keep"
CHOICES = (REBOOK, REFUND, KEEP)
CHOICE_SALT = "reservations.disruption.choice"
# A disruption e-mail's links stay good for as long as the trip can still be changed.
CHOICE_MAX_AGE_SECONDS = 14 * 24 * 3600
# Alternatives named in the e-mail itself; the options page lists them all.
EMAIL_ALTERNATIVES = 3


@dataclass(frozen=True)
class DisruptionChoice:
    """What a signed link offers: one booking, one choice, and the flight for a rebooking."""

    record_locator: str
    choice: str
    flight_id: int | None = None


def disruption_choice_sign(*, record_locator: str, choice: str, flight_id: int | None = None) -> str:
    if choice not in CHOICES:
        raise ValueError(choice)
    return signing.dumps({"l": record_locator, "c": choice, "f": flight_id}, salt=CHOICE_SALT, compress=True)


def disruption_choice_read(*, token: str) -> DisruptionChoice:
    """The choice a link offers; a tampered, malformed or expired link is a clear 400, never a 500."""
    try:
        data = signing.loads(token or "", salt=CHOICE_SALT, max_age=CHOICE_MAX_AGE_SECONDS)
        choice = DisruptionChoice(record_locator=str(data["l"]), choice=str(data["c"]), flight_id=data.get("f"))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ApplicationError(
            _("This link is not valid or has expired; see your options on your trip page."), code="link_invalid"
        )
    if choice.choice not in CHOICES or (choice.choice == REBOOK) != isinstance(choice.flight_id, int):
        raise ApplicationError(
            _("This link is not valid or has expired; see your options on your trip page."), code="link_invalid"
        )
    return choice


def disruption_choice_path(*, record_locator: str, choice: str, flight_id: int | None = None) -> str:
    """The portal page that confirms this choice, as the e-mail and the options page link to it."""
    token = disruption_choice_sign(record_locator=record_locator, choice=choice, flight_id=flight_id)
    try:
        base = reverse("reservations_portal:disruption_choice", kwargs={"record_locator": record_locator})
    except NoReverseMatch:
        return "/"
    return f"{base}?{urlencode({'choice': token})}"


def disruption_email_context(*, booking: Booking) -> dict:
    """The links of the disruption e-mail: the options page, and one confirmation link per choice.

    Codes and data only; the template says them in the passenger's language.
    """
    disruption = booking_disruption(booking=booking)
    if disruption is None:
        return {}
    locator = booking.record_locator
    try:
        options_path = reverse("reservations_portal:disruption", kwargs={"record_locator": locator})
    except NoReverseMatch:
        options_path = "/"
    return {
        "options_path": options_path,
        "alternatives": [
            {
                "flight_code": f.flight_code,
                "departure": _local(f.departure_time, f.origin),
                "path": disruption_choice_path(record_locator=locator, choice=REBOOK, flight_id=f.pk),
            }
            for f in disruption.alternatives[:EMAIL_ALTERNATIVES]
        ],
        "refund_path": disruption_choice_path(record_locator=locator, choice=REFUND),
        "keep_path": disruption_choice_path(record_locator=locator, choice=KEEP) if disruption.may_keep else "",
    }


def _settled() -> Conflict:
    return Conflict(
        _("Your choice for this disruption is already recorded; nothing more was changed."), code="disruption_settled"
    )


def _current(booking: Booking):  # noqa: ANN202
    fresh = Booking.objects.prefetch_related("segments__flight").get(pk=booking.pk)
    disruption = booking_disruption(booking=fresh)
    if disruption is None:
        raise _settled()
    return fresh, disruption


def booking_disruption_rebook(*, booking: Booking, new_flight_id: int, by: User | None) -> Booking:
    """Move the passengers off the disrupted flight onto one of the alternatives the office would offer."""
    fresh, disruption = _current(booking)
    if new_flight_id not in {f.pk for f in disruption.alternatives}:
        message = _("This flight is no longer available; choose another from your options.")
        raise ApplicationError(message, code="alternative_unavailable", fields={"new_flight_id": [message]})
    try:
        return booking_rebook(
            booking=fresh,
            segment=disruption.segment,
            new_flight_id=new_flight_id,
            by=by,
            reason=_("Chosen by the passenger after the disruption"),
        )
    except ApplicationError as exc:
        if (
            exc.code in ("change_not_allowed", "booking_changed")
            and disrupted_segment(booking=Booking.objects.prefetch_related("segments__flight").get(pk=booking.pk)) is None
        ):
            raise _settled() from exc
        raise


def booking_disruption_refund(*, booking: Booking, by: User | None) -> Booking:
    """Cancel the booking as the airline would for the disruption: everything paid for unflown flights back."""
    fresh, _disruption = _current(booking)
    try:
        return booking_cancel(
            booking=fresh, by=by, involuntary=True, reason=_("Refund chosen by the passenger after the disruption")
        )
    except ApplicationError as exc:
        if Booking.objects.filter(pk=booking.pk, status=BookingStatus.CANCELLED).exists():
            raise _settled() from exc
        raise


@transaction.atomic
def booking_disruption_keep(*, booking: Booking, by: User | None) -> Booking:
    """Keep the delayed flight: the booking is no longer waiting for a choice (nor on the office's list)."""
    locked = Booking.objects.select_for_update(of=("self",)).get(pk=booking.pk)
    fresh, disruption = _current(locked)
    if disruption.cancelled:
        raise ApplicationError(
            _("A cancelled flight cannot be kept; choose another flight or a refund."), code="flight_cancelled"
        )
    flight = disruption.segment.flight
    locked.disrupted_at, locked.disruption_reason = None, ""
    locked.save(update_fields=["disrupted_at", "disruption_reason", "updated_at"])
    message = gettext_noop("Kept the delayed flight %(flight)s on %(date)s")
    params = {"flight": flight.flight_code, "date": flight.service_date.isoformat()}
    for person in _people(locked):
        timeline_record(
            customer=person,
            kind="flight.disruption_kept",
            message=message,
            params=params,
            data={"record_locator": locked.record_locator, "flight_id": flight.pk},
            actor=by,
        )
    return locked
