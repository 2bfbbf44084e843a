"""Celery tasks of the frequent flyer programme: thin, idempotent wrappers around services."""

from celery import shared_task

from loyalty import services

# --- Accrual ---------------------------------------------------------------------------------------


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=1800, max_retries=8)
def accrue_flight(*, flight_id: int) -> int:
    """Credit the flown coupons of a landed flight; run twice, it credits nothing the second time."""
    return len(services.miles_accrue_for_flight(flight_id=flight_id))


@shared_task(acks_late=True)
def accrual_sweep() -> int:
    """Periodic: credit flown coupons of recent flights whose accrual task was lost."""
    return services.miles_accrual_sweep()
