"""A tier's benefits where the traveller meets them: the extra free bag at check-in, priority and lounge on the pass."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.models import Member, Tier
from reservations import services
from reservations.models import Booking, Channel, ChargeKind, CheckIn
from tests.loyalty.factories import member
from tests.reservations.api_support import BOOKINGS
from tests.reservations.check_in_helpers import paying_card, ticketed_booking
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory

pytestmark = pytest.mark.django_db

BAG_FEE = Decimal("60.00")


def at_tier(m: Member, code: str) -> Member:
    Member.objects.filter(pk=m.pk).update(tier=Tier.objects.get(code=code))
    m.refresh_from_db()
    return m


def light_booking(m: Member, *, customer=None) -> Booking:  # noqa: ANN001
    """A ticketed booking for the member on a Light fare (no free checked bag), their number typed with a space."""
    light = FareFamilyFactory(code="ECO_LIGHT", name="Light", baggage_pieces=0, excess_bag_fee=BAG_FEE, rank=1)
    return ticketed_booking(
        customer=customer,
        booking_class=BookingClassFactory(code="Q", fare_family=light),
        passengers=[
            {
                "given_name": m.customer.given_name,
                "family_name": m.customer.family_name,
                "frequent_flyer_number": f"{m.number[:5]} {m.number[5:]}",
            }
        ],
    )


def check_in_one_bag(booking: Booking) -> CheckIn:
    traveller = booking.passengers.get()
    # A bag beyond the allowance is paid before the boarding pass, as at online check-in.
    (row,) = services.check_in_with_payment(
        booking=booking,
        segment=booking.segments.get(),
        passengers=[traveller],
        bags={traveller.pk: [Decimal("20")]},
        channel=Channel.PORTAL,
        method="card",
        idempotency_key=f"bags-{booking.record_locator}",
        card=paying_card(),
    )
    return row


def test_a_gold_member_on_a_light_fare_checks_one_bag_free():
    # given a Gold member (one extra bag) on a fare with no free bag
    booking = light_booking(at_tier(member(), "gold"))
    # when they check in one bag
    row = check_in_one_bag(booking)
    # then it costs nothing and nothing is charged
    assert (row.bags, row.excess_baggage_fee) == (1, Decimal("0.00"))
    assert not booking.charges.filter(kind=ChargeKind.BAGGAGE).exists()


def test_a_blue_member_pays_for_the_bag():
    # given a Blue member (no extra bag) on the same fare
    booking = light_booking(at_tier(member(), "blue"))
    # when they check in one bag
    row = check_in_one_bag(booking)
    # then the extra-bag fee is charged
    assert row.excess_baggage_fee == BAG_FEE
    assert [c.amount for c in booking.charges.filter(kind=ChargeKind.BAGGAGE)] == [BAG_FEE]


def test_a_closed_membership_gives_nothing():
    # given a Gold member whose membership was closed after booking
    m = at_tier(member(), "gold")
    booking = light_booking(m)
    Member.objects.filter(pk=m.pk).update(status="closed")
    # when the benefits are asked for, then there are none
    from reservations import hooks

    assert hooks.traveller_benefits_for(passenger=booking.passengers.get(), booking=booking) == hooks.TravellerBenefits()


def test_the_api_check_in_of_a_gold_member_charges_no_fee(passenger, api_as):
    # given the passenger is a Gold member and their own traveller on a Light fare
    m = at_tier(member(passenger[1]), "gold")
    booking = light_booking(m, customer=passenger[1])
    # when they check in one bag through the API
    body = {"segment": 1, "passengers": [1], "bags": [{"passenger": 1, "weights_kg": ["20.0"]}]}
    response = api_as(passenger[0]).post(f"{BOOKINGS}{booking.record_locator}/check-in/", body, format="json")
    # then the bag is accepted free
    assert response.status_code == 201, response.content
    assert response.json()[0]["excess_baggage_fee"] == "0.00"


def test_the_portal_check_in_of_a_gold_member_charges_no_fee(passenger, passenger_client):
    # given the passenger is a Gold member on a Light fare
    m = at_tier(member(passenger[1]), "gold")
    booking = light_booking(m, customer=passenger[1])
    traveller = booking.passengers.get()
    # when they open the check-in page, then it tells them of their tier's extra free bag
    page = passenger_client.get(f"/check-in/{booking.record_locator}/flights/1/").content.decode()
    assert "<strong>Gold</strong>: 1 more checked bag free" in page
    # and when they check in one 20 kg bag on the portal
    prefix = f"p{traveller.pk}"
    response = passenger_client.post(
        f"/check-in/{booking.record_locator}/flights/1/",
        {"confirm": "on", f"{prefix}-selected": "on", f"{prefix}-hand_carry": "1", f"{prefix}-bag_1": "20"},
    )
    # then they are checked in with the bag, free
    assert response.status_code == 302
    row = CheckIn.objects.get(passenger=traveller)
    assert (row.bags, row.excess_baggage_fee) == (1, Decimal("0.00"))
    assert booking.balance_due == 0


@pytest.mark.parametrize(
    ("tier", "priority", "lounge"),
    [("blue", False, False), ("silver", True, False), ("gold", True, True), ("platinum", True, True)],
)
def test_the_boarding_pass_page_shows_priority_from_silver_and_the_lounge_from_gold(
    passenger, passenger_client, tier, priority, lounge
):
    # given the passenger, a member at ``tier``, checked in
    m = at_tier(member(passenger[1]), tier)
    booking = light_booking(m, customer=passenger[1])
    row = check_in_one_bag(booking)
    # when they open their boarding pass
    page = passenger_client.get(f"/check-in/{booking.record_locator}/boarding-pass/{row.pk}/").content.decode()
    # then priority (with the tier's name) and the lounge are shown as the tier grants them
    assert ("Priority" in page) is priority
    assert ("Lounge" in page) is lounge
    assert (f"({m.tier.name})" in page) is (priority or lounge)
    # and the PDF renders
    pdf = passenger_client.get(f"/check-in/{booking.record_locator}/boarding-pass/{row.pk}/boarding-pass.pdf")
    assert pdf.status_code == 200


def _party_checked_in(size: int) -> Booking:
    """A booking of ``size`` Gold members on a Light fare, all checked in."""
    light = FareFamilyFactory(code="ECO_LIGHT", name="Light", baggage_pieces=0, excess_bag_fee=BAG_FEE, rank=1)
    members = [at_tier(member(), "gold") for _ in range(size)]
    booking = ticketed_booking(
        booking_class=BookingClassFactory(code="Q", fare_family=light),
        passengers=[
            {"given_name": m.customer.given_name, "family_name": m.customer.family_name, "frequent_flyer_number": m.number}
            for m in members
        ],
    )
    services.check_in(
        booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
    )
    return booking


def test_a_partys_boarding_passes_read_the_tiers_once_whatever_its_size():
    # given a party of one Gold member and a party of four
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reservations import selectors

    small, large = _party_checked_in(1), _party_checked_in(4)
    # when each party's boarding passes are built
    counts = []
    for booking in (small, large):
        with CaptureQueriesContext(connection) as captured:
            passes = selectors.boarding_passes(booking=booking)
        counts.append(len(captured.captured_queries))
        # then every pass carries the tier's benefits
        assert {(p.priority, p.lounge, p.benefits_label) for p in passes} == {(True, True, "Gold")}
    # and four travellers cost no more queries than one
    assert counts[0] == counts[1]
