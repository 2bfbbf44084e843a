"""Online check-in: the lookup without a login, each flight's check-in, seats and boarding passes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from reservations import hooks, selectors, services
from reservations.forms import (
    CardPaymentForm,
    CheckInLookupForm,
    CheckInPassengerForm,
    DangerousGoodsForm,
    SeatChoiceForm,
    new_payment_key,
)
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    CheckIn,
    PaymentMethod,
    SegmentStatus,
)
from reservations.views.portal.common import (
    CARD_FIELDS,
    DECLINE_REASONS,
    _check_in_booking,
    _check_in_denied,
    _grant_check_in,
    _lookup_failed,
    _lookup_throttled,
    _may_check_in,
    _posted,
    _reach,
    _segment_of,
    _traveller_changes_by,
)


@never_cache
@require_http_methods(["GET", "POST"])
def check_in_lookup(request: HttpRequest) -> HttpResponse:
    """Find a booking by reference and family name, no login needed."""
    form = CheckInLookupForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        if _lookup_throttled(request):
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
        else:
            data = form.cleaned_data
            try:
                booking = selectors.booking_get_for_check_in(
                    record_locator=data["record_locator"], family_name=data["family_name"]
                )
            except NotFound:
                _lookup_failed(request)
                form.add_error(
                    None,
                    _("We found no booking with this reference and family name. Check both and try again."),
                )
            else:
                _grant_check_in(request, booking.record_locator)
                return redirect("reservations_portal:check_in", record_locator=booking.record_locator)
    return render(request, "portal/reservations/check_in_lookup.html", {"form": form})


@never_cache
@require_GET
def check_in(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Each flight of the booking: whether check-in is open, who is checked in, their boarding passes."""
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    prefetch_related_objects([booking], "segments__check_ins__passenger")
    now = timezone.now()
    flights = []
    for segment in booking.segments.all():
        if segment.status != SegmentStatus.CONFIRMED:
            continue
        opens, closes = services.check_in_window(flight=segment.flight)
        checked = sorted(
            (c for c in segment.check_ins.all() if _may_check_in(request, c.passenger_id)), key=lambda c: c.passenger.sequence
        )
        done = {c.passenger_id for c in checked}
        flights.append(
            {
                "segment": segment,
                "opens": opens,
                "closes": closes,
                "open": booking.status == BookingStatus.TICKETED and services.check_in_is_open(flight=segment.flight, at=now),
                "not_yet": now < opens,
                "check_ins": checked,
                "waiting": [
                    p for p in booking.passengers.all() if p.holds_seat and p.pk not in done and _may_check_in(request, p.pk)
                ],
            }
        )
    return render(
        request,
        "portal/reservations/check_in.html",
        {"booking": booking, "flights": flights, "ticketed": booking.status == BookingStatus.TICKETED},
    )


def _check_in_errors(exc: ApplicationError, forms: dict[int, CheckInPassengerForm], page: Any) -> None:
    """'bags.12', 'hand_carry.12' and 'passengers.12.frequent_flyer_number' belong beside traveller 12's
    fields; the rest above the form."""

    def traveller(key: str) -> tuple[CheckInPassengerForm, str | None] | None:
        kind, _sep, rest = key.partition(".")
        pid, _sep, name = rest.partition(".")
        form = forms.get(int(pid)) if pid.isdigit() else None
        if form is None:
            return None
        return form, "hand_carry" if kind == "hand_carry" else (name if name in form.fields else None)

    add_application_error(page, exc, place=traveller)


