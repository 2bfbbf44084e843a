"""Reactions to other apps' events and this app's customer-record extension."""

from __future__ import annotations

from crm.celery import task_enqueue_on_commit
from reservations import events as reservations_events

# --- Accrual: a landed flight's coupons earn miles ---------------------------------------------------


def on_flight_arrived(sender, *, flight_id: int, coupon_ids: list[int], **kwargs) -> None:  # noqa: ANN001
    """Queue the flight's accrual; an arrival that flew no new coupon has nothing to credit."""
    if coupon_ids:
        task_enqueue_on_commit("loyalty.tasks.accrue_flight", flight_id=flight_id)


reservations_events.flight_arrived.connect(on_flight_arrived, dispatch_uid="loyalty.accrual.flight_arrived")
