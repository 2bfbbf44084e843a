"""A frequent flyer number added or corrected after booking (trip page, online check-in, booking page, API) is
checked by loyalty's passenger check as at booking: its check digit, an active member, the traveller's family
name; and a good one at check-in gives the tier's benefits at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from crm.errors import ApplicationError
from loyalty.models import Member, MemberStatus, Tier
from reservations import services
from reservations.models import Booking, Channel, ChargeKind, CheckIn
from tests.loyalty.factories import member
from tests.reservations.api_support import BOOKINGS, assert_error
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory

pytestmark = pytest.mark.django_db

BAG_FEE = Decimal("60.00")


@pytest.fixture
def ada(db) -> Member:
    m = member(given_name="Ada", family_name="Lovelace")
    Member.objects.filter(pk=m.pk).update(tier=Tier.objects.get(code="gold"))
    m.refresh_from_db()
    return m


@pytest.fixture
def booking(db) -> Booking:
    """Ada Lovelace on a Light fare (no free checked bag), booked without her number; check-in open."""
    light = FareFamilyFactory(code="ECO_LIGHT", name="Light", baggage_pieces=0, excess_bag_fee=BAG_FEE, rank=1)
    return ticketed_booking(
        flight=flight_in(5),
        booking_class=BookingClassFactory(code="Q", fare_family=light),
        passengers=[{"given_name": "Ada", "family_name": "Lovelace"}],
    )


def mistyped(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def number_of(booking: Booking) -> str:
    return booking.passengers.get().frequent_flyer_number


def test_a_members_own_number_is_accepted_however_it_is_typed(booking, ada):
    typed = f"{ada.number[:3]} {ada.number[3:6]} {ada.number[6:]}"
    services.passenger_frequent_flyer_set(passenger=booking.passengers.get(), number=typed, by=None, channel=Channel.PORTAL)
    assert number_of(booking) == typed


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("check_digit", "invalid_frequent_flyer_number"),
        ("closed", "unknown_frequent_flyer_number"),
        ("other_name", "frequent_flyer_name_mismatch"),
    ],
)
def test_a_bad_number_is_refused_on_the_travellers_field_and_nothing_changes(booking, ada, case, code):
    number = mistyped(ada.number) if case == "check_digit" else ada.number
    if case == "closed":
        Member.objects.filter(pk=ada.pk).update(status=MemberStatus.CLOSED)
    traveller = booking.passengers.get()
    if case == "other_name":
        traveller = ticketed_booking(flight=flight_in(6), passengers=[{"given_name": "Ada", "family_name": "Byron"}])
        traveller = traveller.passengers.get()
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=traveller, number=number, by=None, channel=Channel.PORTAL)
    assert refused.value.code == code
    assert list(refused.value.fields) == ["frequent_flyer_number"]
    traveller.refresh_from_db()
    assert traveller.frequent_flyer_number == ""


def test_a_number_typed_at_online_check_in_gives_the_tiers_free_bag_and_the_boarding_pass_its_benefits(booking, ada):
    # given Ada, a Gold member, found her booking by reference and name; her number is not on it
    client = Client()
    client.post("/check-in/", {"record_locator": booking.record_locator, "family_name": "Lovelace"})
    traveller = booking.passengers.get()
    prefix = f"p{traveller.pk}"

    # when she types her number and checks in one 20 kg bag
    response = client.post(
        f"/check-in/{booking.record_locator}/flights/1/",
        {
            "confirm": "on",
            f"{prefix}-selected": "on",
            f"{prefix}-hand_carry": "1",
            f"{prefix}-bag_1": "20",
            f"{prefix}-frequent_flyer_number": ada.number,
        },
    )

    # then the number is saved and she is checked in at once: the Gold tier's extra bag makes it free
    assert response.status_code == 302 and response["Location"] == f"/check-in/{booking.record_locator}/"
    assert number_of(booking) == ada.number
    row = CheckIn.objects.get(passenger=traveller)
    assert (row.bags, row.excess_baggage_fee) == (1, Decimal("0.00"))
    assert not booking.charges.filter(kind=ChargeKind.BAGGAGE).exists()
    # and her boarding pass shows priority boarding and the lounge, with the tier's name
    page = client.get(f"/check-in/{booking.record_locator}/boarding-pass/{row.pk}/").content.decode()
    assert "Priority" in page and "Lounge" in page and "(Gold)" in page


def test_a_mistyped_number_at_online_check_in_is_shown_beside_it_and_nobody_is_checked_in(booking, ada):
    client = Client()
    client.post("/check-in/", {"record_locator": booking.record_locator, "family_name": "Lovelace"})
    traveller = booking.passengers.get()
    prefix = f"p{traveller.pk}"
    response = client.post(
        f"/check-in/{booking.record_locator}/flights/1/",
        {
            "confirm": "on",
            f"{prefix}-selected": "on",
            f"{prefix}-hand_carry": "1",
            f"{prefix}-frequent_flyer_number": mistyped(ada.number),
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This is not a valid frequent flyer number: check the digits." in html
    assert f'href="#id_{prefix}-frequent_flyer_number"' in html
    assert not CheckIn.objects.exists() and number_of(booking) == ""


def test_an_agent_gets_the_family_name_refusal_on_the_booking_page(booking, agent_client):
    other = member(given_name="George", family_name="Byron")
    traveller = booking.passengers.get()
    response = agent_client.post(
        f"/office/reservations/bookings/{booking.record_locator}/frequent-flyer/", {f"ff_{traveller.pk}": other.number}
    )
    assert response.status_code == 200
    assert "This frequent flyer number belongs to someone with another family name." in response.content.decode()
    assert number_of(booking) == ""


def test_the_api_refuses_a_mistyped_number_naming_the_field_and_takes_a_good_one(booking, ada, agent, api_as):
    url = f"{BOOKINGS}{booking.record_locator}/passengers/1/"
    error = assert_error(
        api_as(agent).patch(url, {"frequent_flyer_number": mistyped(ada.number)}, format="json"),
        400,
        "invalid_frequent_flyer_number",
    )
    assert list(error["fields"]) == ["frequent_flyer_number"]
    assert number_of(booking) == ""
    response = api_as(agent).patch(url, {"frequent_flyer_number": ada.number}, format="json")
    assert response.status_code == 200 and response.json()["frequent_flyer_number"] == ada.number
