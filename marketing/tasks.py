"""marketing: tasks. All are routed to the ``campaigns`` queue (CELERY_TASK_ROUTES), served by its own worker."""

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


@shared_task(acks_late=True)
def birthday_campaigns_run() -> int:
    return len(services.birthday_campaigns_run())


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def conversion_record(*, booking_id: int) -> int:
    return len(services.conversion_record(booking_id=booking_id))


@shared_task(acks_late=True)
def conversions_sweep() -> int:
    return services.conversions_sweep()
