"""Conversions: a ticketed booking is credited to the delivery whose code it used, else to the last click within
the attribution window; held-out customers who book in the window count for the control group; once each."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from django.utils import timezone

from marketing import services as marketing
from marketing.models import Delivery, DeliveryStatus
from reservations import services
from reservations.gateway import CARD_SUCCEEDS
from reservations.models import Booking, BookingStatus, PaymentMethod
from tests.marketing.campaign_support import campaign
from tests.marketing.offers_support import book, offer
from tests.marketing.support import reachable
from tests.reservations.api_support import bookable_flight, fares

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)
_keys = itertools.count(1)


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


def ticketed(flight, capture, *, customer, code: str = "") -> Booking:  # noqa: ANN001
    """Booked and paid by card: ticketing sends booking_ticketed after commit, and the conversion task runs."""
    with capture(execute=True):
        booking = book(flight, code=code, customer=customer, n=next(_keys))
    card = services.CardDetails(
        number=CARD_SUCCEEDS, expiry_month=12, expiry_year=timezone.now().year + 2, cvv="737", holder="Ada Lovelace"
    )
    with capture(execute=True):
        services.payment_take(booking=booking, method=PaymentMethod.CARD, idempotency_key=f"conv-{next(_keys)}", card=card)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    return booking


def sent_to(customer, capture, **campaign_fields) -> Delivery:  # noqa: ANN001
    with capture(execute=True):
        run = marketing.campaign_run_start(campaign=campaign(**campaign_fields), occurrence=TODAY)
    return Delivery.objects.get(run=run, customer=customer)


def test_a_booking_with_the_deliverys_promo_code_converts_it_with_the_revenue(flight, django_capture_on_commit_callbacks):
    # Given a customer sent a campaign that carried her own promo code
    customer = reachable()
    delivery = sent_to(customer, django_capture_on_commit_callbacks, offer=offer())
    assert delivery.status == DeliveryStatus.SENT and delivery.promo_code is not None

    # When she books with that code and the booking is ticketed
    booking = ticketed(flight, django_capture_on_commit_callbacks, customer=customer, code=delivery.promo_code.code)

    # Then the delivery is converted with the booking's locator and total
    delivery.refresh_from_db()
    assert delivery.converted_at is not None
    assert (delivery.conversion_record_locator, delivery.revenue, delivery.revenue_currency) == (
        booking.record_locator, booking.total_amount, booking.currency,
    )  # fmt: skip


def test_a_booking_after_a_click_within_the_window_is_credited_to_the_last_click(
    settings, flight, django_capture_on_commit_callbacks
):
    # Given a customer who clicked two campaigns, the second more recently, both within the window
    settings.MARKETING_ATTRIBUTION_DAYS = 7
    customer = reachable()
    earlier = sent_to(customer, django_capture_on_commit_callbacks, name="Earlier")
    later = sent_to(customer, django_capture_on_commit_callbacks, name="Later")
    Delivery.objects.filter(pk=earlier.pk).update(clicked_at=timezone.now() - timedelta(days=3), click_count=1)
    Delivery.objects.filter(pk=later.pk).update(clicked_at=timezone.now() - timedelta(days=1), click_count=1)

    # When she books without a code
    booking = ticketed(flight, django_capture_on_commit_callbacks, customer=customer)

    # Then only the last click converts
    earlier.refresh_from_db()
    later.refresh_from_db()
    assert later.conversion_record_locator == booking.record_locator and later.revenue == booking.total_amount
    assert earlier.converted_at is None


def test_a_click_outside_the_window_is_not_credited(settings, flight, django_capture_on_commit_callbacks):
    # Given a customer whose only click was longer ago than the window
    settings.MARKETING_ATTRIBUTION_DAYS = 7
    customer = reachable()
    delivery = sent_to(customer, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(clicked_at=timezone.now() - timedelta(days=8), click_count=1)
    # When she books
    ticketed(flight, django_capture_on_commit_callbacks, customer=customer)
    # Then nothing is converted
    delivery.refresh_from_db()
    assert delivery.converted_at is None and delivery.revenue is None


def test_a_delivery_converts_once_however_often_it_is_credited(settings, flight, django_capture_on_commit_callbacks):
    # Given a clicked delivery converted by a first booking
    customer = reachable()
    delivery = sent_to(customer, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(clicked_at=timezone.now() - timedelta(hours=1), click_count=1)
    first = ticketed(flight, django_capture_on_commit_callbacks, customer=customer)
    delivery.refresh_from_db()
    converted = (delivery.converted_at, delivery.conversion_record_locator, delivery.revenue)

    # When the same booking's event is handled again and a second booking follows
    assert marketing.conversion_record(booking_id=first.pk) == []
    ticketed(flight, django_capture_on_commit_callbacks, customer=customer)

    # Then the delivery still shows the first conversion only
    delivery.refresh_from_db()
    assert (delivery.converted_at, delivery.conversion_record_locator, delivery.revenue) == converted
    assert converted[1] == first.record_locator


def test_a_replayed_event_does_not_credit_the_next_click_once_the_code_delivery_converted(
    flight, django_capture_on_commit_callbacks
):
    # Given a booking made with one delivery's code, while another delivery was clicked
    customer = reachable()
    with_code = sent_to(customer, django_capture_on_commit_callbacks, name="With code", offer=offer())
    clicked = sent_to(customer, django_capture_on_commit_callbacks, name="Clicked")
    Delivery.objects.filter(pk=clicked.pk).update(clicked_at=timezone.now() - timedelta(hours=1), click_count=1)
    booking = ticketed(flight, django_capture_on_commit_callbacks, customer=customer, code=with_code.promo_code.code)
    # When the ticketing is handled a second time
    marketing.conversion_record(booking_id=booking.pk)
    # Then the code's delivery is the only one credited
    assert list(Delivery.objects.filter(converted_at__isnull=False).values_list("pk", flat=True)) == [with_code.pk]


def test_a_held_out_customer_who_books_within_the_window_counts_for_the_control_group(
    settings, flight, django_capture_on_commit_callbacks
):
    # Given a customer held out of a run that started two days ago, and another held out of a run long ago
    settings.MARKETING_ATTRIBUTION_DAYS = 7
    recent, old = reachable(), reachable()
    with django_capture_on_commit_callbacks(execute=False):
        run = marketing.campaign_run_start(campaign=campaign(name="Recent"), occurrence=TODAY)
        old_run = marketing.campaign_run_start(campaign=campaign(name="Old"), occurrence=TODAY)
    Delivery.objects.filter(run__in=[run, old_run]).update(status=DeliveryStatus.HOLDOUT)
    Delivery.objects.filter(run=run, customer=old).delete()
    Delivery.objects.filter(run=old_run, customer=recent).delete()
    run.__class__.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=2))
    old_run.__class__.objects.filter(pk=old_run.pk).update(created_at=timezone.now() - timedelta(days=30))

    # When the first books (no click was possible), and the second books too
    booking = ticketed(flight, django_capture_on_commit_callbacks, customer=recent)
    ticketed(flight, django_capture_on_commit_callbacks, customer=old)

    # Then only the held-out delivery of the recent run converts, with the booking's revenue
    converted = Delivery.objects.filter(converted_at__isnull=False)
    assert [(d.run_id, d.customer_id, d.conversion_record_locator) for d in converted] == [
        (run.pk, recent.pk, booking.record_locator)
    ]
    assert converted.get().revenue == booking.total_amount


def test_a_held_booking_converts_nothing_until_it_is_ticketed(flight, django_capture_on_commit_callbacks):
    customer = reachable()
    delivery = sent_to(customer, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(clicked_at=timezone.now(), click_count=1)
    with django_capture_on_commit_callbacks(execute=True):
        held = book(flight, customer=customer)
    assert marketing.conversion_record(booking_id=held.pk) == []
    assert marketing.conversion_record(booking_id=0) == []
    delivery.refresh_from_db()
    assert delivery.converted_at is None


def test_the_sweep_credits_a_booking_whose_conversion_task_was_lost(flight, django_capture_on_commit_callbacks):
    # Given a clicked delivery and a booking ticketed while the conversion receiver was not connected (a lost task)
    from marketing.receivers import _booking_ticketed
    from reservations import events

    customer = reachable()
    delivery = sent_to(customer, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(clicked_at=timezone.now() - timedelta(hours=1), click_count=1)
    events.booking_ticketed.disconnect(_booking_ticketed, dispatch_uid="marketing.conversion.booking_ticketed")
    try:
        booking = ticketed(flight, django_capture_on_commit_callbacks, customer=customer)
    finally:
        events.booking_ticketed.connect(_booking_ticketed, dispatch_uid="marketing.conversion.booking_ticketed")
    delivery.refresh_from_db()
    assert delivery.converted_at is None

    # When the periodic sweep runs, twice
    assert marketing.conversions_sweep() == 1
    marketing.conversions_sweep()

    # Then the booking is credited, once
    delivery.refresh_from_db()
    assert delivery.conversion_record_locator == booking.record_locator
    assert Delivery.objects.filter(converted_at__isnull=False).count() == 1
