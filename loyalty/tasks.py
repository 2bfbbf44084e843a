"""loyalty: tasks."""

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
