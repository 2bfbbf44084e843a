"""Outbound e-mail keeps a record of every failed attempt, so the retry and the sweep can act on it."""

import pytest

from crm import services
from crm.models import OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failed_send_keeps_the_attempt_and_the_error_and_ends_failed_after_the_last_try(settings):
    # given an e-mail queued while the mail server refuses connections
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    email = OutboundEmail.objects.create(
        to="olivia@example.com", template="crm/welcome", context={"given_name": "Olivia"}, language="en"
    )
    # when the worker tries to send it
    with pytest.raises(OSError):
        services.email_send(email_id=email.pk)
    # then the attempt and its error are recorded and it stays pending for a retry
    email.refresh_from_db()
    assert (email.attempts, email.status) == (1, OutboundEmail.Status.PENDING)
    assert "Error" in email.last_error
    # and after the last allowed attempt it is marked failed
    for _ in range(services.EMAIL_MAX_ATTEMPTS - 1):
        with pytest.raises(OSError):
            services.email_send(email_id=email.pk)
    email.refresh_from_db()
    assert (email.attempts, email.status) == (services.EMAIL_MAX_ATTEMPTS, OutboundEmail.Status.FAILED)
