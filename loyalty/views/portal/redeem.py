"""/miles/redeem/: how to spend miles on an award ticket, the award chart, and the member's own balance."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import number_format
from django.views.decorators.http import require_GET

from crm import selectors as crm_selectors
from crm.errors import NotFound
from crm.models import Cabin
from loyalty import selectors
from loyalty.models import MemberStatus
from loyalty.services.redemption import miles_pool


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
                zone=zone.name,
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
        },
    )
