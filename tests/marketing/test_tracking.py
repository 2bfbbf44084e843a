"""Opens, clicks and bounces: signed links that cannot be forged or re-targeted, and the provider's bounce webhook."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketing import services
from marketing.models import Delivery, Suppression
from marketing.services.tracking import CLICK_SALT, click_token, open_token
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)
SECRET = "test-webhook-secret"


@pytest.fixture
def delivery(django_capture_on_commit_callbacks) -> Delivery:
    reachable(email="grace@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=campaign(), occurrence=TODAY)
    return Delivery.objects.get(run=run)


def _click(token: str):  # noqa: ANN202
    return Client().get(reverse("marketing_portal:track_click", args=[token]))


def _untouched(delivery: Delivery) -> None:
    delivery.refresh_from_db()
    assert (delivery.clicked_at, delivery.click_count, delivery.opened_at, delivery.open_count) == (None, 0, None, 0)


# --- Rewriting the links ---


def test_links_are_rewritten_but_mailto_relative_and_unsubscribe_links_and_the_markup_stay(settings, delivery):
    # Given HTML with an absolute link in single quotes, a mailto, a relative link and our unsubscribe link
    settings.SITE_URL = "https://crm.example.com"
    unsubscribe = "https://crm.example.com" + reverse("marketing_portal:unsubscribe", args=["tok"])
    html = (
        "<p class='x'><a class=\"b\" href='http://example.com/a?b=1&amp;c=2'>A</a> "
        f'<a href="mailto:x@example.com">M</a> <a href="/local/">L</a> <a href="{unsubscribe}">U</a>'
        '<span data-href="https://example.com/data">D</span></p>'
    )
    # When it is tracked (no </body>: the pixel goes at the end)
    out = services.links_track(html=html, delivery=delivery)
    # Then only the absolute link goes through the redirect, signed for the unescaped URL, and the rest stays
    assert "<p class='x'><a class=\"b\" href='https://crm.example.com/t/c/" in out
    assert 'href="mailto:x@example.com"' in out and 'href="/local/"' in out and f'href="{unsubscribe}"' in out
    assert 'data-href="https://example.com/data"' in out and out.count("/t/c/") == 1
    token = out.split("/t/c/", 1)[1].split("/", 1)[0]
    assert services.click_token_read(token=token) == (delivery.pk, "http://example.com/a?b=1&c=2")
    assert out.endswith('" width="1" height="1" alt="">') and '<img src="https://crm.example.com/t/o/' in out


def test_bare_urls_in_the_text_are_tracked_and_sentence_punctuation_stays_outside(settings, delivery):
    settings.SITE_URL = "https://crm.example.com"
    # When a text body with a URL at the end of a sentence is tracked
    out = services.text_links_track(text="Book now (https://example.com/book). Thanks!", delivery=delivery)
    # Then the URL is replaced by the redirect and the closing bracket and full stop are kept
    assert out.startswith("Book now (https://crm.example.com/t/c/") and out.endswith("/). Thanks!")
    token = out.split("/t/c/", 1)[1].split("/", 1)[0]
    assert services.click_token_read(token=token) == (delivery.pk, "https://example.com/book")


# --- The click redirect ---


def test_a_tampered_click_token_is_a_404_and_records_nothing(delivery):
    # Given a genuine token with one character changed
    token = click_token(delivery_id=delivery.pk, url="https://example.com/")
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    # When it is followed
    response = _click(forged)
    # Then it is a 404 page, no redirect, and nothing is recorded
    assert response.status_code == 404 and "Location" not in response
    _untouched(delivery)


def test_a_click_token_cannot_be_retargeted_to_another_url(delivery):
    # Given a genuine token for our URL, and one made with another key for an attacker's URL
    genuine = click_token(delivery_id=delivery.pk, url="https://example.com/")
    payload = genuine.split(":")[0]
    evil = signing.dumps({"d": delivery.pk, "u": "https://evil.example/"}, key="not-our-key", salt=CLICK_SALT, compress=True)
    # When the attacker follows their token, and the genuine payload with the forged signature
    forged = payload + ":" + evil.split(":", 1)[1]
    # Then both are refused
    assert _click(evil).status_code == 404
    assert _click(forged).status_code == 404
    _untouched(delivery)
    # And the genuine token still goes where it was signed for
    assert _click(genuine)["Location"] == "https://example.com/"


def test_a_signed_token_for_a_non_http_url_is_refused(delivery):
    token = click_token(delivery_id=delivery.pk, url="javascript:alert(1)")
    assert _click(token).status_code == 404
    _untouched(delivery)


def test_every_click_is_counted_and_the_first_dated(delivery):
    token = click_token(delivery_id=delivery.pk, url="https://example.com/")
    _click(token)
    delivery.refresh_from_db()
    first = delivery.clicked_at
    _click(token)
    delivery.refresh_from_db()
    assert delivery.click_count == 2 and delivery.clicked_at == first
    # a click proves an open even when the pixel was blocked
    assert delivery.opened_at == first and delivery.open_count == 0


# --- The open pixel ---


def test_the_pixel_answers_a_gif_for_a_bad_token_and_records_nothing(delivery):
    # When a made-up pixel address is loaded
    response = Client().get(reverse("marketing_portal:track_open", args=["nonsense"]))
    # Then it is still the 1×1 GIF, not cached, and no open is recorded
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and "no-store" in response["Cache-Control"]
    _untouched(delivery)


def test_the_pixel_needs_no_login_and_counts_each_open(delivery):
    url = reverse("marketing_portal:track_open", args=[open_token(delivery_id=delivery.pk)])
    for _n in range(3):
        assert Client().get(url).status_code == 200
    delivery.refresh_from_db()
    assert delivery.open_count == 3 and delivery.opened_at is not None


# --- The bounce webhook ---


def _bounce(body, *, secret: str | None = SECRET):  # noqa: ANN001, ANN202
    headers = {} if secret is None else {"HTTP_X_MARKETING_WEBHOOK_SECRET": secret}
    data = body if isinstance(body, str) else json.dumps(body)
    return Client(enforce_csrf_checks=True).post(
        reverse("marketing_portal:bounce_webhook"), data, content_type="application/json", **headers
    )


@pytest.fixture
def webhook_secret(settings):
    settings.MARKETING_WEBHOOK_SECRET = SECRET


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_the_bounce_webhook_refuses_a_missing_or_wrong_secret(webhook_secret, delivery, secret):
    # When the webhook is called without the right secret
    response = _bounce({"message_id": delivery.message_id, "email": "grace@example.com", "type": "hard"}, secret=secret)
    # Then it is refused and nothing is recorded
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    delivery.refresh_from_db()
    assert delivery.bounced_at is None and not Suppression.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        '"a string"',
        {"message_id": 5, "email": "grace@example.com", "type": "hard"},
        {"message_id": "<x@y>", "email": "not an address", "type": "hard"},
        {"message_id": "<x@y>", "email": "grace@example.com", "type": "permanent"},
        {"type": "hard"},
    ],
)
def test_the_bounce_webhook_answers_400_in_the_error_shape_for_bad_input(webhook_secret, delivery, body):
    response = _bounce(body)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Suppression.objects.exists()


def test_a_hard_bounce_suppresses_the_address_and_the_next_campaign_skips_it(
    webhook_secret, delivery, django_capture_on_commit_callbacks
):
    # When the provider reports a hard bounce for the delivery's message, twice
    body = {"message_id": delivery.message_id.strip("<>"), "email": "Grace@Example.com", "type": "hard"}
    assert _bounce(body).status_code == 202
    delivery.refresh_from_db()
    first = delivery.bounced_at
    assert _bounce(body).status_code == 202

    # Then the delivery is dated bounced once and the address suppressed once
    delivery.refresh_from_db()
    assert first is not None and delivery.bounced_at == first
    assert list(Suppression.objects.values_list("email", "reason")) == [("grace@example.com", "bounced")]

    # And the next campaign's delivery to that address is skipped as suppressed
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=campaign(name="Summer"), occurrence=TODAY)
    assert mail.outbox == []
    assert Delivery.objects.get(run=run).skip_reason == "suppressed"


def test_a_soft_bounce_is_accepted_and_changes_nothing(webhook_secret, delivery):
    response = _bounce({"message_id": delivery.message_id, "email": "grace@example.com", "type": "soft"})
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.bounced_at is None and not Suppression.objects.exists()


def test_a_hard_bounce_for_an_unknown_message_still_suppresses_the_address(webhook_secret, delivery):
    assert _bounce({"message_id": "<nobody@example.com>", "email": "lost@example.com", "type": "hard"}).status_code == 202
    assert Suppression.objects.filter(email="lost@example.com", reason="bounced").exists()
    delivery.refresh_from_db()
    assert delivery.bounced_at is None


def test_the_bounce_webhook_takes_only_post(webhook_secret):
    response = Client().get(reverse("marketing_portal:bounce_webhook"), HTTP_X_MARKETING_WEBHOOK_SECRET=SECRET)
    assert response.status_code == 405


def test_a_bounce_sets_the_time_of_the_report(webhook_secret, delivery):
    before = timezone.now()
    _bounce({"message_id": delivery.message_id, "email": "", "type": "hard"})
    delivery.refresh_from_db()
    assert delivery.bounced_at >= before
    # with no address given, the delivery's own is suppressed
    assert Suppression.objects.filter(email="grace@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_opens_and_clicks_at_the_same_moment_are_all_counted():
    # Given a delivery (written directly: no test transaction holds the rows)
    import threading

    from django.db import connection

    from marketing.models import CampaignRun

    run = CampaignRun.objects.create(campaign=campaign(), occurrence=TODAY)
    delivery = Delivery.objects.create(run=run, customer=reachable(), status="sent", sent_at=timezone.now())
    pixel = reverse("marketing_portal:track_open", args=[open_token(delivery_id=delivery.pk)])
    link = reverse("marketing_portal:track_click", args=[click_token(delivery_id=delivery.pk, url="https://example.com/")])
    workers = 8
    barrier = threading.Barrier(workers, timeout=20)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            Client().get(pixel if n % 2 else link)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    # When four readers load the pixel and four click, all at once
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    # Then every one is counted (no lost update) and the first moments are dated
    assert errors == []
    delivery.refresh_from_db()
    assert (delivery.open_count, delivery.click_count) == (4, 4)
    assert delivery.opened_at is not None and delivery.clicked_at is not None
