"""Two workers sending the same delivery at the same moment (a redelivered task, the sweep): one e-mail."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

from marketing import services
from marketing.models import CampaignRun, Delivery
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable

WORKERS = 4
TIMEOUT = 20


class SlowBackend(EmailBackend):
    """The locmem backend with an SMTP conversation that takes a while, so the sends overlap."""

    def send_messages(self, messages):  # noqa: ANN001, ANN201
        time.sleep(0.5)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_delivery_send_one_email(settings):
    # Given one pending delivery
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    # (written directly: with no test transaction around it, starting a run would send it at once)
    run = CampaignRun.objects.create(campaign=campaign(), occurrence=date(2026, 6, 15))
    delivery = Delivery.objects.create(run=run, customer=reachable())
    barrier = threading.Barrier(WORKERS, timeout=TIMEOUT)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            services.delivery_send(delivery_id=delivery.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    # When four workers send it at once
    threads = [threading.Thread(target=worker) for _n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    # Then exactly one e-mail left and the delivery is sent
    assert errors == []
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.sent_at is not None
