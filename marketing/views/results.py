"""Office pages for campaign results: one campaign's dashboard and the overview of every campaign."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View

from crm.errors import NotFound
from crm.permissions import StaffPermissionRequiredMixin
from marketing import selectors, services
from marketing.models import SkipReason
from marketing.services.results import CampaignResults, Day, Uplift

PAGE_SIZE = 25
SEE = ("marketing.view_campaign",)
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 200, 28
FUNNEL_LEFT, FUNNEL_BAR, FUNNEL_ROW = 110, 440, 30
SERIES = (("sends", "#1f4e79"), ("opens", "#2e7d32"), ("clicks", "#ef6c00"), ("conversions", "#8e24aa"))


@dataclass(frozen=True)
class Step:
    label: str
    count: int
    percent: float  # of those sent
    width: float  # of the bar, in the funnel's SVG units
    y: int

    @property
    def label_x(self) -> float:
        return FUNNEL_LEFT + self.width + 6


def _funnel(results: CampaignResults) -> list[Step]:
    t = results.totals
    base = t.sent or 1
    steps = [
        (_("Sent"), t.sent),
        (_("Delivered"), t.delivered),
        (_("Opened"), t.opened),
        (_("Clicked"), t.clicked),
        (_("Converted"), t.converted),
    ]
    return [
        Step(label, n, round(100 * n / base, 1), round(FUNNEL_BAR * n / base, 1), 8 + i * FUNNEL_ROW)
        for i, (label, n) in enumerate(steps)
    ]


def _chart(days: list[Day]) -> dict[str, Any] | None:
    """Polylines for the inline SVG chart: one per series, scaled to the busiest day."""
    if not days:
        return None
    top = max(max(getattr(d, name) for name, _colour in SERIES) for d in days) or 1
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / max(len(days) - 1, 1)

    def point(i: int, value: int) -> str:
        return f"{CHART_PAD + i * step:.1f},{CHART_PAD + inner_h - inner_h * value / top:.1f}"

    labels = {"sends": _("Sent"), "opens": _("First opens"), "clicks": _("First clicks"), "conversions": _("Conversions")}
    lines = [
        {
            "name": name,
            "label": labels[name],
            "colour": colour,
            "points": " ".join(point(i, getattr(d, name)) for i, d in enumerate(days)),
            # Dots as well, so a single day (or a lone value) shows; the title says the day's figure.
            "dots": [(*point(i, getattr(d, name)).split(","), d.day, getattr(d, name)) for i, d in enumerate(days)],
        }
        for name, colour in SERIES
    ]
    return {
        "width": CHART_WIDTH, "height": CHART_HEIGHT, "pad": CHART_PAD, "top": top, "lines": lines,
        "baseline": CHART_HEIGHT - CHART_PAD, "right": CHART_WIDTH - CHART_PAD,
        "first": days[0].day, "last": days[-1].day,
    }  # fmt: skip


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def _uplift_points(uplift: Uplift | None) -> dict[str, float | None] | None:
    """The rates and the interval in percent (percentage points for the difference), as the page shows them."""
    if uplift is None:
        return None
    return {name: _percent(getattr(uplift, name)) for name in ("treated_rate", "control_rate", "difference", "low", "high")}


class CampaignResultsView(StaffPermissionRequiredMixin, View):
    """The dashboard of one campaign: funnel, variants, uplift over the holdout, cost and ROI, daily chart."""

    permission_required = SEE

    def get(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        try:
            campaign = selectors.campaign_for_results(campaign_id=campaign_id)
        except NotFound:
            raise Http404("No such campaign.") from None
        results = services.campaign_results(campaign=campaign)
        uplift = results.uplift
        context = {
            "campaign": campaign,
            "results": results,
            "totals": results.totals,
            "funnel": _funnel(results),
            "funnel_height": 8 + 5 * FUNNEL_ROW,
            "funnel_left": FUNNEL_LEFT,
            "skipped": [(SkipReason(reason).label, n) for reason, n in sorted(results.totals.skipped_by_reason.items())],
            "variants": [
                (name.upper(), f, _uplift_points(results.variant_uplifts[name])) for name, f in results.variants.items()
            ],
            "uplift": uplift,
            "uplift_points": _uplift_points(uplift),
            "chart": _chart(results.daily),
            "attribution_days": settings.MARKETING_ATTRIBUTION_DAYS,
            "roi_percent": None if results.roi is None else results.roi * 100,
        }
        return render(request, "office/marketing/campaign_results.html", context)


@dataclass(frozen=True)
class OverviewRow:
    campaign: Any
    cost: Decimal
    revenue: Decimal | None
    revenue_currency: str
    mixed_currencies: bool
    roi_percent: Decimal | None


def _overview_row(campaign: Any) -> OverviewRow:
    cost = services.campaign_cost(campaign=campaign, sent=campaign.sent).amount
    mixed = campaign.revenue_currencies > 1
    currency = campaign.revenue_currency or campaign.cost_currency
    revenue = campaign.revenue if campaign.revenue is not None else Decimal(0)
    comparable = None if mixed or currency != campaign.cost_currency else revenue
    roi = services.roi_of(revenue=comparable, cost=cost)
    return OverviewRow(
        campaign=campaign, cost=cost, revenue=None if mixed else revenue, revenue_currency=currency,
        mixed_currencies=mixed, roi_percent=None if roi is None else roi * 100,
    )  # fmt: skip


class ResultsOverviewView(StaffPermissionRequiredMixin, View):
    """Every campaign with what it sent, converted, earned and returned; newest first."""

    permission_required = SEE

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.campaigns_results_overview(), PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [_overview_row(c) for c in page.object_list]
        return render(request, "office/marketing/results_overview.html", {"page_obj": page, "rows": rows})
