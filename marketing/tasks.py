"""marketing: tasks. All are routed to the ``campaigns`` queue (CELERY_TASK_ROUTES), served by its own worker."""

from datetime import datetime

from celery import shared_task

from marketing import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def campaign_fan_out(*, run_id: int, first_id: int, last_id: int) -> int:
    return services.campaign_fan_out(run_id=run_id, first_id=first_id, last_id=last_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def delivery_send(*, delivery_id: int) -> str:
    delivery = services.delivery_send(delivery_id=delivery_id)
    return delivery.status if delivery else "missing"


@shared_task(acks_late=True)
def deliveries_sweep() -> int:
    return services.deliveries_sweep()


# --- A campaign's beat entries (marketing.services.lifecycle writes them, one per campaign) ---


@shared_task(acks_late=True)
def campaign_run(*, campaign_id: int) -> int | None:
    """A one-off campaign's moment (its clocked entry)."""
    run = services.campaign_run(campaign_id=campaign_id)
    return run.pk if run else None


@shared_task(acks_late=True)
def campaign_tick(*, campaign_id: int, now: str | None = None) -> int | None:
    """A birthday or recurring campaign's hourly tick; ``now`` (ISO 8601) replays an hour the beat missed."""
    moment = datetime.fromisoformat(now) if now else None
    run = services.campaign_tick(campaign_id=campaign_id, now=moment)
    return run.pk if run else None


@shared_task(acks_late=True)
def campaigns_complete_finished() -> int:
    return services.campaigns_complete_finished()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def conversion_record(*, booking_id: int) -> int:
    return len(services.conversion_record(booking_id=booking_id))


@shared_task(acks_late=True)
def conversions_sweep() -> int:
    return services.conversions_sweep()
