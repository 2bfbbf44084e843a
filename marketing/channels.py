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


# --- Rate limits ----------------------------------------------------------------------------------
# Each provider accepts so many messages a second from us (settings.MARKETING_RATE_LIMITS), however many
# campaign workers send. The count is kept in Redis, shared by every worker: a sliding one-second log
# (a sorted set of send moments, by Redis's own clock so workers' clocks need not agree), so no second,
# wherever it starts, holds more than the limit.

RATE_WINDOW_MICROSECONDS = 1_000_000

# Up to ARGV[4] places at once (a sending worker asks for as many as it keeps on the wire): one round trip
# for several messages. Answers {places granted, microseconds to wait when none was}.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
if free > 0 then
    local granted = math.min(free, tonumber(ARGV[4]))
    for i = 1, granted do
        redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. i)
    end
    redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
    return {granted, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now + 1}
"""


class RateLimited(Exception):  # noqa: N818 - it is what happened, not an error
    """The channel's provider has had its share for this second: try again in ``wait`` seconds."""

    def __init__(self, channel: str, wait: float) -> None:
        super().__init__(f"{channel} rate limit reached; retry in {wait:.3f}s")
        self.channel = channel
        self.wait = wait


_redis_clients: dict[str, object] = {}


def _redis_and_key(channel: str) -> tuple[object, str]:
    """The cache's Redis client when the cache is Redis (so tests' key prefixes keep them apart), else REDIS_URL's."""
    from django.core.cache import cache

    key = f"marketing:rate:{channel}"
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is not None:
        full_key = cache.make_and_validate_key(key)
        return client_of(full_key, write=True), full_key
    import redis

    url = settings.REDIS_URL
    if url not in _redis_clients:
        _redis_clients[url] = redis.Redis.from_url(url)
    return _redis_clients[url], key


def rate_limit_take(*, channel: str, wanted: int) -> tuple[int, float]:
    """Up to ``wanted`` places on ``channel`` now (counted as taken): how many, and when none, the seconds to wait.

    A channel without a limit (missing or 0 in ``MARKETING_RATE_LIMITS``) is never held back.
    """
    import uuid

    limit = int((getattr(settings, "MARKETING_RATE_LIMITS", {}) or {}).get(channel) or 0)
    if limit <= 0 or wanted <= 0:
        return max(wanted, 0), 0.0
    client, key = _redis_and_key(channel)
    granted, waited = client.eval(_TAKE, 1, key, limit, RATE_WINDOW_MICROSECONDS, uuid.uuid4().hex, wanted)
    return int(granted), (0.0 if granted else max(int(waited), 0) / 1_000_000)


def rate_limit_acquire(*, channel: str) -> float:
    """0 when one more message may go on ``channel`` now (and it is counted), else the seconds to wait."""
    granted, wait = rate_limit_take(channel=channel, wanted=1)
    return 0.0 if granted else wait
