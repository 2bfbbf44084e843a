"""POST /api/v1/bookings/{locator}/payments/ and /cancel/: paying once per idempotency key, declines, refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reservations import services
from reservations.gateway import CARD_DECLINED, CARD_SUCCEEDS
from reservations.models import Booking, BookingStatus, Channel, FlightCabin, Payment, PaymentStatus, Ticket
from tests.reservations.api_support import BOOKINGS, assert_error, bookable_flight, fares

CVV = "737"


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


@pytest.fixture
def held(passenger, flight):
    """A passenger's held booking for two adults."""
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[
            services.PassengerRequest(passenger_type="ADT", given_name="Ada", family_name="Lovelace"),
            services.PassengerRequest(passenger_type="ADT", given_name="Charles", family_name="Babbage"),
        ],
        contact_email="ada@example.com",
        channel=Channel.PORTAL,
        customer=passenger[1],
    )


def card(number: str = CARD_SUCCEEDS) -> dict:
    return {
        "number": number,
        "expiry_month": 12,
        "expiry_year": timezone.localdate().year + 2,
        "cvv": CVV,
        "holder": "Ada Lovelace",
    }


def pay_url(booking: Booking) -> str:
    return f"{BOOKINGS}{booking.record_locator}/payments/"


def test_passenger_pays_by_card_and_the_booking_is_ticketed(passenger, api_as, held):
    # given a held booking
    client = api_as(passenger[0])

    # when its passenger pays the balance by card
    response = client.post(pay_url(held), {"method": "card", "card": card()}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")

    # then 201: one payment of the whole total, a ticket per passenger, and no card number or CVV anywhere
    assert response.status_code == 201, response.content
    body = response.json()
    held.refresh_from_db()
    assert body["payment"]["status"] == "succeeded"
    assert body["payment"]["amount"] == str(held.total_amount)
    assert (body["payment"]["card_brand"], body["payment"]["card_last4"]) == ("Visa", "4242")
    assert body["booking"]["status"] == "ticketed" == held.status
    assert body["booking"]["balance_due"] == "0.00"
    assert len(body["booking"]["tickets"]) == 2
    assert all(len(t["number"]) == 13 and t["coupons"][0]["status"] == "open" for t in body["booking"]["tickets"])
    text = response.content.decode()
    # neither the card number nor the CVV comes back (as a value; digits inside timestamps are not the CVV)
    assert CARD_SUCCEEDS not in text and f'"{CVV}"' not in text and "cvv" not in text.lower()


def test_repeating_a_payment_with_the_same_key_charges_once(passenger, api_as, held):
    client = api_as(passenger[0])
    first = client.post(pay_url(held), {"method": "card", "card": card()}, format="json", HTTP_IDEMPOTENCY_KEY="same")

    # when the client retries (e.g. the answer was lost), key in the body this time
    again = client.post(pay_url(held), {"method": "card", "card": card(), "idempotency_key": "same"}, format="json")

    # then the first result comes back with 200 and nothing more is charged
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["payment"]["id"] == first.json()["payment"]["id"]
    held.refresh_from_db()
    assert Payment.objects.filter(booking=held).count() == 1
    assert held.paid_amount == held.total_amount
    assert Ticket.objects.filter(booking=held).count() == 2


def test_declined_card_is_402_and_a_new_attempt_with_a_new_key_can_succeed(passenger, api_as, held):
    client = api_as(passenger[0])

    declined = client.post(
        pay_url(held), {"method": "card", "card": card(CARD_DECLINED)}, format="json", HTTP_IDEMPOTENCY_KEY="d1"
    )
    replay = client.post(pay_url(held), {"method": "card", "card": card(CARD_DECLINED)}, format="json", HTTP_IDEMPOTENCY_KEY="d1")

    error = assert_error(declined, 402, "payment_declined")
    assert CARD_DECLINED not in error["message"]
    assert_error(replay, 402, "payment_declined")
    held.refresh_from_db()
    assert (held.status, held.paid_amount) == (BookingStatus.HELD, 0)
    assert list(Payment.objects.values_list("status", flat=True)) == [PaymentStatus.DECLINED]

    retried = client.post(pay_url(held), {"method": "card", "card": card()}, format="json", HTTP_IDEMPOTENCY_KEY="d2")
    assert retried.status_code == 201
    held.refresh_from_db()
    assert held.status == BookingStatus.TICKETED


def test_payment_without_an_idempotency_key_is_refused(passenger, api_as, held):
    error = assert_error(api_as(passenger[0]).post(pay_url(held), {"method": "card", "card": card()}, format="json"), 400)

    assert "idempotency_key" in error["fields"]
    assert not Payment.objects.exists()


def test_header_and_body_keys_must_agree(passenger, api_as, held):
    body = {"method": "card", "card": card(), "idempotency_key": "a"}

    error = assert_error(api_as(passenger[0]).post(pay_url(held), body, format="json", HTTP_IDEMPOTENCY_KEY="b"), 400)

    assert "idempotency_key" in error["fields"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 65, "with space", "é"])
