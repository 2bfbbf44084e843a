"""Reactions to other apps' events and this app's customer-record extension."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.dispatch import receiver
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from crm import events as crm_events
from crm import registry
from crm.celery import task_enqueue_on_commit
from crm.models import Customer, User
from loyalty import account, numbers, selectors, services
from loyalty.models import Adjustment, Member, MemberStatus, MilesEntry, RetroClaim, StatusMatch, Tier
from loyalty.shapes import Customer360LoyaltySerializer
from reservations import events as reservations_events

# --- Navigation: the supervisors' approvals queue ---------------------------------------------

registry.register_nav(
    registry.NavItem(
        registry.OFFICE,
        gettext_lazy("Approvals"),
        "loyalty_office:approvals",
        ("loyalty.view_adjustment", "loyalty.approve_loyalty"),
        current=("approvals",),
        order=55,
    ),
)

# --- Fraud checks: login changes and award bookings -------------------------------------------------


@receiver(crm_events.login_changed, dispatch_uid="loyalty.receivers.remember_login_change")
def remember_login_change(sender: Any, *, customer_id: int | None, what: str, **payload: Any) -> None:
    """A member's login changed: an award for someone else in the next hours gets a second look."""
    from loyalty.services import member_login_changed

    if customer_id is not None:
        member_login_changed(customer_id=customer_id, what=what)


@receiver(reservations_events.booking_ticketed, dispatch_uid="loyalty.receivers.check_award_booking")
def check_award_booking(sender: Any, *, booking_id: int, **payload: Any) -> None:
    """A ticketed booking paid with miles is checked for the take-over pattern (once: flags are keyed)."""
    from loyalty.services import fraud_check_paid_booking

    fraud_check_paid_booking(booking_id=booking_id)


# --- Office menu: partners, liability, fraud review (after Leads, before Duplicates) ------------------

registry.register_nav(
    registry.NavItem(registry.OFFICE, _("Partners"), "loyalty_office:partner_list", permissions=("loyalty.view_partner",), order=52),
    registry.NavItem(
        registry.OFFICE, _("Miles liability"), "loyalty_office:liability",
        permissions=("loyalty.view_programme", "loyalty.view_liability"), order=54,
    ),
    registry.NavItem(registry.OFFICE, _("Fraud review"), "loyalty_office:fraud_queue", permissions=("loyalty.view_fraudflag",), order=56),
)  # fmt: skip


# ============================================================================================
# The customer record: 360 panel and API section, export, erasure, merge, search, attributes
# and navigation.
# ============================================================================================

SEE_MEMBERS = "loyalty.view_member"
# Pages the panel links to, each with the permission it needs; a page not built yet is left out.
PANEL_ACTIONS = (
    ("loyalty_office:member", gettext_lazy("Member page"), SEE_MEMBERS),
    ("loyalty_office:adjust", gettext_lazy("Adjust miles"), "loyalty.adjust_miles"),
    ("loyalty_office:status_match_new", gettext_lazy("Status match"), "loyalty.add_statusmatch"),
)


def _member_of(customer: Customer) -> Member | None:
    return Member.objects.select_related("tier").filter(customer_id=customer.pk).first()


def loyalty_panel(request, customer: Customer) -> registry.Panel | None:  # noqa: ANN001
    """The membership at a glance, for staff who may see members; an enrol button for a non-member."""
    user = request.user
    if not user.has_perm(SEE_MEMBERS):
        return None
    member = _member_of(customer)
    context: dict[str, Any] = {"member": member, "programme": selectors.programme()}
    if member is None:
        context["can_enrol"] = user.has_perm("loyalty.add_member") and not customer.is_anonymized
    else:
        context["progress"] = account.tier_progress(member=member, tiers=selectors.tiers())
        context["entries"] = list(selectors.statement(member=member)[: account.PANEL_ENTRIES])
        allowed = [(name, label) for name, label, perm in PANEL_ACTIONS if user.has_perm(perm)]
        context["actions"] = account.member_links(allowed, member.number)
    return registry.Panel(
        title=context["programme"].local_name(), template="office/loyalty/panels/member.html", context=context, order=30
    )


