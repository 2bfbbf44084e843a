"""A birthday campaign through a real Celery worker (campaigns queue), a real Redis broker and a real SMTP server,
from the hourly tick to the booking made with the code.

The worker and the SMTP server are tests/crm/test_worker.py's: a `celery -A crm worker` subprocess against
the test database, on a Redis database of this pytest process's own.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as clock

import pytest
from django.utils import timezone

from marketing.models import CampaignRun, Delivery, DeliveryStatus, PromoCode, SkipReason
from reservations import services as reservations
from reservations.gateway import CARD_SUCCEEDS
from reservations.models import BookingStatus, PaymentMethod
from tests.crm import test_worker as real_worker
from tests.crm.factories import CustomerFactory
from tests.marketing.campaign_support import campaign
from tests.marketing.offers_support import book, offer
from tests.marketing.support import consent, reachable
from tests.reservations.api_support import bookable_flight, fares

# The worker's fixtures, shared with crm's worker tests.
celery_worker_process = real_worker.celery_worker_process
isolated_broker = real_worker.isolated_broker
live_celery = real_worker.live_celery
smtp_server = real_worker.smtp_server

pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]


def _wait(found, timeout: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_a_birthday_campaign_reaches_each_consenting_customer_once_with_their_own_code(live_celery):
    # Given three consenting customers born today (1992 is a leap year: any day exists in it),
    # one born today who refused marketing, and one consenting customer born on another day
    inbox = live_celery
    today = timezone.localdate()
    birthday = date(1992, today.month, today.day)
    other_day = date(1992, 1, 2) if (today.month, today.day) != (1, 2) else date(1992, 1, 3)
    wanted = [reachable(email=f"birthday{n}@example.com", date_of_birth=birthday) for n in range(3)]
    refused = CustomerFactory(email="refused@example.com", date_of_birth=birthday)
    consent(refused, granted=False)
    reachable(email="other-day@example.com", date_of_birth=other_day)
    # and one consenting customer born today who already had as many messages this week as the cap allows
    capped = reachable(email="capped@example.com", date_of_birth=birthday)
    earlier = campaign(name="Earlier news")
    Delivery.objects.bulk_create(
        Delivery(run=CampaignRun.objects.create(campaign=earlier, occurrence=today - timedelta(days=n)),
                 customer=capped, status=DeliveryStatus.SENT, sent_at=timezone.now() - timedelta(days=n))
        for n in range(2, 5)
    )  # fmt: skip
    c = campaign(kind="birthday", offer=offer(), subject_en="Happy birthday {{ name }}")

    # When the campaign's hourly tick runs on the worker at 09:30 (no home airport: the site's time zone)
    from marketing.tasks import campaign_tick

    nine_thirty = timezone.make_aware(datetime.combine(today, clock(9, 30))).isoformat()
    tick = {"campaign_id": c.pk, "now": nine_thirty}
    assert campaign_tick.apply_async(kwargs=tick).get(timeout=60) is not None

    # Then exactly the three consenting customers born today receive one e-mail each, with their own code
    messages = inbox.wait_for(3, timeout=60)
    assert sorted(str(m["To"]) for m in messages) == sorted(c_.email for c_ in wanted)
    sent = _wait(lambda: Delivery.objects.filter(run__campaign=c, status="sent").count() == 3)
    assert sent
    codes = {c_.email: PromoCode.objects.get(offer=c.offer, customer=c_).code for c_ in wanted}
    assert len(set(codes.values())) == 3
    for message in messages:
        assert codes[str(message["To"])] in message.get_body(preferencelist=("plain",)).get_content()
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not Delivery.objects.filter(customer=refused).exists()
    capped_delivery = _wait(lambda: Delivery.objects.filter(run__campaign=c, customer=capped, status="skipped").first())
    assert capped_delivery.skip_reason == SkipReason.FREQUENCY_CAP

    # When the tick runs again in the same hour (beat fired twice, or a redeploy), and the sweep runs too
    from marketing.tasks import deliveries_sweep

    assert campaign_tick.apply_async(kwargs=tick).get(timeout=60) is not None
    deliveries_sweep.apply_async().get(timeout=60)
    time.sleep(3)

    # Then nothing more was sent
    assert len(inbox.messages) == 3
    assert Delivery.objects.filter(run__campaign=c).count() == 4

    # When one of them books and pays with the code from her e-mail
    fares()
    flight = bookable_flight()
    booker = wanted[0]
    booking = book(flight, code=codes[booker.email], customer=booker)
    card = reservations.CardDetails(
        number=CARD_SUCCEEDS, expiry_month=12, expiry_year=today.year + 2, cvv="737", holder="Ada Lovelace"
    )
    reservations.payment_take(booking=booking, method=PaymentMethod.CARD, idempotency_key="birthday-booking", card=card)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED

    # Then the worker records the conversion on her delivery, with the booking's revenue
    converted = _wait(lambda: Delivery.objects.filter(run__campaign=c, customer=booker, converted_at__isnull=False).first())
    assert converted, "the conversion was not recorded"
    assert converted.conversion_record_locator == booking.record_locator
    assert (converted.revenue, converted.revenue_currency) == (booking.total_amount, booking.currency)
    assert Delivery.objects.filter(run__campaign=c, converted_at__isnull=False).count() == 1
