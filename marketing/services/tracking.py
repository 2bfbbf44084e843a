"""Tracking of what a delivered message led to: opens, clicks, bounces and conversions.

Links in a sent message go through a signed click redirect (``/t/c/<token>/``) and an HTML message carries
a signed open pixel (``/t/o/<token>.gif``). The token names the delivery (and, for a click, the URL), so a
forged or edited token is refused and the redirect can never be pointed anywhere we did not send.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from marketing.models import Delivery, DeliveryStatus, PromoCode, Suppression, SuppressionReason
from reservations.models import Booking, BookingStatus, Ticket

logger = logging.getLogger(__name__)

CLICK_SALT = "marketing.click"
OPEN_SALT = "marketing.open"
BOUNCE_KINDS = ("hard", "soft")
# An href attribute (not data-href) whose value is an absolute http(s) URL, in double or single quotes.
_HREF = re.compile(r"""(?P<lead>(?<![\w:-])href\s*=\s*)(?P<quote>["'])(?P<url>https?://[^"'<>\s]+)(?P=quote)""", re.IGNORECASE)
# A bare URL in a text body; trailing punctuation that ends a sentence is left outside.
_BARE_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def _unsubscribe_prefix() -> str:
    try:
        path = reverse("marketing_portal:unsubscribe", args=["x"])
    except NoReverseMatch:  # pragma: no cover - the portal URLs are always installed
        return "\0"
    return path[: path.rindex("x")]


def _is_ours_not_to_track(url: str) -> bool:
    """The unsubscribe link (mail clients and the law want it plain) and links already through the redirect."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}".lower() != _site().lower():
        return False
    return parts.path.startswith(_unsubscribe_prefix()) or parts.path.startswith("/t/")


def click_token(*, delivery_id: int, url: str) -> str:
    return signing.dumps({"d": delivery_id, "u": url}, salt=CLICK_SALT, compress=True)


def click_token_read(*, token: str) -> tuple[int, str] | None:
    """The delivery and URL a click token was made for; None if tampered with or not an http(s) URL."""
    try:
        data = signing.loads(token, salt=CLICK_SALT)
        delivery_id, url = int(data["d"]), str(data["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).netloc:
        return None
    return delivery_id, url


def open_token(*, delivery_id: int) -> str:
    return signing.dumps(delivery_id, salt=OPEN_SALT)


def open_token_read(*, token: str) -> int | None:
    try:
        return int(signing.loads(token, salt=OPEN_SALT))
    except (signing.BadSignature, TypeError, ValueError):
        return None


def click_url(*, delivery_id: int, url: str) -> str:
    return _site() + reverse("marketing_portal:track_click", args=[click_token(delivery_id=delivery_id, url=url)])


def open_url(*, delivery_id: int) -> str:
    return _site() + reverse("marketing_portal:track_open", args=[open_token(delivery_id=delivery_id)])


def links_track(*, html: str, delivery: Delivery) -> str:
    """The HTML body with its links through the signed click redirect and an open pixel added.

    Only the value of ``href`` attributes holding an absolute http(s) URL is replaced, so the markup around
    it stays as written; ``mailto:`` and relative links are left alone.
    """

    def rewrite(match: re.Match) -> str:
        # The attribute value is HTML-escaped (&amp;): the URL we sign is the one the browser would follow.
        url = html_lib.unescape(match["url"])
        if _is_ours_not_to_track(url):
            return match[0]
        tracked = html_lib.escape(click_url(delivery_id=delivery.pk, url=url), quote=True)
        return f"{match['lead']}{match['quote']}{tracked}{match['quote']}"

    tracked = _HREF.sub(rewrite, html)
    pixel = f'<img src="{html_lib.escape(open_url(delivery_id=delivery.pk))}" width="1" height="1" alt="">'
    end = tracked.lower().rfind("</body>")
    if end == -1:
        return tracked + pixel
    return tracked[:end] + pixel + tracked[end:]


def text_links_track(*, text: str, delivery: Delivery) -> str:
    """The text body with its links through the signed click redirect."""

    def rewrite(match: re.Match) -> str:
        found = match[0]
        url = found.rstrip(_TRAILING)
        tail = found[len(url) :]
        if not urlsplit(url).netloc or _is_ours_not_to_track(url):
            return found
        return click_url(delivery_id=delivery.pk, url=url) + tail

    return _BARE_URL.sub(rewrite, text)


def open_record(*, token: str) -> bool:
    """Count an open of the delivery the token names (the first one dated); False for a bad token."""
    delivery_id = open_token_read(token=token)
    if delivery_id is None:
        return False
    Delivery.objects.filter(pk=delivery_id).update(
        open_count=F("open_count") + 1, opened_at=Coalesce(F("opened_at"), timezone.now())
    )
    return True


def click_record(*, token: str) -> str | None:
    """Count a click and give the URL to send the reader to; None for a bad token (never redirect then).

    A click proves the message was opened even when the reader's mail client blocked the pixel, so the first
    open is dated too (the open count stays the pixel's).
    """
    found = click_token_read(token=token)
    if found is None:
        return None
    delivery_id, url = found
    now = timezone.now()
    Delivery.objects.filter(pk=delivery_id).update(
        click_count=F("click_count") + 1,
        clicked_at=Coalesce(F("clicked_at"), now),
        opened_at=Coalesce(F("opened_at"), now),
    )
    return url


def _message_ids(message_id: str) -> list[str]:
    bare = message_id.strip().strip("<>").strip()
    return [f"<{bare}>", bare] if bare else []


@transaction.atomic
def bounce_record(*, message_id: str, email: str, kind: str) -> Delivery | None:
    """A bounce the e-mail provider reports: a hard one dates the delivery and suppresses the address.

    A soft bounce (a full mailbox, a server down for a while) changes nothing: the next campaign may reach it.
    Reported twice, the second report changes nothing.
    """
    message_id, email = (message_id or "").strip(), (email or "").strip().lower()
    if kind not in BOUNCE_KINDS:
        message = _("The bounce type must be hard or soft.")
        raise ApplicationError(message, code="invalid_bounce", fields={"type": [message]})
    if not message_id and not email:
        message = _("Send the message id or the address that bounced.")
        raise ApplicationError(message, code="invalid_bounce", fields={"message_id": [message]})
    if len(message_id) > 255:
        message = _("The message id is too long.")
        raise ApplicationError(message, code="invalid_bounce", fields={"message_id": [message]})
    if email:
        try:
            validate_email(email)
        except ValidationError:
            message = _("Enter a valid e-mail address.")
            raise ApplicationError(message, code="invalid_bounce", fields={"email": [message]}) from None
    ids = _message_ids(message_id)
    delivery = Delivery.objects.select_related("customer").filter(message_id__in=ids).first() if ids else None
    if kind != "hard":
        return delivery
    if delivery is not None:
        Delivery.objects.filter(pk=delivery.pk, bounced_at__isnull=True).update(bounced_at=timezone.now())
        email = email or (delivery.customer.email or "").strip().lower()
    if email:
        Suppression.objects.get_or_create(email=email, defaults={"reason": SuppressionReason.BOUNCED})
    if delivery is not None:
        delivery.refresh_from_db()
    return delivery


# --- Conversions ---


def _converted(queryset, *, booking: Booking, at: datetime) -> list[int]:  # noqa: ANN001
    """Mark the deliveries converted by ``booking``, each only once (a second booking changes nothing)."""
    ids = list(queryset.filter(converted_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return []
    Delivery.objects.filter(pk__in=ids, converted_at__isnull=True).update(
        converted_at=at,
        conversion_record_locator=booking.record_locator,
        revenue=booking.total_amount,
        revenue_currency=booking.currency,
    )
    return ids


def conversion_record(*, booking_id: int) -> list[int]:
    """Credit a ticketed booking to the campaign deliveries that led to it; returns the ids converted now.

    A booking that redeemed a code a delivery carried converts that delivery. Otherwise the latest delivery
    the booker clicked in the ``MARKETING_ATTRIBUTION_DAYS`` before booking converts (last click). Whoever
    was held out of a campaign's run that started in that many days before the booking converts too: the
    control group's bookings are what the campaign's uplift is measured against.
    """
    booking = Booking.objects.filter(pk=booking_id).exclude(status__in=[BookingStatus.HELD, BookingStatus.EXPIRED]).first()
    if booking is None:
        return []
    window = timedelta(days=settings.MARKETING_ATTRIBUTION_DAYS)
    booked, now = booking.created_at, timezone.now()
    converted: list[int] = []
    with transaction.atomic():
        # The delivery the booking is credited to is chosen the same way every time, so a replayed event
        # finds it already converted instead of crediting the next candidate.
        codes = PromoCode.objects.filter(redeemed_booking_id=booking.pk).values("pk")
        credited = Delivery.objects.filter(promo_code_id__in=codes, status=DeliveryStatus.SENT)
        if not credited.exists() and booking.customer_id is not None:
            last_click = (
                Delivery.objects.filter(
                    customer_id=booking.customer_id,
                    status=DeliveryStatus.SENT,
                    clicked_at__gte=booked - window,
                    clicked_at__lte=booked,
                )
                .order_by("-clicked_at", "-pk")
                .values("pk")[:1]
            )
            credited = Delivery.objects.filter(pk__in=last_click)
        converted += _converted(credited, booking=booking, at=now)
        if booking.customer_id is not None:
            held_out = Delivery.objects.filter(
                Q(run__created_at__gte=booked - window) & Q(run__created_at__lte=booked),
                customer_id=booking.customer_id,
                status=DeliveryStatus.HOLDOUT,
            )
            converted += _converted(held_out, booking=booking, at=now)
    return converted


def conversions_sweep(*, hours: int = 2) -> int:
    """Credit again the bookings ticketed in the last ``hours`` (safe: each delivery converts once), in case
    the broker lost the task their ticketing queued."""
    since = timezone.now() - timedelta(hours=hours)
    booking_ids = list(Ticket.objects.filter(issued_at__gte=since).order_by().values_list("booking_id", flat=True).distinct())
    for booking_id in booking_ids:
        conversion_record(booking_id=booking_id)
    return len(booking_ids)