def loyalty_section(customer: Customer, user: User) -> dict[str, Any] | None:
    if not user.has_perm(SEE_MEMBERS):
        return None
    member = _member_of(customer)
    if member is None:
        return {"member": None, "latest_entries": []}
    return {
        "member": account.member_summary(member=member),
        "latest_entries": [account.entry_data(e) for e in selectors.statement(member=member)[: account.PANEL_ENTRIES]],
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def export_membership(customer: Customer) -> dict[str, Any]:
    """Everything of the programme about the customer: membership, every statement line, claims, adjustments
    and status matches (including a membership they had before a merge, which points at theirs)."""
    member = _member_of(customer)
    if member is None:
        return {"member": None}
    merged = list(Member.objects.filter(merged_into=member).order_by("pk").values_list("pk", "number"))
    own = [member.pk, *(pk for pk, _number in merged)]
    return {
        "member": account.member_summary(member=member),
        "merged_memberships": [number for _pk, number in merged],
        "entries": [
            {**account.entry_data(e), "member": e.member.number, "note": e.note}
            for e in MilesEntry.objects.filter(member_id__in=own).select_related("member").order_by("created_at", "id")
        ],
        "claims": [
            {
                "ticket_number": c.ticket_number, "flight_date": _iso(c.flight_date), "status": c.status,
                "refusal": c.refusal, "miles": c.miles, "created_at": _iso(c.created_at),
            }
            for c in RetroClaim.objects.filter(member_id__in=own).order_by("created_at", "id")
        ],
        "adjustments": [
            {
                "kind": a.kind, "award_miles": a.award_miles, "qualifying_miles": a.qualifying_miles, "reason": a.reason,
                "status": a.status, "requested_at": _iso(a.requested_at), "decided_at": _iso(a.decided_at),
            }
            for a in Adjustment.objects.filter(member_id__in=own).order_by("requested_at", "id")
        ],
        "status_matches": [
            {
                "tier": s.tier.code, "competitor_airline": s.competitor_airline, "competitor_tier": s.competitor_tier,
                "competitor_number": s.competitor_number, "competitor_valid_until": _iso(s.competitor_valid_until),
                "status": s.status, "requested_at": _iso(s.requested_at),
            }
            for s in StatusMatch.objects.filter(member_id__in=own).select_related("tier").order_by("requested_at", "id")
        ],
    }  # fmt: skip


def erase_membership(customer: Customer) -> None:
    services.member_close_for_erasure(customer=customer)


def merge_membership(survivor: Customer, loser: Customer) -> dict[str, int]:
    return services.members_merge(survivor=survivor, loser=loser)


def search_by_number(query: str) -> set[int]:
    """A valid frequent flyer number (spaces and dashes allowed) finds its active member's customer."""
    number = numbers.clean(query)
    if not numbers.is_valid(number):
        return set()
    return set(
        Member.objects.filter(number=number, status=MemberStatus.ACTIVE, customer__isnull=False).values_list(
            "customer_id", flat=True
        )
    )


registry.register(
    registry.CustomerExtension(
        label="loyalty",
        panel=loyalty_panel,
        api_section=loyalty_section,
        api_serializer=Customer360LoyaltySerializer,
        exporter=export_membership,
        eraser=erase_membership,
        merger=merge_membership,
        searcher=search_by_number,
        order=30,
    )
)


# --- Customer attributes ----------------------------------------------------------------------


class _TierChoices(Sequence):
    """The tiers as (code, name), read when asked: tiers are edited in the admin, after start-up."""

    def _items(self) -> list[tuple[str, str]]:
        return list(Tier.objects.order_by("rank").values_list("code", "name"))

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items())


def _membership() -> models.QuerySet[Member]:
    """The customer's active membership (a closed one has no tier or balance to target)."""
    return Member.objects.filter(customer=OuterRef("pk"), status=MemberStatus.ACTIVE).order_by()


def _tier() -> models.Expression:
    return Subquery(_membership().values("tier__code")[:1], output_field=models.CharField())


def _miles_balance() -> models.Expression:
    return Subquery(_membership().values("award_balance")[:1], output_field=models.IntegerField())


def _tier_expiry() -> models.Expression:
    return Subquery(_membership().values("tier_valid_until")[:1], output_field=models.DateField())


def _member_since() -> models.Expression:
    return Subquery(_membership().annotate(day=TruncDate("enrolled_at")).values("day")[:1], output_field=models.DateField())


for _attribute in (
    registry.CustomerAttribute(
        key="tier", label=gettext_lazy("Tier"), type=registry.CHOICE, expression=_tier, app="loyalty",
        choices=_TierChoices(),  # type: ignore[arg-type]
        description=gettext_lazy("Frequent flyer tier (empty: not a member)."),
    ),
    registry.CustomerAttribute(
        key="miles_balance", label=gettext_lazy("Miles balance"), type=registry.INTEGER, expression=_miles_balance,
        app="loyalty", description=gettext_lazy("Award miles that can be spent (empty: not a member)."),
    ),
    registry.CustomerAttribute(
        key="tier_expiry", label=gettext_lazy("Tier valid until"), type=registry.DATE, expression=_tier_expiry,
        app="loyalty", description=gettext_lazy("Last day of the current tier (empty: the entry tier, or not a member)."),
    ),
    registry.CustomerAttribute(
        key="member_since", label=gettext_lazy("Member since"), type=registry.DATE, expression=_member_since,
        app="loyalty", description=gettext_lazy("Day the customer joined the frequent flyer programme."),
    ),
):  # fmt: skip
    registry.register_attribute(_attribute)


# --- Navigation -------------------------------------------------------------------------------

registry.register_nav(
    registry.NavItem(
        registry.OFFICE, gettext_lazy("Members"), "loyalty_office:member_list", (SEE_MEMBERS,),
        current=("member_list", "member"), order=45,
    ),
    registry.NavItem(
        registry.PORTAL, gettext_lazy("Miles"), "loyalty_portal:miles", audience=registry.SIGNED_IN,
        current=("miles", "miles_statement", "miles_card"), order=25,
    ),
)  # fmt: skip


# --- Demo data --------------------------------------------------------------------------------


def _seed_demo(*, stdout=None) -> str:  # noqa: ANN001
    from loyalty import demo

    return demo.seed(stdout=stdout)


registry.register_demo_seeder("loyalty", _seed_demo, order=30)


def _seed_demo_flown(*, stdout=None) -> str:  # noqa: ANN001
    """After reservations' demo flew its flights: their members' miles, credited now rather than by a worker."""
    from loyalty.services import miles_accrual_sweep

    credited = miles_accrual_sweep()
    return f"Loyalty: {credited} flown coupons credited to their members." if credited else ""


registry.register_demo_seeder("loyalty-flown", _seed_demo_flown, order=50)


# --- Accrual: a landed flight's coupons earn miles ---------------------------------------------------


def on_flight_arrived(sender, *, flight_id: int, coupon_ids: list[int], **kwargs) -> None:  # noqa: ANN001
    """Queue the flight's accrual; an arrival that flew no new coupon has nothing to credit."""
    if coupon_ids:
        task_enqueue_on_commit("loyalty.tasks.accrue_flight", flight_id=flight_id)


reservations_events.flight_arrived.connect(on_flight_arrived, dispatch_uid="loyalty.accrual.flight_arrived")
