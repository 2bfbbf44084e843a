"""Online check-in in the portal: by reference and family name without logging in, or from My trips;
seats on the drawn seat map, bags, and the boarding pass (page, PDF, PDF417 image)."""

import io
import re

import pytest
import zxingcpp
from django.test import Client
from PIL import Image

from reservations.gateway import CARD_DECLINED, CARD_SUCCEEDS
from reservations.models import (
    Booking,
    BookingCharge,
    CheckIn,
    Coupon,
    CouponStatus,
    PassengerType,
    Payment,
    PaymentStatus,
    SeatAssignment,
)
from reservations.views.portal import common as portal
from tests.reservations.check_in_helpers import flight_in, ticketed_booking

LOOKUP = "/check-in/"


@pytest.fixture
def family(db):
    """Two adults and an infant on a flight leaving in three hours: check-in is open."""
    return ticketed_booking(
        flight=flight_in(3),
        passengers=[
            {"given_name": "Mei", "family_name": "Chen"},
            {"given_name": "Wei", "family_name": "Chen"},
            {"given_name": "Bao", "family_name": "Chen", "passenger_type": PassengerType.INFANT},
        ],
    )


def find(client: Client, booking, family_name: str = "Chen"):
    return client.post(LOOKUP, {"record_locator": booking.record_locator.lower(), "family_name": family_name})


def pax(booking, given_name: str):
    return booking.passengers.get(given_name=given_name)


def check_in_form(booking, **per_passenger) -> dict:
    """Everyone selected with one cabin bag and no checked bags, unless a traveller's values say otherwise."""
    data = {"confirm": "on"}
    for p in booking.passengers.all():
        if p.holds_seat:
            values = {"selected": "on", "hand_carry": "1", **per_passenger.get(p.given_name, {})}
            data.update({f"p{p.pk}-{k}": v for k, v in values.items() if v is not None})
    return data


def test_the_right_reference_and_family_name_open_the_booking_for_check_in(client, family):
    response = find(client, family, family_name=" chen ")
    assert response.status_code == 302 and response["Location"] == f"/check-in/{family.record_locator}/"
    page = client.get(response["Location"]).content.decode()
    assert family.record_locator in page and f"/check-in/{family.record_locator}/flights/1/" in page


def test_a_wrong_family_name_opens_nothing(client, family):
    response = find(client, family, family_name="Smith")
    assert response.status_code == 200
    assert "We found no booking with this reference and family name." in response.content.decode()
    denied = client.get(f"/check-in/{family.record_locator}/")
    assert denied.status_code == 404 and "Mei" not in denied.content.decode()


def test_bad_lookup_input_is_explained(client, family):
    response = client.post(LOOKUP, {"record_locator": "AB", "family_name": ""})
    page = response.content.decode()
    assert "A booking reference is 6 letters and digits." in page and "This field is required." in page


def test_access_is_for_the_booking_found_only(client, family):
    other = ticketed_booking(flight=flight_in(4), passengers=[{"given_name": "Bob", "family_name": "Other"}])
    find(client, family)
    for path in ("/check-in/{}/", "/check-in/{}/flights/1/", "/check-in/{}/flights/1/seats/"):
        assert client.get(path.format(other.record_locator)).status_code == 404
    assert client.get(f"/trips/{family.record_locator}/").status_code == 302  # manage booking still needs a login


def test_access_ends_after_a_short_while(client, family, monkeypatch):
    find(client, family)
    monkeypatch.setattr(portal, "CHECK_IN_ACCESS_SECONDS", -1)
    response = client.get(f"/check-in/{family.record_locator}/")
    assert response.status_code == 404 and "Find my booking" in response.content.decode()


def test_guessing_references_is_slowed_down(client, family, monkeypatch):
    monkeypatch.setattr(portal, "CHECK_IN_LOOKUP_LIMIT", 3)
    for _ in range(3):
        find(client, family, family_name="Wrong")
    response = find(client, family)
    assert response.status_code == 200 and "Too many attempts" in response.content.decode()


def test_the_owner_checks_in_from_my_trips_without_the_lookup(make_passenger, family):
    user, customer = make_passenger("mei@example.com")
    family.customer = customer
    family.save(update_fields=["customer"])
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(f"/check-in/{family.record_locator}/flights/1/").status_code == 200


