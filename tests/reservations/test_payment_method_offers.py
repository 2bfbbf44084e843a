"""A hooked payment method may pay only part of a booking (``payable``) and offer itself on the portal's
payment page (``offer``); the card pays the rest. A stand-in method plays the part loyalty's miles play."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from crm.errors import ApplicationError
from reservations import hooks, services
from reservations.models import Booking, BookingStatus, ChargeKind, Payment, PaymentMethod
from tests.reservations.portal_support import (  # noqa: F401
    TEST_CARD,
    adult,
    book_url,
    departure_in,
    fares_fixture,
    hold,
    make_flight,
    pay_form,
    search_params,
)

pytestmark = pytest.mark.django_db


class FaresOnly:
    """Pays the fares of a booking and never the taxes, like an award ticket; offered to everyone."""

    code = PaymentMethod.MILES.value
    label = "Points"

    def __init__(self) -> None:
        self.paid: list[tuple[str, Decimal, str]] = []

    def payable(self, *, booking, details):  # noqa: ANN001, ANN201
        return sum((c.amount for c in booking.charges.filter(kind=ChargeKind.FARE)), Decimal(0))

    def pay(self, *, booking, amount, currency, reference, details, by):  # noqa: ANN001, ANN201
        self.paid.append((booking.record_locator, amount, reference))
        return hooks.MethodPayment(reference="points", miles=1000)

    def refund(self, *, payment, amount, reference):  # noqa: ANN001, ANN201
        return hooks.MethodRefund(succeeded=True)

    def offer(self, *, booking, user):  # noqa: ANN001, ANN201
        return hooks.MethodOffer(amount=self.payable(booking=booking, details={}), summary="1,000 points for the fares.")


@pytest.fixture
def points():
    hook = hooks.payment_methods.register(PaymentMethod.MILES, FaresOnly())
    yield hook
    hooks.payment_methods.unregister(PaymentMethod.MILES)


@pytest.fixture
def held(passenger, passenger_client, fares) -> Booking:
    flight = make_flight("LHR", "CDG", at=departure_in(5))
    _, customer = passenger
    url = book_url(search_params(flight), (flight, "ECO_STANDARD"))
    return hold(passenger_client, url, adult(1, customer.given_name, customer.family_name))


def fares_of(booking: Booking) -> Decimal:
    return sum((c.amount for c in booking.charges.filter(kind=ChargeKind.FARE)), Decimal(0))


def test_a_method_that_pays_part_takes_only_its_part_and_the_rest_stays_due(held, points):
    payment = services.payment_take(booking=held, method=PaymentMethod.MILES, idempotency_key="p1")
    held.refresh_from_db()
    assert payment.amount == fares_of(held) and payment.miles == 1000
    assert held.status == BookingStatus.HELD and held.balance_due == held.total_amount - fares_of(held) > 0


def test_asking_such_a_method_for_more_than_its_part_is_refused(held, points):
    with pytest.raises(ApplicationError) as refused:
        services.payment_take(booking=held, method=PaymentMethod.MILES, idempotency_key="p1", amount=held.total_amount)
    assert refused.value.code == "amount_exceeds_balance" and "can be paid this way" in refused.value.message
    assert not Payment.objects.exists() and points.paid == []


def test_the_payment_page_offers_the_method_and_pays_with_it_then_the_card_pays_the_rest(passenger_client, held, points):
    # given the payment page of a held booking
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()
    assert "Pay with Points" in page and "1,000 points for the fares." in page
    key = re.search(r'name="method" value="miles">\s*<input type="hidden" name="idempotency_key" value="([^"]+)"', page).group(1)

    # when the passenger presses the method's button
    response = passenger_client.post(f"/trips/{held.record_locator}/pay/", {"method": "miles", "idempotency_key": key})

    # then the fares are paid with it and the page asks for the card for the rest
    assert response.status_code == 302 and response["Location"] == f"/trips/{held.record_locator}/pay/"
    held.refresh_from_db()
    assert held.balance_due == held.total_amount - fares_of(held)
    follow = passenger_client.get(response["Location"]).content.decode()
    assert "Please pay the rest by card" in follow

    # and the card pays what is left, which tickets the booking
    data = {**pay_form(passenger_client, held), "number": TEST_CARD}
    done = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    held.refresh_from_db()
    assert done.status_code == 302 and held.status == BookingStatus.TICKETED and held.balance_due == 0


def test_a_method_without_an_offer_is_not_on_the_payment_page(passenger_client, held):
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()
    assert 'name="method"' not in page


def test_a_forged_method_button_pays_nothing(passenger_client, held, points):
    response = passenger_client.post(f"/trips/{held.record_locator}/pay/", {"method": "miles", "idempotency_key": "forged"})
    assert response.status_code == 302 and not Payment.objects.exists()


def test_a_method_that_is_not_offered_cannot_be_posted_to_the_payment_page(passenger_client, held, points):
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = passenger_client.post(f"/trips/{held.record_locator}/pay/", {"method": "voucher", "idempotency_key": key})
    assert response.status_code == 302 and not Payment.objects.exists()
    follow = passenger_client.get(response["Location"]).content.decode()
    assert "This way of paying is not available for this booking." in follow