@never_cache
@require_http_methods(["GET", "POST"])
def check_in_flight(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    """Check in the chosen travellers for one flight, with their bags and cabin bags.

    Frequent flyer numbers typed here are saved before anyone is checked in (all of them or none) and stay
    saved if the check-in itself is then refused or waits for its payment."""
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    segment = _segment_of(booking, sequence)
    flight = segment.flight
    overview = redirect("reservations_portal:check_in", record_locator=booking.record_locator)
    if booking.status != BookingStatus.TICKETED:
        messages.error(request, _("Check-in opens for a booking once it is paid and ticketed."))
        return overview
    if segment.status != SegmentStatus.CONFIRMED or not services.check_in_is_open(flight=flight):
        messages.error(request, _("Online check-in is not open for this flight."))
        return overview
    done = {c.passenger_id for c in selectors.check_ins_for_booking(booking=booking) if c.segment_id == segment.pk}
    party = {p.pk for p in booking.passengers.all()}
    seated = {
        seat.passenger_id: seat.code
        for row in selectors.seat_map(flight=flight, cabin=segment.cabin).rows
        for seat in row.seats
        if seat.passenger_id in party
    }
    travellers = [p for p in booking.passengers.all() if p.holds_seat and p.pk not in done and _may_check_in(request, p.pk)]
    if not travellers:
        messages.info(request, _("Everyone on this booking is checked in for this flight."))
        return overview
    posted = request.POST if request.method == "POST" else None
    forms = {p.pk: CheckInPassengerForm(posted, prefix=f"p{p.pk}", passenger=p, frequent_flyer=True) for p in travellers}
    declaration = DangerousGoodsForm(posted)
    if posted is not None and all([f.is_valid() for f in forms.values()] + [declaration.is_valid()]):
        chosen = [f.passenger for f in forms.values() if f.cleaned_data["selected"]]
        if not chosen:
            declaration.add_error(None, _("Choose at least one traveller to check in."))
        else:
            args = {
                "passengers": chosen,
                "bags": {p.pk: forms[p.pk].bag_weights() for p in chosen},
                "hand_carry": {p.pk: forms[p.pk].cleaned_data["hand_carry"] for p in chosen},
            }
            numbers = {pk: f.frequent_flyer_change() for pk, f in forms.items()}
            numbers = {pk: number for pk, number in numbers.items() if number is not None}
            try:
                # Frequent flyer numbers first: a refused one checks nobody in, and a good one's tier counts
                # in the quote (its free bags). The fees are quoted next; a check-in that costs nothing is done at once.
                if numbers:
                    saved = services.passengers_frequent_flyer_set(
                        booking=booking, numbers=numbers, by=_traveller_changes_by(request), channel=Channel.PORTAL
                    )
                    for p in saved:
                        forms[p.pk].passenger.frequent_flyer_number = p.frequent_flyer_number
                quote = services.check_in_quote(booking=booking, segment=segment, channel=Channel.PORTAL, **args)
                if quote.total_due <= 0:
                    services.check_in(
                        booking=booking,
                        segment=segment,
                        channel=Channel.PORTAL,
                        by=request.user if request.user.is_authenticated else None,
                        **args,
                    )
            except ApplicationError as exc:
                _check_in_errors(exc, forms, declaration)
            else:
                if quote.total_due > 0:
                    _order_keep(request, booking, segment, args)
                    return redirect(
                        "reservations_portal:check_in_pay", record_locator=booking.record_locator, sequence=segment.sequence
                    )
                messages.success(request, _("You are checked in. Your boarding passes are ready below."))
                return overview
    infants = {p.travelling_with_id: p for p in booking.passengers.all() if not p.holds_seat}
    # The travellers' own extra free bags (a frequent flyer tier's), added to the fare's at check-in.
    benefits = hooks.traveller_benefits_for_many(passengers=travellers, booking=booking)
    rows = [
        {
            "form": forms[p.pk],
            "seat": seated.get(p.pk, ""),
            "infant": infants.get(p.pk),
            "benefits": benefits[p.pk],
        }
        for p in travellers
    ]
    return render(
        request,
        "portal/reservations/check_in_flight.html",
        {
            "booking": booking,
            "segment": segment,
            "flight": flight,
            "rows": rows,
            "declaration": declaration,
            "fare": segment.fare_family,
            "has_errors": bool(declaration.errors) or any(f.errors for f in forms.values()),
        },
    )


CHECK_IN_ORDER_SESSION_KEY = "reservations.check_in_order"


def _order_keep(request: HttpRequest, booking: Booking, segment: Any, order: dict[str, Any]) -> None:
    """Who is checked in with which bags, kept between the quote and its payment (in the session)."""
    request.session[CHECK_IN_ORDER_SESSION_KEY] = {
        "locator": booking.record_locator,
        "segment": segment.pk,
        "passengers": [p.pk for p in order["passengers"]],
        "bags": {str(pk): [str(w) for w in weights] for pk, weights in order["bags"].items()},
        "hand_carry": {str(pk): n for pk, n in order["hand_carry"].items()},
    }


def _order_kept(request: HttpRequest, booking: Booking, segment: Any) -> dict[str, Any] | None:
    kept = request.session.get(CHECK_IN_ORDER_SESSION_KEY)
    if not isinstance(kept, dict) or kept.get("locator") != booking.record_locator or kept.get("segment") != segment.pk:
        return None
    try:
        return {
            "passengers": [int(pk) for pk in kept["passengers"]],
            "bags": {int(pk): [Decimal(w) for w in weights] for pk, weights in kept["bags"].items()},
            "hand_carry": {int(pk): int(n) for pk, n in kept["hand_carry"].items()},
        }
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


@never_cache
@sensitive_post_parameters("number", "cvv", "expiry")
@require_http_methods(["GET", "POST"])
def check_in_pay(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    """The check-in's fees, itemised, and the card that pays them; the boarding passes come after payment.

    A declined card checks nobody in and leaves nothing owed; the passenger may try another card.
    """
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    segment = _segment_of(booking, sequence)
    back = redirect("reservations_portal:check_in_flight", record_locator=booking.record_locator, sequence=sequence)
    order = _order_kept(request, booking, segment)
    party = {p.pk: p for p in booking.passengers.all() if _may_check_in(request, p.pk)}
    if order is None or not order["passengers"] or any(pk not in party for pk in order["passengers"]):
        messages.info(request, _("Choose who to check in and their bags first."))
        return back
    chosen = [party[pk] for pk in order["passengers"]]
    args = {"passengers": chosen, "bags": order["bags"], "hand_carry": order["hand_carry"]}
    by = request.user if request.user.is_authenticated else None
    locator = booking.record_locator
    declined = ""
    form = CardPaymentForm(_posted(request), record_locator=locator, initial={"idempotency_key": new_payment_key(locator)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        month, year = data["expiry"]
        card = services.CardDetails(
            number=data["number"], expiry_month=month, expiry_year=year, cvv=data["cvv"], holder=data["holder"]
        )
        try:
            expected = Decimal(request.POST.get("total", ""))
        except ArithmeticError:
            expected = None
        try:
            services.check_in_with_payment(
                booking=booking, segment=segment, channel=Channel.PORTAL, method=PaymentMethod.CARD,
                idempotency_key=data["idempotency_key"], card=card, expected_total=expected, by=by, **args,
            )  # fmt: skip
        except services.PaymentDeclined as exc:
            reason = exc.payment.decline_reason or _("the card was declined")
            declined = _(
                "The payment did not go through (%(reason)s). Nothing was charged and nobody is checked in yet; please try another card."
            ) % {"reason": DECLINE_REASONS.get(reason, reason)}
        except ApplicationError as exc:
            if exc.code == "card_invalid":
                add_application_error(form, exc, field_map=CARD_FIELDS)
            elif exc.code in ("quote_changed", "request_in_progress", "payment_in_progress"):
                declined = exc.message
            else:
                messages.error(request, exc.message)
                return back
        else:
            request.session.pop(CHECK_IN_ORDER_SESSION_KEY, None)
            messages.success(
                request, _("Thank you: your payment was received. You are checked in and your boarding passes are ready below.")
            )
            return redirect("reservations_portal:check_in", record_locator=locator)
        if declined:
            # A fresh key: the next attempt is a new payment, not a replay of the refused one.
            form = CardPaymentForm(
                record_locator=locator, initial={"idempotency_key": new_payment_key(locator), "holder": data["holder"]}
            )
    try:
        quote = services.check_in_quote(booking=booking, segment=segment, channel=Channel.PORTAL, **args)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return back
    if quote.total_due <= 0:
        return back
    return render(
        request,
        "portal/reservations/check_in_pay.html",
        {
            "booking": booking,
            "segment": segment,
            "flight": segment.flight,
            "quote": quote,
            "lines": [(p, quote.bags[p.pk], quote.seat_fees.get(p.pk)) for p in chosen],
            "form": form,
            "declined": declined,
        },
    )


def _seat_page(
    request: HttpRequest,
    booking: Booking,
    sequence: int,
    *,
    url_name: str,
    back_url: str,
    booking_flow: dict[str, str] | None = None,
) -> HttpResponse:
    """The drawn seat map of one flight: the traveller picks a free seat, one traveller at a time."""
    segment = _segment_of(booking, sequence)
    if booking.status not in (BookingStatus.HELD, BookingStatus.TICKETED) or segment.status != SegmentStatus.CONFIRMED:
        messages.error(request, _("Seats can only be chosen on an active booking."))
        return redirect(back_url)
    here = reverse(url_name, kwargs={"record_locator": booking.record_locator, "sequence": sequence})
    travellers = [p for p in booking.passengers.all() if p.holds_seat and _may_check_in(request, p.pk)]
    seat_map = selectors.seat_map(flight=segment.flight, cabin=segment.cabin)
    ours = {p.pk: p for p in travellers}
    seat_of = {seat.passenger_id: seat.code for row in seat_map.rows for seat in row.seats if seat.passenger_id in ours}
    waiting = next((p.pk for p in travellers if p.pk not in seat_of), travellers[0].pk if travellers else None)
    form = SeatChoiceForm(
        _posted(request),
        passengers=[(p.pk, p.full_name) for p in travellers],
        seats=seat_map.free_seats(cabin=segment.cabin),
        initial={"passenger": waiting},
    )
    if request.method == "POST" and form.is_valid():
        passenger = ours[form.cleaned_data["passenger"]]
        try:
            assignment = services.seat_assign(
                segment=segment,
                passenger=passenger,
                seat=form.cleaned_data["seat"],
                by=request.user if request.user.is_authenticated else None,
            )
        except ApplicationError as exc:
            add_application_error(form, exc, field_map={"seat": "seat"})
        else:
            messages.success(
                request,
                _("Seat %(seat)s is now %(name)s's seat.") % {"seat": assignment.seat, "name": passenger.full_name},
            )
            return redirect(here)
    rows_by_cabin: list[tuple[str, list[Any]]] = []
    for row in seat_map.rows:
        if not rows_by_cabin or rows_by_cabin[-1][0] != row.cabin:
            rows_by_cabin.append((row.cabin, []))
        rows_by_cabin[-1][1].append(row)
    return render(
        request,
        "portal/reservations/seats.html",
        {
            "booking": booking,
            "segment": segment,
            "flight": segment.flight,
            "form": form,
            "cabins": rows_by_cabin,
            "owners": {pk: p.full_name for pk, p in ours.items()},
            "seat_of": [(p, seat_of.get(p.pk, "")) for p in travellers],
            "fee": segment.fare_family.seat_selection_fee,
            "currency": segment.fare_family.currency,
            "action": here,
            "back_url": back_url,
            "booking_flow": booking_flow,
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def seats(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    reach = _reach(request, record_locator)
    booking = reach.booking
    request.check_in_travellers = None if reach.is_booker else reach.passenger_ids
    back = reverse("reservations_portal:trip", kwargs={"record_locator": booking.record_locator})
    return _seat_page(
        request,
        booking,
        sequence,
        url_name="reservations_portal:seats",
        back_url=back,
        booking_flow=_booking_flow(booking, sequence) if reach.is_booker else None,
    )


def _booking_flow(booking: Booking, sequence: int) -> dict[str, str] | None:
    """A held booking's seats are a step of booking it, between the travellers and paying: the page leads
    on to the next flight's seats and to payment, and choosing no seat at all is fine."""
    if booking.status != BookingStatus.HELD:
        return None
    locator = booking.record_locator
    later = sorted(s.sequence for s in booking.segments.all() if s.sequence > sequence and s.status == SegmentStatus.CONFIRMED)
    return {
        "pay_url": reverse("reservations_portal:pay", kwargs={"record_locator": locator}),
        "next_flight_url": reverse("reservations_portal:seats", kwargs={"record_locator": locator, "sequence": later[0]})
        if later
        else "",
    }


@never_cache
@require_http_methods(["GET", "POST"])
def check_in_seats(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    back = reverse("reservations_portal:check_in_flight", kwargs={"record_locator": booking.record_locator, "sequence": sequence})
    return _seat_page(request, booking, sequence, url_name="reservations_portal:check_in_seats", back_url=back)


def _boarding_check_in(request: HttpRequest, record_locator: str, check_in_id: int) -> CheckIn | None:
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return None
    try:
        found = selectors.check_in_get_for_booking(booking=booking, check_in_id=check_in_id)
    except NotFound:
        found = None
    if found is None or not _may_check_in(request, found.passenger_id):
        raise Http404(_("No such boarding pass on this booking."))
    return found


@never_cache
@require_GET
def boarding_pass(request: HttpRequest, record_locator: str, check_in_id: int) -> HttpResponse:
    """The printable boarding pass, with the PDF417 barcode the gate scans."""
    check_in_row = _boarding_check_in(request, record_locator, check_in_id)
    if check_in_row is None:
        return _check_in_denied(request)
    return render(request, "portal/reservations/boarding_pass.html", {"bp": selectors.boarding_pass(check_in=check_in_row)})


@never_cache
@require_GET
def boarding_pass_pdf(request: HttpRequest, record_locator: str, check_in_id: int) -> HttpResponse:
    from reservations.boarding import boarding_pass_pdf as render_pdf

    check_in_row = _boarding_check_in(request, record_locator, check_in_id)
    if check_in_row is None:
        return _check_in_denied(request)
    response = HttpResponse(render_pdf(check_in=check_in_row), content_type="application/pdf")
    name = f"boarding-pass-{check_in_row.flight.flight_code}-{check_in_row.passenger.family_name}".lower()
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}.pdf"'
    return response


@never_cache
@require_GET
def boarding_pass_barcode(request: HttpRequest, record_locator: str, check_in_id: int) -> HttpResponse:
    check_in_row = _boarding_check_in(request, record_locator, check_in_id)
    if check_in_row is None:
        return _check_in_denied(request)
    return HttpResponse(selectors.boarding_pass(check_in=check_in_row).barcode_png, content_type="image/png")