def test_a_family_chooses_seats_checks_in_a_bag_and_gets_boarding_passes(client, family):
    # given the booking found by reference and name
    find(client, family)
    mei, wei = pax(family, "Mei"), pax(family, "Wei")

    # when Mei takes 4A on the drawn map
    seats_page = client.get(f"/check-in/{family.record_locator}/flights/1/seats/").content.decode()
    assert 'value="4A"' in seats_page and 'class="seat-row exit-row"' in seats_page
    response = client.post(f"/check-in/{family.record_locator}/flights/1/seats/", {"passenger": mei.pk, "seat": "4A"})
    assert response.status_code == 302
    # and both check in, Mei with a 20 kg bag
    response = client.post(
        f"/check-in/{family.record_locator}/flights/1/", check_in_form(family, Mei={"bag_1": "20", "hand_carry": "2"})
    )
    assert response.status_code == 302

    # then everyone, the infant too, is checked in; Mei keeps 4A, Wei got a seat
    rows = {c.passenger.given_name: c for c in CheckIn.objects.select_related("passenger", "coupon")}
    assert set(rows) == {"Mei", "Wei", "Bao"}
    assert rows["Mei"].seat == "4A" and rows["Mei"].bags == 1 and rows["Mei"].hand_carry == 2
    assert rows["Wei"].seat and rows["Wei"].bags == 0
    assert all(c.coupon.status == CouponStatus.CHECKED_IN for c in rows.values())
    assert SeatAssignment.objects.filter(passenger=wei).exists()

    # and the boarding pass page shows the seat and the barcode image, which decodes to the BCBP string
    overview = client.get(f"/check-in/{family.record_locator}/").content.decode()
    bp_url = f"/check-in/{family.record_locator}/boarding-pass/{rows['Mei'].pk}/"
    assert bp_url in overview
    page = client.get(bp_url)
    html = page.content.decode()
    assert page.status_code == 200 and "4A" in html and "CHEN/MEI" in html and "barcode.png" in html
    png = client.get(bp_url + "barcode.png")
    assert png["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert decoded and decoded[0].text.startswith("M1CHEN/MEI") and family.record_locator in decoded[0].text
    assert page.context["bp"].barcode == decoded[0].text
    pdf = client.get(bp_url + "boarding-pass.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def card_form(page: str, number: str = CARD_SUCCEEDS) -> dict:
    """The card fields, with the hidden key and quoted total the rendered payment form carries."""
    hidden = dict(re.findall(r'<input type="hidden" name="(idempotency_key|total)" value="([^"]*)"', page))
    return {"number": number, "expiry": "12/39", "cvv": "737", "holder": "Mei Chen", **hidden}


def test_bags_over_the_allowance_are_quoted_before_anyone_is_checked_in(client, family):
    # Given a traveller checking in two bags where the fare includes fewer
    find(client, family)
    fare = family.segments.get().fare_family
    expected = fare.excess_bag_fee * (2 - fare.baggage_pieces)
    # When the check-in form is sent
    response = client.post(
        f"/check-in/{family.record_locator}/flights/1/", check_in_form(family, Mei={"bag_1": "20", "bag_2": "20"}), follow=True
    )
    # Then the fee is shown with a card form, and nobody is checked in nor charged yet
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/check-in/{family.record_locator}/flights/1/pay/"
    assert 'id="check-in-total"' in page and f"{expected:.2f}".replace(".00", "") in page
    assert not CheckIn.objects.exists()
    assert not BookingCharge.objects.filter(booking=family, kind="baggage").exists()
    assert "boarding-pass" not in page


def test_the_boarding_passes_come_after_the_bags_are_paid(client, family):
    # Given the quote for Mei's two bags
    find(client, family)
    client.post(f"/check-in/{family.record_locator}/flights/1/", check_in_form(family, Mei={"bag_1": "20", "bag_2": "20"}))
    page = client.get(f"/check-in/{family.record_locator}/flights/1/pay/").content.decode()
    # When it is paid by card
    response = client.post(f"/check-in/{family.record_locator}/flights/1/pay/", card_form(page), follow=True)
    # Then everyone is checked in, the bags are charged and paid, and the boarding passes are there
    assert response.redirect_chain[-1][0] == f"/check-in/{family.record_locator}/"
    assert CheckIn.objects.filter(segment__booking=family).count() == 3
    charge = BookingCharge.objects.get(booking=family, kind="baggage")
    payment = Payment.objects.get(booking=family)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, charge.amount)
    family.refresh_from_db()
    assert family.balance_due == 0
    assert "boarding-pass" in response.content.decode()


def test_a_declined_card_checks_nobody_in_and_leaves_nothing_owed(client, family):
    # Given the quote for Mei's two bags
    find(client, family)
    client.post(f"/check-in/{family.record_locator}/flights/1/", check_in_form(family, Mei={"bag_1": "20", "bag_2": "20"}))
    page = client.get(f"/check-in/{family.record_locator}/flights/1/pay/").content.decode()
    total_before = Booking.objects.get(pk=family.pk).total_amount
    # When the card is declined
    response = client.post(f"/check-in/{family.record_locator}/flights/1/pay/", card_form(page, CARD_DECLINED))
    # Then the page says so, nobody is checked in, and the bag fee is not left on the booking
    assert response.status_code == 200 and 'id="payment-declined"' in response.content.decode()
    assert not CheckIn.objects.exists()
    assert Coupon.objects.filter(status=CouponStatus.CHECKED_IN).count() == 0
    assert not BookingCharge.objects.filter(booking=family, kind="baggage").exists()
    assert Booking.objects.get(pk=family.pk).total_amount == total_before
    # and a second try with a good card from the same page checks everyone in
    retry = client.post(f"/check-in/{family.record_locator}/flights/1/pay/", card_form(response.content.decode()))
    assert retry.status_code == 302 and CheckIn.objects.filter(segment__booking=family).count() == 3


def test_the_payment_page_without_a_quote_sends_the_passenger_back_to_choose(client, family):
    # Given a passenger who found the booking but chose nothing yet
    find(client, family)
    # When they open the payment page directly, or post a card to it
    shown = client.get(f"/check-in/{family.record_locator}/flights/1/pay/")
    posted = client.post(f"/check-in/{family.record_locator}/flights/1/pay/", card_form(""))
    # Then both go back to the check-in form and nothing is charged
    assert shown.status_code == posted.status_code == 302
    assert shown["Location"].endswith("/flights/1/") and not Payment.objects.exists()


def test_someone_else_cannot_reach_the_payment_page(client, family):
    # Given a visitor who never found this booking, when they open its payment page, then it is refused
    response = client.get(f"/check-in/{family.record_locator}/flights/1/pay/")
    assert response.status_code == 404 and not Payment.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"confirm": None}, "This field is required."),
        ({"Mei": {"bag_1": "40"}}, "Ensure this value is less than or equal to 32"),
        ({"Mei": {"hand_carry": "5"}}, "Ensure this value is less than or equal to 2"),
        ({"Mei": {"selected": None}, "Wei": {"selected": None}}, "Choose at least one traveller to check in."),
    ],
)
def test_bad_check_in_input_is_explained_and_checks_in_nobody(client, family, change, message):
    find(client, family)
    data = check_in_form(family, **{k: v for k, v in change.items() if k != "confirm"})
    if "confirm" in change:
        data.pop("confirm")
    response = client.post(f"/check-in/{family.record_locator}/flights/1/", data)
    assert response.status_code == 200 and message in response.content.decode()
    assert not CheckIn.objects.exists()


