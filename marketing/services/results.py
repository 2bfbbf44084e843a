"""What a campaign achieved: its funnel, per A/B variant, its cost and ROI, and its uplift over the holdout.

Everything is aggregated in the database in a fixed number of queries, whatever the number of deliveries.
Rates and the uplift are proportions (floats); money stays Decimal with its currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from marketing.models import Campaign, Delivery, DeliveryStatus, SkipReason

Z_95 = 1.959963984540054  # the standard normal quantile for a two-sided 95% interval
DAYS_SHOWN = 90  # the daily chart shows at most the latest this many days
CENT = Decimal("0.01")

_SENT = Q(status=DeliveryStatus.SENT)
_HOLDOUT = Q(status=DeliveryStatus.HOLDOUT)
_CONVERTED = Q(converted_at__isnull=False)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass
class Figures:
    """The funnel of a group of deliveries (a whole campaign or one variant)."""

    audience: int = 0  # every delivery, held out ones included
    sent: int = 0
    pending: int = 0
    failed: int = 0
    skipped: int = 0
    holdout: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    holdout_converted: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    revenue: list[Money] = field(default_factory=list)  # of the sent deliveries, one line per currency
    holdout_revenue: list[Money] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    @property
    def open_rate(self) -> float | None:
        return _ratio(self.opened, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return _ratio(self.clicked, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.converted, self.sent)

    @property
    def holdout_conversion_rate(self) -> float | None:
        return _ratio(self.holdout_converted, self.holdout)

    def add(self, other: Figures) -> None:
        for name in ("audience", "sent", "pending", "failed", "skipped", "holdout", "bounced", "opened", "clicked",
                     "converted", "holdout_converted"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.skipped_by_reason.items():
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + n
        self.revenue = _money_sum(self.revenue + other.revenue)
        self.holdout_revenue = _money_sum(self.holdout_revenue + other.holdout_revenue)


def _money_sum(lines: list[Money]) -> list[Money]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, Decimal(0)) + line.amount
    return [Money(amount, currency) for currency, amount in sorted(totals.items())]


@dataclass(frozen=True)
class Uplift:
    """Conversion rate of those sent the campaign minus that of the held-out control group, with a 95% CI.

    Wald interval for a difference of two proportions: se = sqrt(p1(1−p1)/n1 + p2(1−p2)/n2).
    """

    treated: int
    treated_converted: int
    control: int
    control_converted: int

    @property
    def treated_rate(self) -> float:
        return self.treated_converted / self.treated

    @property
    def control_rate(self) -> float:
        return self.control_converted / self.control

    @property
    def difference(self) -> float:
        return self.treated_rate - self.control_rate

    @property
    def standard_error(self) -> float:
        p1, p2 = self.treated_rate, self.control_rate
        return math.sqrt(p1 * (1 - p1) / self.treated + p2 * (1 - p2) / self.control)

    @property
    def low(self) -> float:
        return self.difference - Z_95 * self.standard_error

    @property
    def high(self) -> float:
        return self.difference + Z_95 * self.standard_error

    @property
    def significant(self) -> bool:
        """The interval leaves out zero: the difference is unlikely to be chance alone."""
        return self.low > 0 or self.high < 0


def uplift_of(*, treated: int, treated_converted: int, control: int, control_converted: int) -> Uplift | None:
    """None when either group is empty: there is nothing to compare."""
    if treated <= 0 or control <= 0:
        return None
    return Uplift(treated, treated_converted, control, control_converted)


@dataclass(frozen=True)
class Day:
    day: date
    sends: int
    opens: int
    clicks: int
    conversions: int


@dataclass
class CampaignResults:
    campaign: Campaign
    totals: Figures
    variants: dict[str, Figures]  # "a", "b": the deliveries that were not held out, by variant
    uplift: Uplift | None
    cost: Money
    daily: list[Day]

    @property
    def has_sent(self) -> bool:
        return self.totals.sent > 0

    @property
    def revenue_in_cost_currency(self) -> Decimal | None:
        """The revenue when it is all in the campaign's cost currency (nothing yet counts as zero); else None."""
        lines = self.totals.revenue
        if not lines:
            return Decimal(0)
        if len(lines) == 1 and lines[0].currency == self.cost.currency:
            return lines[0].amount
        return None

    @property
    def roi(self) -> Decimal | None:
        """(revenue − cost) / cost; None when nothing was spent or the revenue is in another currency."""
        return roi_of(revenue=self.revenue_in_cost_currency, cost=self.cost.amount)

    @property
    def variant_uplifts(self) -> dict[str, Uplift | None]:
        """Each variant's conversion rate against the whole control group."""
        return {
            name: uplift_of(
                treated=f.sent, treated_converted=f.converted,
                control=self.totals.holdout, control_converted=self.totals.holdout_converted,
            )
            for name, f in self.variants.items()
        }  # fmt: skip


