"""How a marketing message leaves: e-mail through Django's mail backend, SMS and push through a provider.

A provider is chosen per channel by a dotted setting (``MARKETING_SMS_BACKEND``, ``MARKETING_PUSH_BACKEND``):
``console`` writes the message to the log, ``locmem`` keeps it in ``outbox`` (tests and development), and
a real gateway is a class with the same ``send(message)`` method named by its import path.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message, whatever the channel: ``to`` is an address, a phone number (E.164) or a login id."""

    channel: str
    to: str
    subject: str
    text: str
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


# What the locmem providers accepted, in order (like django.core.mail.outbox).
outbox: list[OutgoingMessage] = []


class ConsoleProvider:
    def send(self, message: OutgoingMessage) -> None:
        logger.info("%s to %s: %s", message.channel, message.to, message.text[:160])


class LocmemProvider:
    def send(self, message: OutgoingMessage) -> None:
        outbox.append(message)


# One mail connection per thread, kept open between sends: Django's SMTP backend otherwise connects, greets
# and quits for every message, which costs a campaign worker more than the message itself.
_held = threading.local()


def _mail_connection(*, fresh: bool = False) -> Any:
    """This thread's open connection to EMAIL_BACKEND (a new one when the settings changed or ``fresh``)."""
    key = (settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), getattr(settings, "EMAIL_PORT", 0))
    held = getattr(_held, "mail", None)
    if held is not None and (fresh or held[0] != key):
        with contextlib.suppress(Exception):
            held[1].close()
        held = _held.mail = None
    if held is None:
        connection = get_connection()
        if hasattr(connection, "open"):
            connection.open()
        held = _held.mail = (key, connection)
    return held[1]


class EmailProvider:
    """E-mail as multipart/alternative (text and HTML) through whatever EMAIL_BACKEND is configured."""

    def send(self, message: OutgoingMessage) -> None:
        email = EmailMultiAlternatives(
            subject=message.subject, body=message.text, to=[message.to], headers=message.headers,
            connection=_mail_connection(),
        )  # fmt: skip
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            email.send()
        except smtplib.SMTPServerDisconnected:
            # The server closed the kept connection (idle timeout, restart; smtplib reports any socket error
            # so): once more on a new one. Were the first attempt accepted after all, the resend has the same
            # Message-ID.
            email.connection = _mail_connection(fresh=True)
            email.send()


_NAMED = {"console": ConsoleProvider, "locmem": LocmemProvider}


def provider_for(channel: str) -> Provider:
    if channel == "email":
        return EmailProvider()
    name = getattr(settings, f"MARKETING_{channel.upper()}_BACKEND", "console")
    return (_NAMED.get(name) or import_string(name))()


def message_send(message: OutgoingMessage) -> None:
    provider_for(message.channel).send(message)
