"""Campaign e-mail goes through one SMTP connection per worker thread, and a connection the server dropped is replaced."""

from __future__ import annotations

import socket

import pytest
from django.utils import timezone

from marketing import channels, services
from marketing.models import Delivery
from marketing.services import campaigns
from tests.crm import test_worker as real_worker
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable


class CountingInbox(real_worker.Inbox):
    """Keeps the messages and counts the SMTP sessions (each greeting is a new connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.greetings = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201, N802
        self.greetings += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def smtp(settings):
    from aiosmtpd.controller import Controller

    inbox = CountingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=real_worker._free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    channels._mail_connection(fresh=True).close()
    campaigns._sender().submit(lambda: channels._mail_connection(fresh=True).close()).result()
    controller.stop()


def _pending(count: int) -> list[int]:
    for n in range(count):
        reachable(email=f"kept{n}@example.com")
    run = services.campaign_run_start(campaign=campaign(), occurrence=timezone.localdate())
    return list(Delivery.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_worker_sends_a_run_through_one_smtp_connection(smtp):
    # Given five pending deliveries
    pending = _pending(5)

    # When they are sent one after another
    for pk in pending:
        services.delivery_send(delivery_id=pk)

    # Then all five arrive over a single SMTP session
    assert len(smtp.wait_for(5)) == 5
    assert smtp.greetings == 1


@pytest.mark.django_db
def test_a_connection_the_server_dropped_is_replaced_and_the_message_still_goes(smtp):
    # Given a kept connection that the server has since dropped (the sending thread's own)
    first, second = _pending(2)
    services.delivery_send(delivery_id=first)
    campaigns._sender().submit(lambda: channels._mail_connection().connection.sock.shutdown(socket.SHUT_RDWR)).result()

    # When the next delivery is sent
    services.delivery_send(delivery_id=second)

    # Then it arrives over a new connection, once, and is marked sent
    messages = smtp.wait_for(2)
    assert sorted(str(m["To"]) for m in messages) == ["kept0@example.com", "kept1@example.com"]
    assert smtp.greetings == 2
    assert Delivery.objects.get(pk=second).status == "sent"
