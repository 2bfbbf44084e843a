"""Reads of the frequent flyer programme shared by views, API and tasks."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.errors import NotFound
from loyalty.models import Member, MilesEntry, Programme, RetroClaim, Tier


def programme() -> Programme:
    """The programme's settings row (created with its defaults the first time it is read)."""
    found, _ = Programme.objects.get_or_create(pk=1)
    return found


def tiers() -> list[Tier]:
    """Every tier, entry tier first."""
    return list(Tier.objects.order_by("rank"))


def member_for_customer(*, customer_id: int) -> Member | None:
    return Member.objects.select_related("tier").filter(customer_id=customer_id).first()


def member_get_by_number(*, number: str) -> Member:
    member = Member.objects.select_related("tier", "customer").filter(number=number).first()
    if member is None:
        raise NotFound(_("No member has this frequent flyer number."), code="member_not_found")
    return member


def statement(*, member: Member) -> QuerySet[MilesEntry]:
    """The member's ledger, newest first (the index ``milesentry_statement`` serves this order)."""
    return MilesEntry.objects.filter(member=member).order_by("-created_at", "-id")


def retro_claims(*, member: Member) -> QuerySet[RetroClaim]:
    """The member's missing-miles claims, newest first."""
    return RetroClaim.objects.filter(member=member).order_by("-created_at", "-id")
