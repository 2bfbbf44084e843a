"""Celery tasks of the frequent flyer programme: thin, idempotent wrappers around services."""

from celery import shared_task

from loyalty import services

# --- Tiers and expiry: daily sweeps (crm/settings.py CELERY_BEAT_SCHEDULE) ---------------------
# Thin and idempotent: each service finds its own work in the database, so a retried or doubled run
# changes nothing the second time.


@shared_task(acks_late=True)
def tiers_requalify() -> dict[str, int]:
    """Close the qualification periods that ended, then warn members about to lose their tier."""
    changes = services.tiers_requalify()
    warned = services.tiers_warn()
    return {"tier_changes": len(changes), "warned": len(warned)}


@shared_task(acks_late=True)
def miles_expire() -> dict[str, int]:
    """Expire the miles of members inactive too long, then remind those whose miles expire soon."""
    expired = services.miles_expire()
    reminded = services.miles_expiry_remind()
    return {"expired": len(expired), "reminded": len(reminded)}


# --- End of tiers and expiry -------------------------------------------------------------------

# --- Accrual ---------------------------------------------------------------------------------------


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=1800, max_retries=8)
def accrue_flight(*, flight_id: int) -> int:
    """Credit the flown coupons of a landed flight; run twice, it credits nothing the second time."""
    return len(services.miles_accrue_for_flight(flight_id=flight_id))


@shared_task(acks_late=True)
def accrual_sweep() -> int:
    """Periodic: credit flown coupons of recent flights whose accrual task was lost."""
    return services.miles_accrual_sweep()