def test_malformed_idempotency_keys_are_refused(passenger, api_as, held, key):
    body = {"method": "card", "card": card(), "idempotency_key": key}

    assert_error(api_as(passenger[0]).post(pay_url(held), body, format="json"), 400)

    assert not Payment.objects.exists()


def test_bad_card_details_are_named_without_being_echoed(passenger, api_as, held):
    bad = {**card(), "number": "4242abcd42424242", "cvv": "12345", "expiry_month": 13}

    error = assert_error(
        api_as(passenger[0]).post(pay_url(held), {"method": "card", "card": bad}, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400
    )

    assert set(error["fields"]) == {"card.number", "card.cvv", "card.expiry_month"}
    assert "4242abcd" not in str(error) and "12345" not in str(error)
    assert not Payment.objects.exists()


def test_card_payment_needs_the_card(passenger, api_as, held):
    error = assert_error(
        api_as(passenger[0]).post(pay_url(held), {"method": "card"}, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400
    )

    assert error["fields"] == {"card": ["Enter the card details."]}


def test_only_an_agent_takes_a_counter_payment(passenger, agent, api_as, held):
    assert_error(api_as(passenger[0]).post(pay_url(held), {"method": "counter"}, format="json", HTTP_IDEMPOTENCY_KEY="c1"), 403)

    response = api_as(agent).post(pay_url(held), {"method": "counter"}, format="json", HTTP_IDEMPOTENCY_KEY="c1")

    assert response.status_code == 201, response.content
    assert response.json()["payment"]["method"] == "counter"
    assert Payment.objects.get().created_by == agent


def test_an_expired_hold_cannot_be_paid(passenger, api_as, held):
    Booking.objects.filter(pk=held.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))

    assert_error(
        api_as(passenger[0]).post(pay_url(held), {"method": "card", "card": card()}, format="json", HTTP_IDEMPOTENCY_KEY="late"),
        400,
        "booking_not_payable",
    )

    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()


def test_a_part_payment_leaves_the_rest_due(passenger, api_as, held):
    response = api_as(passenger[0]).post(
        pay_url(held), {"method": "card", "card": card(), "amount": "10.00"}, format="json", HTTP_IDEMPOTENCY_KEY="part"
    )

    assert response.status_code == 201, response.content
    booking = response.json()["booking"]
    assert booking["status"] == "held"
    assert booking["paid_amount"] == "10.00"
    held.refresh_from_db()
    assert booking["balance_due"] == str(held.total_amount - 10)


# --- Cancellation ---------------------------------------------------------------------------------


def cancel_url(booking: Booking) -> str:
    return f"{BOOKINGS}{booking.record_locator}/cancel/"


def test_passenger_cancels_an_unpaid_booking_and_its_seats_are_released(passenger, api_as, held, flight):
    before = FlightCabin.objects.get(flight=flight, cabin="economy").available

    response = api_as(passenger[0]).post(cancel_url(held), {"reason": "Plans changed"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["balance_due"] == "0.00"
    assert FlightCabin.objects.get(flight=flight, cabin="economy").available == before + 2


def test_cancelling_a_paid_booking_refunds_to_the_card(passenger, api_as, held):
    client = api_as(passenger[0])
    client.post(pay_url(held), {"method": "card", "card": card()}, format="json", HTTP_IDEMPOTENCY_KEY="p")

    body = client.post(cancel_url(held), {}, format="json").json()

    # Standard is not refundable: the taxes come back, to the payment they were paid with
    assert body["status"] == "cancelled"
    assert len(body["refunds"]) == 1
    assert body["refunds"][0]["payment"] == body["payments"][0]["id"]
    assert body["refunds"][0]["amount"] == "50.00"  # 2 passengers x 25.00 fuel surcharge


def test_passenger_cannot_waive_the_fee(passenger, api_as, held):
    assert_error(api_as(passenger[0]).post(cancel_url(held), {"waive_reason": "I asked nicely"}, format="json"), 403)

    held.refresh_from_db()
    assert held.status == BookingStatus.HELD


def test_cancelling_twice_is_refused(passenger, api_as, held):
    client = api_as(passenger[0])
    assert client.post(cancel_url(held), {}, format="json").status_code == 200

    assert_error(client.post(cancel_url(held), {}, format="json"), 400, "already_cancelled")


def test_analyst_may_read_but_not_cancel(make_staff, api_as, held):
    from crm.permissions import ANALYST

    assert_error(api_as(make_staff(ANALYST)).post(cancel_url(held), {}, format="json"), 403)

    held.refresh_from_db()
    assert held.status == BookingStatus.HELD
