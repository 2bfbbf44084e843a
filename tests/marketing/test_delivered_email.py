"""A campaign e-mail as the reader's mail client gets it: its parts, its headers, and every link in it working."""

from __future__ import annotations

import email
import re
from datetime import date
from email import policy
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from crm.selectors import consent_is_granted
from marketing import services
from marketing.models import Delivery, Suppression
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)
OFFER_PAGE = "https://www.example.com/offers/spring?utm_source=mail&x=1"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag == "img":
            self.images.append(dict(attrs))


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_delivered_campaign_email_is_multipart_and_its_click_pixel_and_one_click_unsubscribe_work(
    settings, django_capture_on_commit_callbacks
):
    # Given a consenting customer and a campaign whose HTML links to an offer page and to a mail address
    settings.SITE_URL = "https://crm.example.com"
    customer = reachable(given_name="Ada", email="ada@example.com")
    c = campaign(
        html_en=f'<html><body><p>Dear {{{{ name }}}}, <a href="{OFFER_PAGE.replace("&", "&amp;")}">see the offer</a> '
        f'or <a href="mailto:help@example.com">write to us</a>.</p></body></html>',
        text_en=f"Dear {{{{ name }}}}, see {OFFER_PAGE}.",
    )

    # When the run starts and its delivery is sent (tasks run eagerly)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    delivery = Delivery.objects.get(run=run)

    # Then the message as a mail client parses it has a text and an HTML part
    assert len(mail.outbox) == 1
    message = email.message_from_bytes(mail.outbox[0].message().as_bytes(), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()

    # And the unsubscribe headers offer an https link and a mailto, with the one-click POST (RFC 8058)
    unsubscribe = message["List-Unsubscribe"]
    assert re.search(r"<https?://[^>]+>", unsubscribe) and re.search(r"<mailto:[^>]+>", unsubscribe)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # And the offer link goes through our absolute click redirect, the mailto is left alone, and a pixel is added
    links = _Links()
    links.feed(html)
    tracked = [href for href in links.hrefs if href.startswith("https://crm.example.com/t/c/")]
    assert len(tracked) == 1 and "mailto:help@example.com" in links.hrefs and OFFER_PAGE not in html
    pixels = [img["src"] for img in links.images if (img.get("src") or "").startswith("https://crm.example.com/t/o/")]
    assert len(pixels) == 1 and html.index(pixels[0]) < html.index("</body>")
    assert OFFER_PAGE not in text and "https://crm.example.com/t/c/" in text
    client = Client()

    # When the reader clicks the link
    click = client.get(_path(tracked[0]))
    # Then they land on the original page and the click is recorded
    assert click.status_code == 302 and click["Location"] == OFFER_PAGE
    delivery.refresh_from_db()
    assert delivery.clicked_at is not None and delivery.click_count == 1

    # When their mail client loads the pixel, twice
    first, second = client.get(_path(pixels[0])), client.get(_path(pixels[0]))
    # Then it is a GIF that is never cached, and both opens are counted
    assert first.status_code == 200 and first["Content-Type"] == "image/gif" and first.content.startswith(b"GIF89a")
    assert "no-store" in second["Cache-Control"]
    delivery.refresh_from_db()
    assert delivery.open_count == 2 and delivery.opened_at is not None

    # When the mail client sends the one-click unsubscribe POST to the header's link, with no session or CSRF token
    link = re.search(r"<(https?://[^>]+)>", unsubscribe).group(1)
    response = Client(enforce_csrf_checks=True).post(
        _path(link), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    # Then the consent is withdrawn and the address suppressed
    assert response.status_code == 200
    assert not consent_is_granted(customer=customer, channel="email", purpose="marketing")
    assert Suppression.objects.filter(email="ada@example.com", reason="unsubscribed").exists()