def test_check_in_is_refused_before_the_window_opens(client, db):
    booking = ticketed_booking(flight=flight_in(30), passengers=[{"given_name": "Ann", "family_name": "Early"}])
    find(client, booking, family_name="Early")
    response = client.get(f"/check-in/{booking.record_locator}/flights/1/", follow=True)
    assert "Online check-in is not open for this flight." in response.content.decode()
    assert "Online check-in for this flight opens" in response.content.decode()
    assert not CheckIn.objects.exists()


def test_a_taken_seat_cannot_be_chosen(client, family):
    other = ticketed_booking(flight=family.segments.get().flight, passengers=[{"given_name": "Zed", "family_name": "Z"}])
    SeatAssignment.objects.create(
        segment=other.segments.get(), passenger=other.passengers.get(), flight=other.segments.get().flight, seat="4A"
    )
    find(client, family)
    response = client.post(
        f"/check-in/{family.record_locator}/flights/1/seats/", {"passenger": pax(family, "Mei").pk, "seat": "4A"}
    )
    assert response.status_code == 200 and "This seat is not free; choose another one." in response.content.decode()
    assert not SeatAssignment.objects.filter(passenger__booking=family).exists()


def test_an_adult_with_an_infant_cannot_sit_in_an_exit_row(client, family):
    find(client, family)
    response = client.post(
        f"/check-in/{family.record_locator}/flights/1/seats/", {"passenger": pax(family, "Mei").pk, "seat": "5A"}
    )
    assert response.status_code == 200
    assert "Travellers with an infant on their lap cannot sit in an exit row." in response.content.decode()


def test_a_boarding_pass_of_another_booking_is_not_found(client, family):
    other = ticketed_booking(flight=flight_in(3), passengers=[{"given_name": "Bob", "family_name": "Other"}])
    find(client, other, family_name="Other")
    client.post(f"/check-in/{other.record_locator}/flights/1/", check_in_form(other))
    theirs = CheckIn.objects.get()
    find(client, family)
    assert client.get(f"/check-in/{family.record_locator}/boarding-pass/{theirs.pk}/").status_code == 404
    assert client.get(f"/check-in/{other.record_locator}/boarding-pass/{theirs.pk}/").status_code == 404
