"""Bonus miles offers: the code is accepted at booking without touching the fare, and the miles are credited
to the booker's account once, when the booking is ticketed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.errors import ApplicationError
from crm.events import send_after_commit
from loyalty.models import Member, MilesEntry
from marketing.models import PromoCode, PromoCodeStatus
from reservations import services
from reservations.events import booking_ticketed
from reservations.gateway import CARD_SUCCEEDS
from reservations.models import Booking, ChargeKind, PaymentMethod
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import member
from tests.marketing.offers_support import book, code_for, offer
from tests.reservations.api_support import bookable_flight, fares

pytestmark = pytest.mark.django_db


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


def miles_offer():  # noqa: ANN201
    return offer(name="Miles week", kind="bonus_miles", value=Decimal("1000"))


def pay(booking: Booking, capture) -> None:  # noqa: ANN001
    """Pay by card (the booking is ticketed), running what ticketing announces as the workers would."""
    card = services.CardDetails(
        number=CARD_SUCCEEDS, expiry_month=12, expiry_year=timezone.now().year + 2, cvv="737", holder="Ada Lovelace"
    )
    with capture(execute=True):
        services.payment_take(booking=booking, method=PaymentMethod.CARD, idempotency_key=f"pay-{booking.pk}", card=card)


def bonus_entries(m: Member) -> list[MilesEntry]:
    return list(MilesEntry.objects.filter(member=m, reason="promotion"))


def test_a_bonus_miles_code_leaves_the_fare_alone_and_credits_the_miles_once_when_ticketed(
    flight, django_capture_on_commit_callbacks
):
    # Given a frequent flyer with a bonus miles code, and the same trip priced without it
    ada = member(CustomerFactory(given_name="Ada", family_name="Lovelace"))
    code = code_for(miles_offer(), ada.customer)
    plain = book(flight, customer=ada.customer, n=1)

    # When they book with the code
    booking = book(flight, code=code, customer=ada.customer)

    # Then the code is accepted and redeemed, the price is the same, and its line says what it is worth
    assert booking.total_amount == plain.total_amount
    lines = list(booking.charges.filter(kind=ChargeKind.DISCOUNT).values_list("code", "amount", "description"))
    assert lines == [(code, Decimal("0.00"), "Bonus miles: 1,000")]
    assert PromoCode.objects.get(code=code).status == PromoCodeStatus.REDEEMED
    # and nothing is credited while the booking is only held
    assert bonus_entries(ada) == []

    # When it is paid and ticketed, and the ticketing is announced again
    pay(booking, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        send_after_commit(
            booking_ticketed, sender=Booking, booking_id=booking.pk, record_locator=booking.record_locator, ticket_ids=[]
        )

    # Then the member was credited 1,000 bonus miles exactly once, keyed by the code
    entries = bonus_entries(ada)
    assert [(e.award_miles, e.idempotency_key, e.booking_id) for e in entries] == [
        (1000, f"promo:{PromoCode.objects.get(code=code).pk}", booking.pk)
    ]
    ada.refresh_from_db()
    assert ada.award_balance == 1000


@pytest.mark.parametrize("who", ["guest", "non_member", "closed_member"])
def test_a_bonus_miles_code_is_refused_clearly_to_someone_without_a_frequent_flyer_account(flight, who):
    # Given a bonus miles code, and a booker who is a guest, no member, or a member whose account is closed
    code = code_for(miles_offer())
    customer = None if who == "guest" else CustomerFactory()
    if who == "closed_member":
        Member.objects.filter(pk=member(customer).pk).update(status="closed")
    # When they book with it
    with pytest.raises(ApplicationError) as refused:
        book(flight, code=code, customer=customer)
    # Then they are told why, under the code, and nothing is booked or used
    assert refused.value.code == "promo_needs_member"
    assert refused.value.fields == {
        "discount_code": ["Bonus miles need a frequent flyer number: join the programme, sign in, and use the code again."]
    }
    assert not Booking.objects.exists()
    assert PromoCode.objects.get(code=code).status == PromoCodeStatus.ISSUED


def test_the_payment_page_shows_the_bonus_miles_line(flight, passenger, passenger_client):
    # Given a passenger who is a member and booked with a bonus miles code
    _user, customer = passenger
    member(customer)
    code = code_for(miles_offer(), customer)
    booking = book(flight, code=code, customer=customer)
    # When they open the payment page
    page = passenger_client.get(reverse("reservations_portal:pay", args=[booking.record_locator]))
    # Then it says what the code is worth, and the amount due is the full price
    html = page.content.decode()
    assert page.status_code == 200
    assert f"{code}: Bonus miles: 1,000" in html
    assert "Discount code" not in html


def test_the_sweep_credits_a_ticketed_booking_whose_credit_was_lost(flight, django_capture_on_commit_callbacks):
    # Given a member's booking with a bonus miles code, ticketed while the credit task was lost
    ada = member(CustomerFactory(given_name="Ada", family_name="Lovelace"))
    booking = book(flight, code=code_for(miles_offer(), ada.customer), customer=ada.customer)
    card = services.CardDetails(
        number=CARD_SUCCEEDS, expiry_month=12, expiry_year=timezone.now().year + 2, cvv="737", holder="Ada Lovelace"
    )
    with django_capture_on_commit_callbacks(execute=False):
        services.payment_take(booking=booking, method=PaymentMethod.CARD, idempotency_key="lost", card=card)
    assert bonus_entries(ada) == []

    # When the sweep runs, twice
    from marketing import services as marketing

    first, second = marketing.bonus_miles_sweep(), marketing.bonus_miles_sweep()

    # Then the miles are credited by the first only
    assert (first, second) == (1, 0)
    assert [e.award_miles for e in bonus_entries(ada)] == [1000]


def test_cancelling_the_ticketed_booking_gives_the_bonus_miles_back_once(flight, django_capture_on_commit_callbacks):
    # Given a member credited 1,000 bonus miles for a ticketed booking
    ada = member(CustomerFactory(given_name="Ada", family_name="Lovelace"))
    booking = book(flight, code=code_for(miles_offer(), ada.customer), customer=ada.customer)
    pay(booking, django_capture_on_commit_callbacks)
    ada.refresh_from_db()
    assert ada.award_balance == 1000

    # When they cancel it (and the cancellation is announced again)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, reason="Plans changed")
    from marketing import services as marketing

    marketing.bonus_miles_reverse_for_booking(booking_id=booking.pk)

    # Then the bonus is reversed, once
    ada.refresh_from_db()
    assert ada.award_balance == 0
    assert MilesEntry.objects.filter(member=ada, kind="reversal").count() == 1
