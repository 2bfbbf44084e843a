"""Customers for segment tests: a consent answer, a date of birth, a tier, a flight."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from crm.models import ConsentEvent, Customer
from tests.crm.factories import CustomerFactory


def consent(customer: Customer, granted: bool = True, *, channel: str = "email", minutes_ago: int = 60) -> None:
    ConsentEvent.objects.create(
        customer=customer, channel=channel, purpose="marketing", granted=granted, source="portal",
        recorded_at=timezone.now() - timedelta(minutes=minutes_ago),
    )  # fmt: skip


def reachable(**kwargs) -> Customer:
    """A customer who agreed to marketing by e-mail."""
    customer = CustomerFactory(**kwargs)
    consent(customer)
    return customer
