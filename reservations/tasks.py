"""Celery tasks of reservations: thin, idempotent wrappers around services."""

from celery import shared_task

from reservations import services


@shared_task(acks_late=True)
def expire_unpaid_holds() -> int:
    """Periodic: release the seats of held bookings whose payment time is up."""
    return services.booking_expire_holds()


@shared_task(acks_late=True)
def sweep_pending_payments() -> int:
    """Periodic: settle card payments whose request died at the gateway, and ticket paid holds."""
    return services.payments_settle_pending()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=60, retry_backoff_max=3600, max_retries=6)
def process_refund(*, refund_id: int) -> str:
    """Send one pending card refund to the gateway; a refund already settled is left alone."""
    refund = services.refund_process(refund_id=refund_id)
    return refund.status if refund else "missing"


@shared_task(acks_late=True)
def sweep_pending_refunds() -> int:
    """Periodic: re-enqueue card refunds whose task was lost."""
    return services.refunds_process_pending()


@shared_task(acks_late=True)
def sweep_unpaid_check_in_fees() -> int:
    """Periodic: take off bookings the check-in fees whose request died before they were paid."""
    return services.check_in_fees_sweep()
