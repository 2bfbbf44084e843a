"""/miles/redeem/: how to spend miles on an award ticket, the award chart and the member's own balance;
/miles/upgrade/<locator>/: a booked flight moved up a cabin, paid with miles."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from crm import selectors as crm_selectors
from crm.errors import ApplicationError, NotFound
from crm.models import Cabin
from loyalty import selectors
from loyalty.models import MemberStatus
from loyalty.services.redemption import miles_pool
from loyalty.services.upgrades import upgrade_with_miles
from reservations import selectors as reservations_selectors
from reservations.models import Booking


@dataclass(frozen=True)
class ChartRow:
    zone: str
    up_to: int | None
    prices: list[str]  # one per cabin, in ``Cabin`` order; "" where the chart has no price


def _miles(n: int) -> str:
    return number_format(n, force_grouping=True)


@login_required
@require_GET
def redeem(request: HttpRequest) -> HttpResponse:
    """The chart for everyone signed in; a member also sees what they (or their household) can spend."""
    try:
        customer = crm_selectors.customer_get_for_user(user=request.user)
    except NotFound:
        customer = None
    member = selectors.member_for_customer(customer_id=customer.pk) if customer is not None else None
    pool = miles_pool(member=member) if member is not None and member.status == MemberStatus.ACTIVE else []
    cabins = list(Cabin.choices)
    rows = []
    for zone in selectors.award_chart():
        prices = {p.cabin: p.miles for p in zone.prices.all()}
        rows.append(
            ChartRow(
                zone=zone.local_name(),
                up_to=zone.max_distance_miles,
                prices=[_miles(prices[c]) if c in prices else "" for c, _label in cabins],
            )
        )
    return render(
        request,
        "portal/loyalty/redeem.html",
        {
            "programme": selectors.programme(),
            "member": member,
            "balance": _miles(member.award_balance) if member is not None else "",
            "pooled": _miles(sum(m.award_balance for m in pool)) if len(pool) > 1 else "",
            "cabins": [label for _code, label in cabins],
            "rows": rows,
            "trips": selectors.upgradable_bookings(customer=customer) if pool else [],
        },
    )


def _own_booking(request: HttpRequest, record_locator: str) -> Booking:
    """A booking the passenger made (a co-traveller gets the 403 of ``BookerOnly``); anyone else's is a 404."""
    try:
        return reservations_selectors.booking_get_for_passenger(user=request.user, record_locator=record_locator)
    except NotFound:
        raise Http404(_("No booking with this reference.")) from None


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def upgrade(request: HttpRequest, record_locator: str) -> HttpResponse:
    """The booking's flights still to come with the cabins above theirs and their price in miles; one button each."""
    booking = _own_booking(request, record_locator)
    if request.method == "POST":
        sequence, cabin = request.POST.get("segment", ""), request.POST.get("cabin", "")
        segment = booking.segments.filter(sequence=int(sequence)).first() if sequence.isdigit() else None
        if segment is None:
            messages.error(request, _("Choose a flight of this booking."))
            return redirect("loyalty_portal:upgrade", record_locator=booking.record_locator)
        try:
            payment = upgrade_with_miles(booking=booking, segment=segment, cabin=cabin, by=request.user)
        except ApplicationError as refused:
            messages.error(request, refused.message)
            return redirect("loyalty_portal:upgrade", record_locator=booking.record_locator)
        messages.success(
            request,
            _("Upgraded to %(cabin)s for %(miles)s miles.")
            % {"cabin": Cabin(cabin).label.lower(), "miles": _miles(payment.miles or 0)},
        )
        return redirect("reservations_portal:trip", record_locator=booking.record_locator)
    member = selectors.member_for_customer(customer_id=booking.customer_id) if booking.customer_id else None
    spendable = sum(m.award_balance for m in miles_pool(member=member)) if member is not None else 0
    flights = [
        {
            "segment": item.segment,
            "options": [
                {"cabin": o.cabin, "label": o.label, "miles": _miles(o.miles), "enough": spendable >= o.miles}
                for o in item.options
            ],
        }
        for item in selectors.upgrade_options(booking=booking)
    ]
    return render(
        request,
        "portal/loyalty/upgrade.html",
        {
            "booking": booking,
            "member": member,
            "balance": _miles(spendable),
            "flights": flights,
        },
    )
