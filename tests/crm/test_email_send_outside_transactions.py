"""The SMTP conversation happens with no transaction or row lock open, and one e-mail is sent once."""

import threading

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import DatabaseError, connection, transaction

from crm import services
from crm.models import OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)

OBSERVING_BACKEND = "tests.crm.test_email_send_outside_transactions.ObservingBackend"


class ObservingBackend(EmailBackend):
    """The in-memory backend, noting whether a transaction is open and whether the row is lockable by others."""

    seen: list[dict] = []
    while_sending = None

    def send_messages(self, messages):  # noqa: ANN001, ANN201
        email_id = OutboundEmail.objects.values_list("pk", flat=True).get()
        seen = {"in_transaction": connection.in_atomic_block}

        def other_connection() -> None:
            try:
                with transaction.atomic():
                    OutboundEmail.objects.select_for_update(nowait=True).get(pk=email_id)
                seen["row_free"] = True
            except DatabaseError:
                seen["row_free"] = False
            finally:
                connection.close()

        prober = threading.Thread(target=other_connection)
        prober.start()
        prober.join(30)
        if type(self).while_sending is not None:
            type(self).while_sending(email_id)
        self.seen.append(seen)
        return super().send_messages(messages)


@pytest.fixture
def observing(settings):
    settings.EMAIL_BACKEND = OBSERVING_BACKEND
    ObservingBackend.seen, ObservingBackend.while_sending = [], None
    yield ObservingBackend
    ObservingBackend.while_sending = None


def welcome() -> OutboundEmail:
    return OutboundEmail.objects.create(
        to="olivia@example.com", template="crm/welcome", context={"given_name": "Olivia"}, language="en"
    )


def test_an_email_is_sent_with_no_transaction_open_and_its_row_unlocked(observing):
    # given a queued e-mail
    email = welcome()
    # when the worker sends it
    services.email_send(email_id=email.pk)
    # then the mail server was talked to outside any transaction, and the send is recorded
    assert observing.seen == [{"in_transaction": False, "row_free": True}]
    email.refresh_from_db()
    assert (email.status, email.attempts, len(mail.outbox)) == (OutboundEmail.Status.SENT, 1, 1)


def test_a_second_worker_does_not_send_an_email_already_being_sent(observing):
    # given a queued e-mail, and a second worker that picks it up while the first is talking to the server
    email = welcome()
    second: list[OutboundEmail | None] = []

    def second_worker(email_id: int) -> None:
        def run() -> None:
            try:
                second.append(services.email_send(email_id=email_id))
            finally:
                connection.close()

        worker = threading.Thread(target=run)
        worker.start()
        worker.join(30)

    observing.while_sending = second_worker
    # when both run
    services.email_send(email_id=email.pk)
    # then the message went out once, and the second worker left it alone
    assert len(mail.outbox) == 1
    assert second[0].status == OutboundEmail.Status.PENDING
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 1)
