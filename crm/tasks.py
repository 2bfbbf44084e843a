"""Celery tasks of the customer record: thin, idempotent wrappers around services."""

from celery import shared_task

from crm import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, max_retries=4)
def send_email(*, email_id: int) -> str:
    email = services.email_send(email_id=email_id)
    return email.status if email else "missing"


@shared_task(acks_late=True)
def sweep_pending_emails() -> int:
    return services.email_sweep_pending()
