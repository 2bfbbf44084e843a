"""Someone travelling on a booking another customer made reaches their own part of it, through the API and the portal."""

from __future__ import annotations

import pytest

from reservations.models import CheckIn
from tests.crm.factories import CustomerFactory
from tests.reservations.api_support import BOOKINGS, assert_error
from tests.reservations.office_support import book, logged_in, pay_ticket_and_check_in


@pytest.fixture
def trip(make_passenger):
    """Ada Lovelace booked, paid by card (VISA 4242), was refunded 10.00 and checked in herself and Alan Turing."""
    booker = CustomerFactory(given_name="Ada", family_name="Lovelace")
    user, traveller = make_passenger("alan@example.com", given_name="Alan", family_name="Turing")
    booking = pay_ticket_and_check_in(
        book(customer=booker, names=[("Ada", "Lovelace"), ("Alan", "Turing")], travellers=[booker, traveller]), refund=True
    )
    alan = booking.passengers.get(sequence=2)
    return {"booking": booking, "user": user, "alan": alan, "booker": booker}


# --- API -------------------------------------------------------------------------------------


def test_a_co_traveller_reads_only_their_own_part_of_the_booking(trip, api_as):
    # given Alan, who travels on a booking Ada made and paid
    locator = trip["booking"].record_locator

    # when he reads it through the API
    response = api_as(trip["user"]).get(f"{BOOKINGS}{locator}/")

    # then he sees the flights, himself, his seat and his e-ticket, and nothing of Ada's or her payment
    assert response.status_code == 200
    body = response.json()
    assert body["access"] == "traveller"
    assert [p["given_name"] for p in body["passengers"]] == ["Alan"]
    assert [t["passenger"] for t in body["tickets"]] == [2]
    assert [s["passenger"] for s in body["segments"][0]["seats"]] == [2]
    assert body["segments"][0]["flight"]["id"] == trip["booking"].segments.get().flight_id
    assert body["charges"] == body["payments"] == body["refunds"] == []
    assert body["total_amount"] is body["paid_amount"] is body["balance_due"] is body["customer"] is None
    assert body["contact_email"] is body["contact_phone"] is None
    text = response.content.decode()
    for secret in ("Lovelace", "4242", "VISA", "booker@example.com", trip["booker"].customer_number):
        assert secret not in text


def test_the_booker_still_reads_the_whole_booking(trip, roles, api_as):
    from crm.permissions import PASSENGER
    from tests.crm.factories import UserFactory

    trip["booker"].user = UserFactory(roles=[PASSENGER])
    trip["booker"].save(update_fields=["user"])

    body = api_as(trip["booker"].user).get(f"{BOOKINGS}{trip['booking'].record_locator}/").json()

    assert body["access"] == "booker"
    assert [p["given_name"] for p in body["passengers"]] == ["Ada", "Alan"]
    assert body["payments"][0]["card_last4"] == "4242" and body["refunds"]
    assert body["contact_email"] == "booker@example.com"


def test_a_co_travellers_booking_list_row_hides_the_booker_and_the_money(trip, api_as):
    body = api_as(trip["user"]).get(BOOKINGS).json()

    (row,) = body["results"]
    assert row["access"] == "traveller"
    assert [p["given_name"] for p in row["passengers"]] == ["Alan"]
    assert row["total_amount"] is None and row["contact_email"] is None
    assert "Lovelace" not in str(body)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("cancel/", {}),
        ("payments/", {"method": "card", "idempotency_key": "k1", "card": {
            "number": "4242424242424242", "expiry_month": 12, "expiry_year": 2199, "cvv": "123", "holder": "A T"}}),
    ],
)  # fmt: skip
def test_a_co_traveller_cannot_pay_or_cancel_the_booking(trip, api_as, path, body):
    # when Alan tries to cancel or pay Ada's booking
    response = api_as(trip["user"]).post(f"{BOOKINGS}{trip['booking'].record_locator}/{path}", body, format="json")

    # then he is told only the booker may, and nothing changed
    assert_error(response, 403, "booker_only")
    booking = trip["booking"]
    booking.refresh_from_db()
    assert booking.status == "ticketed" and booking.payments.count() == 1


def test_a_co_traveller_gets_only_their_own_boarding_passes(trip, api_as):
    passes = api_as(trip["user"]).get(f"{BOOKINGS}{trip['booking'].record_locator}/boarding-passes/").json()

    assert [p["passenger"] for p in passes] == [2]
    assert passes[0]["passenger_name"].startswith("TURING")


def test_a_co_traveller_cannot_seat_or_check_in_the_booker(trip, api_as):
    client = api_as(trip["user"])
    url = f"{BOOKINGS}{trip['booking'].record_locator}/"

    seat = client.post(f"{url}seats/", {"segment": 1, "passenger": 1, "seat": "30A"}, format="json")
    check_in = client.post(f"{url}check-in/", {"segment": 1, "passengers": [1]}, format="json")

    assert assert_error(seat, 400, "invalid")["fields"] == {"passenger": ["The booking has no such passenger."]}
    assert assert_error(check_in, 400, "invalid")["fields"] == {"passengers.0": ["The booking has no such passenger."]}
    assert not trip["booking"].passengers.get(sequence=1).seat_assignments.filter(seat="30A").exists()


def test_a_co_traveller_chooses_their_own_seat(trip, api_as):
    response = api_as(trip["user"]).post(
        f"{BOOKINGS}{trip['booking'].record_locator}/seats/", {"segment": 1, "passenger": 2, "seat": "5C"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["segments"][0]["seats"] == [{"passenger": 2, "seat": "5C"}]


# --- Portal ----------------------------------------------------------------------------------


def test_a_co_travellers_trip_page_shows_only_their_part_and_no_booker_actions(trip):
    locator = trip["booking"].record_locator

    page = logged_in(trip["user"]).get(f"/trips/{locator}/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Alan" in text and "Turing" in text
    for hidden in ("Lovelace", "4242", "Cancel booking", f"/trips/{locator}/cancel/", f"/trips/{locator}/pay/", "receipt.pdf"):
        assert hidden not in text, hidden
    assert "Someone else made this booking" in text


@pytest.mark.parametrize(
    ("method", "page"), [("post", "cancel/"), ("get", "pay/"), ("get", "receipt.pdf"), ("get", "flights/1/change/")]
)
def test_a_co_traveller_cannot_open_the_bookers_pages(trip, method, page):
    booking = trip["booking"]

    response = getattr(logged_in(trip["user"]), method)(f"/trips/{booking.record_locator}/{page}", {"confirm": "on"})

    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == "ticketed"


def test_a_co_traveller_sees_and_opens_only_their_own_boarding_pass(trip):
    booking = trip["booking"]
    client = logged_in(trip["user"])
    own = CheckIn.objects.get(passenger=trip["alan"])
    ada = CheckIn.objects.get(segment__booking=booking, passenger__sequence=1)

    overview = client.get(f"/check-in/{booking.record_locator}/").content.decode()

    assert f"/{own.pk}/" in overview and f"/{ada.pk}/" not in overview
    assert "Lovelace" not in overview
    assert client.get(f"/check-in/{booking.record_locator}/boarding-pass/{own.pk}/").status_code == 200
    assert client.get(f"/check-in/{booking.record_locator}/boarding-pass/{ada.pk}/").status_code == 404
