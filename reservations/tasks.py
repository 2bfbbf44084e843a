"""Celery tasks of reservations: thin, idempotent wrappers around services."""

from celery import shared_task

from reservations import services


@shared_task(acks_late=True)
def expire_unpaid_holds() -> int:
    """Periodic: release the seats of held bookings whose payment time is up."""
    return services.booking_expire_holds()
