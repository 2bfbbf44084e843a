"""What happened to a customer record, for apps downstream (loyalty, support, marketing, analytics).

Each event is a Django signal; connect a receiver in your app's ``receivers.py``. The sender is the
model class (``Customer``), and every payload is JSON: ids and codes, never text a person reads (a
receiver renders what it shows, in its reader's language) and never model instances (a receiver
loads what it needs, fresh).

Events are sent once the change is committed (``send_after_commit``): a receiver never sees a change
that was rolled back, and a receiver that raises is logged and cannot undo or fail the change. Receivers
therefore run outside the sender's transaction; a receiver that writes opens its own, and one with
slow work (e-mail, a gateway) queues a task. A quote, preview or dry run sends nothing.

customer_registered
    ``customer_id: int, user_id: int``. A person signed up for the self-service portal
    (``passenger_register``): a login and a customer record of its own now exist. A record an agent
    creates in the office, through the API or by converting a lead is *not* a registration: that
    person has no login and asked for nothing, so a welcome e-mail or an enrolment must not follow.
customer_verified
    ``customer_id: int, user_id: int``. The login proved its e-mail address (``passenger_verify_email``),
    once per login. ``customer_id`` is the record the login holds afterwards: when an agent had already
    made a record for the same address, that older record adopts the login (a ``customer_merged`` is
    sent first, with the sign-up's record as the loser).
customer_merged
    ``survivor_id: int, loser_id: int, merge_id: int``. ``customer_merge`` folded the loser into the
    survivor: every app's rows now point at the survivor, and the loser's row is gone (``loser_id`` no
    longer exists). ``merge_id`` is the ``CustomerMerge`` audit row. The survivor's current consent
    may have changed with the history it took over; receivers that keep consent state re-read it.
customer_erased
    ``customer_id: int``. ``customer_erase`` anonymized the customer everywhere (right to erasure); the
    row stays, its personal data is gone. Sent once: erasing an erased customer sends nothing.
consent_changed
    ``customer_id: int, channel: str, purpose: str, granted: bool, source: str, consent_event_id: int``.
    The customer's current consent for a channel (``ConsentChannel``) and purpose (``ConsentPurpose``)
    turned from not granted to granted or back (``consent_record``); never answering counts as not
    granted. Recording the answer the customer already had appends to the history but sends nothing.
login_changed
    ``user_id: int, customer_id: int | None, what: str``. A login's e-mail address (``what="email"``,
    the username or the address, case aside) or its password (``what="password"``: changed, reset, or
    set by an administrator) was saved changed, whichever path saved it (``crm.login_events``). One
    event per thing changed. ``customer_id`` is the login's own record, None for a login without one
    (staff). Creating a login sends nothing, nor does closing one (erasure deactivates the login
    first), nor re-hashing the same password at log-in. Fraud checks use it: an account taken over
    usually starts with a new password or address.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)


class Event(Signal):
    """A Django signal that knows its own name, so the log of a failed receiver says which event it was."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __repr__(self) -> str:
        return f"<Event {self.name}>"


def send_after_commit(event: Signal, *, sender: type, **payload: Any) -> None:
    """Queue ``event`` for when the current transaction commits (at once when there is none).

    The payload is copied as JSON now, so it must be ids and codes (a model instance or a Decimal is a
    TypeError here, in the sender's tests) and later changes to the caller's lists cannot alter it. A
    rolled-back transaction or savepoint drops the event. Each receiver runs through ``send_robust``:
    one that raises is logged with its exception and the other receivers still run.
    """
    frozen = json.loads(json.dumps(payload))
    name = getattr(event, "name", repr(event))

    def send() -> None:
        for receiver, result in event.send_robust(sender=sender, **frozen):
            if isinstance(result, Exception):
                logger.error(
                    "Receiver %s of %s failed; the change it reports stays committed. Payload: %s",
                    getattr(receiver, "__qualname__", repr(receiver)),
                    name,
                    frozen,
                    exc_info=result,
                )

    transaction.on_commit(send, robust=True)


customer_registered = Event("customer_registered")
customer_verified = Event("customer_verified")
customer_merged = Event("customer_merged")
customer_erased = Event("customer_erased")
consent_changed = Event("consent_changed")
login_changed = Event("login_changed")
