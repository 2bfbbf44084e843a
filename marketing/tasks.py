"""marketing: tasks. All are routed to the ``campaigns`` queue (CELERY_TASK_ROUTES), served by its own worker."""

import time
from datetime import datetime

from celery import shared_task

from marketing import services
from marketing.channels import RateLimited
from marketing.services.campaigns import BatchRateLimited


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def campaign_fan_out(*, run_id: int, first_id: int, last_id: int) -> int:
    return services.campaign_fan_out(run_id=run_id, first_id=first_id, last_id=last_id)


# Waits for the rate limit are not failures: they may come back many times without using up max_retries' budget.
RATE_LIMITED_RETRIES = 10_000


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def delivery_send(self, *, delivery_id: int) -> str:  # noqa: ANN001
    while True:
        try:
            delivery = services.delivery_send(delivery_id=delivery_id)
        except RateLimited as limited:
            if not self.request.is_eager:
                raise self.retry(countdown=limited.wait, max_retries=RATE_LIMITED_RETRIES) from None
            # Run in-process (eager: development, tests), an immediate retry would only spin: wait here.
            time.sleep(limited.wait)
            continue
        return delivery.status if delivery else "missing"


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def deliveries_send_batch(self, *, delivery_ids: list[int]) -> dict[str, int]:  # noqa: ANN001
    while True:
        try:
            counts = services.deliveries_send_batch(delivery_ids=delivery_ids)
        except BatchRateLimited as limited:
            if not self.request.is_eager:
                # The rest, as a batch of their own, once the limit has room (the ones sent are not in it).
                raise self.retry(
                    kwargs={"delivery_ids": limited.remaining}, countdown=limited.wait, max_retries=RATE_LIMITED_RETRIES
                ) from None
            time.sleep(limited.wait)
            delivery_ids = limited.remaining
            continue
        if counts["errors"] and not self.request.is_eager:
            # A provider error left some pending with an attempt counted: the batch again later (sent ones pass).
            raise self.retry(countdown=min(600, 30 * 2**self.request.retries))
        return counts


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


# --- Triggered campaigns (queued by marketing.receivers; the daily scans by beat) ---


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def campaign_triggers_fire(*, trigger: str, customer_ids: list[int], on: str | None = None) -> int:
    from datetime import date

    return services.campaign_triggers_fire(trigger=trigger, customer_ids=customer_ids, on=date.fromisoformat(on) if on else None)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def triggers_on_booking_ticketed(*, booking_id: int) -> int:
    return services.triggers_on_booking_ticketed(booking_id=booking_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def triggers_on_flight_arrived(*, coupon_ids: list[int]) -> int:
    return services.triggers_on_flight_arrived(coupon_ids=coupon_ids)


@shared_task(acks_late=True)
def triggered_scans() -> int:
    return services.triggered_scans_run()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def bonus_miles_credit(*, booking_id: int) -> int:
    return len(services.bonus_miles_credit_for_booking(booking_id=booking_id))


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def bonus_miles_reverse(*, booking_id: int) -> int:
    return len(services.bonus_miles_reverse_for_booking(booking_id=booking_id))


@shared_task(acks_late=True)
def bonus_miles_sweep() -> int:
    return services.bonus_miles_sweep()
