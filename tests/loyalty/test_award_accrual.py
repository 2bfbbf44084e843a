"""Award tickets earn no miles: a coupon on a booking whose fares were paid with miles is never credited,
whether by the arrival, the sweep or a retro claim; a cash booking on the same flight still earns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty import services
from loyalty.models import ClaimStatus, MilesEntry, RetroClaim
from reservations import services as reservations
from reservations.models import BookingStatus, Channel, PaymentMethod
from tests.loyalty.factories import credit, member
from tests.loyalty.flights import accrual_not_announced, clock, land, ticketed_booking, traveller
from tests.loyalty.redemption_support import (  # noqa: F401
    chart_fixture,
    flight_fixture,
    held_booking,
    pay_card,
    pay_miles,
)

pytestmark = pytest.mark.django_db


def award_and_cash_flown(flight):  # noqa: ANN001, ANN201
    """On one flight: an award booking (fares paid with miles, taxes by card) and a cash one, both flown."""
    awardee, payer = member(family_name="Award"), member(family_name="Cash")
    credit(awardee, 20000)
    award = held_booking(awardee.customer, flight, passengers=[traveller(awardee)])
    miles = pay_miles(award)
    pay_card(award)
    award.refresh_from_db()
    assert award.status == BookingStatus.TICKETED and miles.method == PaymentMethod.MILES
    cash = ticketed_booking(flight=flight, passengers=[traveller(payer)], family="ECO_STANDARD")
    with clock(flight.scheduled_departure - timedelta(hours=3)):
        for booking in (award, cash):
            reservations.check_in(
                booking=booking, segment=booking.segments.get(), passengers=list(booking.passengers.all()), channel=Channel.PORTAL
            )
    with accrual_not_announced():
        land(flight)
    return awardee, payer, award


def test_an_award_ticket_earns_nothing_and_a_cash_ticket_on_the_same_flight_does(flight):
    # given an award booking and a cash booking flown on the same flight
    awardee, payer, _award = award_and_cash_flown(flight)
    # when the flight's miles are credited
    with CaptureQueriesContext(connection) as captured:
        services.miles_accrue_for_flight(flight_id=flight.pk)
    # then only the cash traveller earns, and the award coupon is left out of the one candidate query
    assert MilesEntry.objects.filter(member=payer, kind="accrual").count() == 1
    assert not MilesEntry.objects.filter(member=awardee, kind="accrual").exists()
    candidate = [
        q["sql"] for q in captured.captured_queries if "reservations_coupon" in q["sql"] and "reservations_payment" in q["sql"]
    ]
    assert len(candidate) == 1


def test_the_sweep_does_not_credit_an_award_ticket(flight):
    # given an award booking flown and never credited
    awardee, payer, _award = award_and_cash_flown(flight)
    # when the sweep runs
    posted = services.miles_accrual_sweep()
    # then it credits the cash coupon only
    assert posted == 1
    assert not MilesEntry.objects.filter(member=awardee, kind="accrual").exists()


def test_a_retro_claim_for_an_award_ticket_is_refused_with_its_reason(flight):
    # given an award booking flown
    awardee, _payer, award = award_and_cash_flown(flight)
    ticket = award.tickets.get()
    # when the member claims its miles
    with pytest.raises(services.ClaimRefused) as refused:
        services.retro_claim_submit(member=awardee, ticket_number=ticket.number)
    # then it is refused as an award ticket, recorded so, and nothing is credited
    assert refused.value.code == "award_ticket"
    assert RetroClaim.objects.get(member=awardee).status == ClaimStatus.REFUSED
    assert not MilesEntry.objects.filter(member=awardee, kind="accrual").exists()