def campaign_cost(*, campaign: Campaign, sent: int) -> Money:
    amount = (Decimal(sent) * campaign.cost_per_message + campaign.fixed_cost).quantize(CENT)
    return Money(amount, campaign.cost_currency)


def roi_of(*, revenue: Decimal | None, cost: Decimal) -> Decimal | None:
    if revenue is None or not cost:
        return None
    return ((revenue - cost) / cost).quantize(Decimal("0.0001"))


def _counts() -> dict[str, Any]:
    counts: dict[str, Any] = {
        "audience": Count("pk"),
        "sent": Count("pk", filter=_SENT),
        "pending": Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
        "failed": Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
        "skipped": Count("pk", filter=Q(status=DeliveryStatus.SKIPPED)),
        "holdout": Count("pk", filter=_HOLDOUT),
        "bounced": Count("pk", filter=_SENT & Q(bounced_at__isnull=False)),
        "opened": Count("pk", filter=_SENT & Q(opened_at__isnull=False)),
        "clicked": Count("pk", filter=_SENT & Q(clicked_at__isnull=False)),
        "converted": Count("pk", filter=_SENT & _CONVERTED),
        "holdout_converted": Count("pk", filter=_HOLDOUT & _CONVERTED),
        "revenue_sum": Sum("revenue", filter=_SENT & _CONVERTED),
        "holdout_revenue_sum": Sum("revenue", filter=_HOLDOUT & _CONVERTED),
    }
    for reason in SkipReason.values:
        counts[f"skip_{reason}"] = Count("pk", filter=Q(status=DeliveryStatus.SKIPPED, skip_reason=reason))
    return counts


def _figures(row: dict[str, Any]) -> Figures:
    currency = row["revenue_currency"]
    return Figures(
        **{name: row[name] for name in ("audience", "sent", "pending", "failed", "skipped", "holdout", "bounced",
                                        "opened", "clicked", "converted", "holdout_converted")},
        skipped_by_reason={reason: row[f"skip_{reason}"] for reason in SkipReason.values if row[f"skip_{reason}"]},
        revenue=[Money(row["revenue_sum"], currency)] if row["revenue_sum"] is not None else [],
        holdout_revenue=[Money(row["holdout_revenue_sum"], currency)] if row["holdout_revenue_sum"] is not None else [],
    )  # fmt: skip


def _daily(deliveries: QuerySet[Delivery]) -> list[Day]:
    """Sends, first opens, first clicks and conversions per day (one query each), gaps filled with zeros."""
    series: dict[str, dict[date, int]] = {}
    for name, column, condition in (
        ("sends", "sent_at", _SENT),
        ("opens", "opened_at", _SENT),
        ("clicks", "clicked_at", _SENT),
        ("conversions", "converted_at", _SENT),
    ):
        rows = (
            deliveries.filter(condition, **{f"{column}__isnull": False})
            .annotate(day=TruncDate(column))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        )
        series[name] = {row["day"]: row["n"] for row in rows}
    days = {day for values in series.values() for day in values}
    if not days:
        return []
    last = max(days)
    first = max(min(days), last - timedelta(days=DAYS_SHOWN - 1))
    return [
        Day(first + timedelta(days=n), *(series[name].get(first + timedelta(days=n), 0) for name in series))
        for n in range((last - first).days + 1)
    ]


def campaign_results(*, campaign: Campaign) -> CampaignResults:
    """The campaign's figures, per variant, cost, ROI, uplift and daily series, in five queries."""
    deliveries = Delivery.objects.filter(run__campaign=campaign)
    rows = deliveries.values("variant", "revenue_currency").annotate(**_counts()).order_by("variant", "revenue_currency")
    totals, variants = Figures(), {}
    for row in rows:
        figures = _figures(row)
        totals.add(figures)
        # The control group has a variant bucket too, but it was never sent either variant.
        figures.audience -= figures.holdout
        figures.holdout = figures.holdout_converted = 0
        figures.holdout_revenue = []
        variants.setdefault(row["variant"], Figures()).add(figures)
    variants = {name: f for name, f in sorted(variants.items()) if f.audience}
    uplift = uplift_of(
        treated=totals.sent, treated_converted=totals.converted,
        control=totals.holdout, control_converted=totals.holdout_converted,
    )  # fmt: skip
    return CampaignResults(
        campaign=campaign,
        totals=totals,
        variants=variants,
        uplift=uplift,
        cost=campaign_cost(campaign=campaign, sent=totals.sent),
        daily=_daily(deliveries),
    )
