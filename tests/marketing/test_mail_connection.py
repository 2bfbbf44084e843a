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


def _message(to: str) -> channels.OutgoingMessage:
    return channels.OutgoingMessage(channel="email", to=to, subject="News", text="Hello", html="<p>Hello</p>")


def test_a_sending_thread_sends_one_message_after_another_through_one_smtp_connection(smtp):
    # When five messages are sent one after another from one thread, as each of a worker's sending threads does
    for n in range(5):
        channels.message_send(_message(f"kept{n}@example.com"))

    # Then all five arrive over a single SMTP session
    assert len(smtp.wait_for(5)) == 5
    assert smtp.greetings == 1


def test_a_connection_the_server_dropped_is_replaced_and_the_message_still_goes(smtp):
    # Given a thread's kept connection that the server has since dropped
    channels.message_send(_message("kept0@example.com"))
    channels._mail_connection().connection.sock.shutdown(socket.SHUT_RDWR)

    # When the thread sends the next message
    channels.message_send(_message("kept1@example.com"))

    # Then it arrives over a new connection, once
    messages = smtp.wait_for(2)
    assert sorted(str(m["To"]) for m in messages) == ["kept0@example.com", "kept1@example.com"]
    assert smtp.greetings == 2


@pytest.mark.django_db
def test_a_batch_sends_through_the_sending_threads_kept_connections(smtp):
    # Given twenty pending deliveries
    for n in range(20):
        reachable(email=f"batch{n}@example.com")
    run = services.campaign_run_start(campaign=campaign(), occurrence=timezone.localdate())
    pending = list(Delivery.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))

    # When one batch sends them
    counts = services.deliveries_send_batch(delivery_ids=pending)

    # Then all arrive, each once and marked sent, over no more sessions than there are sending threads
    assert counts["sent"] == 20 and len(smtp.wait_for(20)) == 20
    assert Delivery.objects.filter(run=run, status="sent").count() == 20
    assert 1 <= smtp.greetings <= campaigns.SEND_CONCURRENCY
