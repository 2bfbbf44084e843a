"""Changes, cancellations and refunds by the fare rules.

Prices in these tests: LHR-CDG is 348 km; class M (0.25/km) sells 87.00 while the cabin is under half
full, class Y (0.50/km) 174.00 always; every passenger pays a 25.00 tax. So a flight with few seats
left costs 174.00 a seat, an empty one 87.00.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from crm.errors import ApplicationError
from crm.models import TimelineEntry
from reservations import events, services
from reservations.gateway import SimulatedCardGateway
from reservations.models import (
    BookingCharge,
    BookingStatus,
    ChargeKind,
    Coupon,
    CouponStatus,
    FlightCabin,
    FlightStatus,
    Refund,
    RefundStatus,
    SegmentStatus,
    Ticket,
    TicketStatus,
)
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory, FlightFactory, RouteFactory, airport
from tests.reservations.test_payments import assert_reconciles, book, pay, voucher

CHEAP, DEAR, TAX = Decimal("87.00"), Decimal("174.00"), Decimal("25.00")
SEATS = 24  # economy on the test aircraft


class FailingRefundGateway(SimulatedCardGateway):
    def refund(self, *, reference, amount, currency, idempotency_key):  # noqa: ANN001, ANN201
        return super().refund(reference="unknown", amount=amount, currency=currency, idempotency_key=idempotency_key)


def family(code: str, classes: tuple[str, str], **rules) -> str:
    """A fare family with a cheap class closing at half load and a dear one always open."""
    ff = FareFamilyFactory(code=code, **rules)
    BookingClassFactory(code=classes[0], fare_family=ff, price_per_km=Decimal("0.25"), closes_at_load_factor=Decimal("0.5"))
    BookingClassFactory(code=classes[1], fare_family=ff, price_per_km=Decimal("0.50"))
    return code


@pytest.fixture
def standard(db) -> str:
    """Non-refundable, changes for 50.00, cancellation fee 100.00 (the factory's Standard)."""
    return family("ECO_STANDARD", ("M", "Y"))


@pytest.fixture
def flex(db) -> str:
    return family(
        "ECO_FLEX", ("B", "H"), name="Flex", refundable=True, change_fee=Decimal("20.00"), cancellation_fee=Decimal("30.00")
    )


def empty_flight(days: int = 10):
    return FlightFactory(scheduled_departure=(timezone.now() + timedelta(days=days)).replace(second=0, microsecond=0))


def busy_flight(days: int = 12):
    """Six seats left of 24: the cheap class is closed."""
    return FlightFactory(
        scheduled_departure=(timezone.now() + timedelta(days=days)).replace(second=0, microsecond=0), inventory={"economy": 6}
    )


def available(flight) -> int:  # noqa: ANN001
    return FlightCabin.objects.get(flight=flight, cabin="economy").available


def ticketed(booking, django_capture_on_commit_callbacks, key: str = "pay"):  # noqa: ANN001, ANN201
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key=key)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    return booking


def segment_of(booking):  # noqa: ANN001, ANN201
    return booking.segments.get(status=SegmentStatus.CONFIRMED, sequence=1)


def charges(booking, kind: str) -> list[Decimal]:  # noqa: ANN001
    return list(BookingCharge.objects.filter(booking=booking, kind=kind).order_by("id").values_list("amount", flat=True))


# --- Quotes -----------------------------------------------------------------------------------------


def test_a_dearer_flight_costs_the_fare_difference_plus_the_change_fee_per_passenger(
    standard, django_capture_on_commit_callbacks
):
    booking = ticketed(book(flights=[empty_flight()], family=standard, adults=2), django_capture_on_commit_callbacks)
    quote = services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=busy_flight())
    assert (quote.old_fare, quote.new_fare) == (2 * CHEAP, 2 * DEAR)
    assert quote.fare_difference == 2 * (DEAR - CHEAP)
    assert quote.change_fee == Decimal("100.00")
    assert quote.amount_due == 2 * (DEAR - CHEAP) + Decimal("100.00")
    assert quote.booking_class.code == "Y"


def test_a_cheaper_flight_on_a_non_refundable_fare_forfeits_the_residual(standard, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[busy_flight()], family=standard), django_capture_on_commit_callbacks)
    quote = services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=empty_flight(days=14))
    # then no negative difference: the residual is forfeited, only the fee is due
    assert (quote.fare_difference, quote.residual, quote.credit, quote.forfeited) == (0, DEAR - CHEAP, 0, DEAR - CHEAP)
    assert quote.amount_due == Decimal("50.00")


def test_a_cheaper_flight_on_a_refundable_fare_credits_the_residual(flex, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[busy_flight()], family=flex), django_capture_on_commit_callbacks)
    quote = services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=empty_flight(days=14))
    assert (quote.fare_difference, quote.credit, quote.forfeited, quote.change_fee) == (0, DEAR - CHEAP, 0, Decimal("20.00"))


def test_the_same_price_costs_only_the_fee(standard, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard), django_capture_on_commit_callbacks)
    quote = services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=empty_flight(days=15))
    assert (quote.fare_difference, quote.residual, quote.amount_due) == (0, 0, Decimal("50.00"))


def test_infants_pay_the_difference_but_no_change_fee(standard, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard, infants=1), django_capture_on_commit_callbacks)
    quote = services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=busy_flight())
    assert [p.change_fee for p in quote.passengers] == [Decimal("50.00"), 0]
    assert [p.fare_difference for p in quote.passengers] == [DEAR - CHEAP, Decimal("8.70")]  # infant pays 10%


def test_a_fare_that_allows_no_changes_is_refused(db, django_capture_on_commit_callbacks):
    light = family("ECO_LIGHT", ("Q", "V"), name="Light", changeable=False)
    booking = ticketed(book(flights=[empty_flight()], family=light), django_capture_on_commit_callbacks)
    target = busy_flight()
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=target)
    assert refused.value.code == "change_not_allowed"
    with pytest.raises(ApplicationError):
        services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=target.pk)
    assert available(target) == 6 and booking.segments.count() == 1


def test_a_flight_between_other_airports_is_refused(standard, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard), django_capture_on_commit_callbacks)
    elsewhere = FlightFactory(route=RouteFactory(origin=airport("LHR"), destination=airport("AMS"), distance_km=370))
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=elsewhere.pk)
    assert "new_flight_id" in refused.value.fields
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=999_999)
    assert refused.value.fields == {"new_flight_id": ["No such flight."]}


# --- Changing ---------------------------------------------------------------------------------------


def test_a_change_moves_the_seats_reissues_the_tickets_and_leaves_the_difference_due(
    standard, django_capture_on_commit_callbacks
):
    # given a ticketed booking for two on an empty flight
    old_flight, new_flight = empty_flight(), busy_flight()
    booking = ticketed(book(flights=[old_flight], family=standard, adults=2), django_capture_on_commit_callbacks)
    old_tickets = set(Ticket.objects.values_list("number", flat=True))
    # when it moves to the busy flight
    with django_capture_on_commit_callbacks(execute=True):
        changed = services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=new_flight.pk)
    # then the seats moved with it
    assert (available(old_flight), available(new_flight)) == (SEATS, 4)
    # and the old coupons are exchanged for new tickets on the new flight
    assert set(Ticket.objects.filter(status=TicketStatus.EXCHANGED).values_list("number", flat=True)) == old_tickets
    assert set(Coupon.objects.filter(ticket__number__in=old_tickets).values_list("status", flat=True)) == {CouponStatus.EXCHANGED}
    new_tickets = Ticket.objects.filter(booking=booking, status=TicketStatus.OPEN)
    assert new_tickets.count() == 2 and not old_tickets & {t.number for t in new_tickets}
    assert {c.segment.flight_id for t in new_tickets for c in t.coupons.all()} == {new_flight.pk}
    # and the difference and the fee are charged, due now
    assert charges(booking, ChargeKind.FARE_DIFFERENCE) == [DEAR - CHEAP] * 2
    assert charges(booking, ChargeKind.CHANGE_FEE) == [Decimal("50.00")] * 2
    assert changed.status == BookingStatus.TICKETED
    assert changed.balance_due == 2 * (DEAR - CHEAP) + Decimal("100.00")
    # and the itinerary reads the new flight first, the old one kept as cancelled history
    assert [(s.flight_id, s.status) for s in changed.segments.order_by("sequence")] == [
        (new_flight.pk, SegmentStatus.CONFIRMED),
        (old_flight.pk, SegmentStatus.CANCELLED),
    ]
    # and the reissued receipt went out
    assert "updated e-ticket" in mail.outbox[-1].subject
    # when the passenger pays what is due
    payment = pay(changed, key="difference")
    # then nothing is owed and no further tickets are issued
    changed.refresh_from_db()
    assert payment.amount == 2 * (DEAR - CHEAP) + Decimal("100.00")
    assert (changed.balance_due, changed.status) == (0, BookingStatus.TICKETED)
    assert Ticket.objects.filter(booking=booking, status=TicketStatus.OPEN).count() == 2
    assert_reconciles(changed)


def test_a_cheaper_refundable_change_refunds_the_residual_to_the_card(flex, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[busy_flight()], family=flex), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        changed = services.booking_change_flight(
            booking=booking, segment=segment_of(booking), new_flight_id=empty_flight(days=14).pk
        )
    # then the residual less the fee went back to the card
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.payment.method) == (
        DEAR - CHEAP - Decimal("20.00"),
        RefundStatus.SUCCEEDED,
        "card",
    )
    assert refund.gateway_reference.startswith("re_") and refund.completed_at is not None
    changed.refresh_from_db()
    assert changed.balance_due == 0
    assert_reconciles(changed)


def test_a_change_to_a_flight_with_too_few_seats_changes_nothing(standard, django_capture_on_commit_callbacks):
    old_flight = empty_flight()
    booking = ticketed(book(flights=[old_flight], family=standard, adults=2), django_capture_on_commit_callbacks)
    full = FlightFactory(scheduled_departure=old_flight.scheduled_departure + timedelta(days=1), inventory={"economy": 1})
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=full.pk)
    assert refused.value.status == 409
    assert (available(old_flight), available(full)) == (SEATS - 2, 1)
    assert booking.segments.get().flight_id == old_flight.pk
    assert not BookingCharge.objects.filter(kind=ChargeKind.CHANGE_FEE).exists()


def test_only_a_supervisor_waives_the_change_fee_and_must_say_why(
    standard, agent, supervisor, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    booking = book(flights=[empty_flight()], family=standard, customer=customer)
    booking = ticketed(booking, django_capture_on_commit_callbacks)
    target = busy_flight()
    # an agent may not waive
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_flight(
            booking=booking, segment=segment_of(booking), new_flight_id=target.pk, by=agent, waive_reason="nice"
        )
    assert refused.value.status == 403
    # a supervisor must give a reason
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_flight(
            booking=booking, segment=segment_of(booking), new_flight_id=target.pk, by=supervisor, waive_reason="   "
        )
    assert refused.value.code == "waiver_reason_required"
    assert available(target) == 6
    # when the supervisor waives with a reason
    changed = services.booking_change_flight(
        booking=booking, segment=segment_of(booking), new_flight_id=target.pk, by=supervisor, waive_reason="Medical certificate"
    )
    # then the fee and its waiver are both on the booking, signed and explained, and only the difference is due
    waiver = BookingCharge.objects.get(kind=ChargeKind.WAIVER)
    assert (waiver.amount, waiver.created_by, waiver.reason) == (Decimal("-50.00"), supervisor, "Medical certificate")
    assert changed.balance_due == DEAR - CHEAP
    entry = TimelineEntry.objects.get(customer=customer, kind="booking.fee_waived")
    assert entry.actor == supervisor and entry.data["reason"] == "Medical certificate"


# --- Involuntary rebooking --------------------------------------------------------------------------


def test_rebooking_off_a_cancelled_flight_costs_nothing(standard, passenger, django_capture_on_commit_callbacks):
    old_flight, new_flight = empty_flight(), busy_flight()
    booking = ticketed(book(flights=[old_flight], family=standard, adults=2), django_capture_on_commit_callbacks)
    total = booking.total_amount
    old_flight.status = FlightStatus.CANCELLED
    old_flight.save(update_fields=["status"])
    # when the passenger takes the offered dearer flight
    rebooked = services.booking_rebook(
        booking=booking, segment=segment_of(booking), new_flight_id=new_flight.pk, by=passenger[0], reason="AU cancelled"
    )
    # then no fee, no difference: the total is unchanged and nothing is due
    assert rebooked.total_amount == total and rebooked.balance_due == 0
    assert not BookingCharge.objects.filter(kind__in=[ChargeKind.CHANGE_FEE, ChargeKind.FARE_DIFFERENCE]).exists()
    # and the seats and the tickets moved to the new flight
    assert (available(old_flight), available(new_flight)) == (SEATS, 4)
    open_tickets = Ticket.objects.filter(booking=booking, status=TicketStatus.OPEN)
    assert {c.segment.flight_id for t in open_tickets for c in t.coupons.all()} == {new_flight.pk}
    assert_reconciles(rebooked)


def test_a_passenger_cannot_rebook_a_flight_that_is_not_disrupted(standard, passenger, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard), django_capture_on_commit_callbacks)
    target = busy_flight()
    with pytest.raises(ApplicationError) as refused:
        services.booking_rebook(
            booking=booking, segment=segment_of(booking), new_flight_id=target.pk, by=passenger[0], reason="x"
        )
    assert refused.value.status == 403
    with pytest.raises(ApplicationError) as refused:
        services.booking_rebook(booking=booking, segment=segment_of(booking), new_flight_id=target.pk, reason=" ")
    assert "reason" in refused.value.fields
    assert available(target) == 6


# --- Cancelling -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "involuntary", "refund"),
    [
        ({"refundable": True, "cancellation_fee": Decimal("30.00")}, False, CHEAP - 30 + TAX),  # fare less fee, plus tax
        ({"refundable": True, "cancellation_fee": Decimal("87.00")}, False, TAX),  # fee equal to the fare
        ({"refundable": True, "cancellation_fee": Decimal("200.00")}, False, TAX),  # fee above the fare: never negative
        ({"refundable": True, "cancellation_fee": Decimal("0.00")}, False, CHEAP + TAX),
        ({"refundable": False, "cancellation_fee": Decimal("30.00")}, False, TAX),  # non-refundable: taxes only
        ({"refundable": False, "cancellation_fee": Decimal("30.00")}, True, CHEAP + TAX),  # the airline cancels: all
    ],
)
def test_the_refund_follows_the_fare_rules(db, django_capture_on_commit_callbacks, rules, involuntary, refund):
    fare_code = family("ECO_TEST", ("M", "Y"), **rules)
    flight = empty_flight()
    booking = ticketed(book(flights=[flight], family=fare_code, adults=2), django_capture_on_commit_callbacks)
    paid = booking.paid_amount
    cancelled_events = []
    events.booking_cancelled.connect(lambda sender, reason, **kw: cancelled_events.append(reason), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            cancelled = services.booking_cancel(booking=booking, involuntary=involuntary, reason="Plans changed")
    finally:
        events.booking_cancelled.disconnect(dispatch_uid="t")
    # then each passenger gets the rule's refund, back on the card, and the airline keeps the rest as fees
    assert cancelled.status == BookingStatus.CANCELLED
    assert cancelled.refunded_amount == 2 * refund
    assert list(Refund.objects.values_list("status", flat=True)) == [RefundStatus.SUCCEEDED]
    assert cancelled.paid_amount - cancelled.refunded_amount == cancelled.total_amount == paid - 2 * refund
    assert cancelled.balance_due == 0
    assert_reconciles(cancelled)
    # and the seats are back, the coupons refunded
    assert available(flight) == SEATS
    assert set(Coupon.objects.values_list("status", flat=True)) == {CouponStatus.REFUNDED}
    assert set(Ticket.objects.values_list("status", flat=True)) == {TicketStatus.REFUNDED}
    assert cancelled_events == ["involuntary" if involuntary else "voluntary"]


def test_the_cancellation_quote_is_what_cancelling_then_refunds_and_changes_nothing(db, django_capture_on_commit_callbacks):
    # given a ticketed refundable booking for two with a 30.00 cancellation fee
    fare_code = family("ECO_QUOTE", ("M", "Y"), refundable=True, cancellation_fee=Decimal("30.00"))
    flight = empty_flight()
    booking = ticketed(book(flights=[flight], family=fare_code, adults=2), django_capture_on_commit_callbacks)
    # when the passenger asks what cancelling would give back
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        quote = services.booking_cancel_quote(booking=booking)
    # then the quote names the refund and the fees, and nothing happened
    assert (quote.refund_total, quote.fees) == (2 * (CHEAP - 30 + TAX), Decimal("60.00"))
    assert callbacks == []
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and not Refund.objects.exists()
    assert available(flight) == SEATS - 2
    # and cancelling for real refunds exactly the quoted amount
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.booking_cancel(booking=booking, reason="Plans changed")
    assert cancelled.refunded_amount == quote.refund_total


def test_a_non_refundable_fare_without_taxes_refunds_nothing_and_voids_the_coupons(standard, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard, taxes=False), django_capture_on_commit_callbacks)
    cancelled = services.booking_cancel(booking=booking)
    assert cancelled.refunded_amount == 0 and not Refund.objects.exists()
    assert cancelled.paid_amount == cancelled.total_amount == CHEAP
    assert set(Coupon.objects.values_list("status", flat=True)) == {CouponStatus.VOID}
    assert set(Ticket.objects.values_list("status", flat=True)) == {TicketStatus.VOID}


def test_a_supervisor_waives_the_cancellation_fee(db, supervisor, django_capture_on_commit_callbacks):
    fare_code = family("ECO_TEST", ("M", "Y"), refundable=True, cancellation_fee=Decimal("30.00"))
    booking = ticketed(book(flights=[empty_flight()], family=fare_code), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.booking_cancel(booking=booking, by=supervisor, waive_reason="Bereavement")
    assert cancelled.refunded_amount == CHEAP + TAX and cancelled.total_amount == 0
    waiver = BookingCharge.objects.get(kind=ChargeKind.WAIVER)
    assert (waiver.amount, waiver.created_by, waiver.reason) == (Decimal("-30.00"), supervisor, "Bereavement")


def test_a_passenger_cannot_cancel_as_the_airline(standard, passenger, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard), django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as refused:
        services.booking_cancel(booking=booking, by=passenger[0], involuntary=True)
    assert refused.value.status == 403
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and not Refund.objects.exists()


def test_cancelling_an_unpaid_hold_releases_the_seats_and_owes_nothing(standard):
    flight = empty_flight()
    booking = book(flights=[flight], family=standard, adults=3)
    assert available(flight) == SEATS - 3
    cancelled = services.booking_cancel(booking=booking)
    assert (cancelled.status, cancelled.total_amount, cancelled.paid_amount, cancelled.balance_due) == (
        BookingStatus.CANCELLED,
        0,
        0,
        0,
    )
    assert available(flight) == SEATS
    with pytest.raises(ApplicationError) as again:
        services.booking_cancel(booking=cancelled)
    assert again.value.code == "already_cancelled"


def test_a_part_paid_hold_is_refunded_in_full_on_cancellation(standard, django_capture_on_commit_callbacks):
    booking = book(flights=[empty_flight()], family=standard, adults=2)
    gift = voucher(amount="40.00")
    services.payment_take(booking=booking, method="voucher", idempotency_key="v", voucher_code=gift.code, amount=Decimal("40"))
    cancelled = services.booking_cancel(booking=booking)
    # then the voucher gets its money back at once
    gift.refresh_from_db()
    assert gift.balance == Decimal("40.00")
    assert cancelled.refunded_amount == Decimal("40.00") and cancelled.total_amount == 0
    assert Refund.objects.get().status == RefundStatus.SUCCEEDED
    assert_reconciles(cancelled)


def test_a_counter_refund_waits_for_the_agent_who_pays_it_out(flex, agent, passenger):
    booking = book(flights=[empty_flight()], family=flex)
    services.payment_take(booking=booking, method="counter", idempotency_key="desk", by=agent)
    cancelled = services.booking_cancel(booking=booking, by=agent)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PENDING
    assert cancelled.refunded_amount == refund.amount == CHEAP - 30 + TAX
    # a passenger cannot mark it paid out; the agent can, once
    with pytest.raises(ApplicationError):
        services.refund_complete(refund=refund, by=passenger[0])
    done = services.refund_complete(refund=refund, by=agent, reference="desk 4")
    assert (done.status, done.gateway_reference) == (RefundStatus.SUCCEEDED, "desk 4")
    assert services.refund_complete(refund=refund, by=agent).status == RefundStatus.SUCCEEDED
    assert_reconciles(cancelled)


def test_a_failed_card_refund_is_tracked_and_the_money_shows_as_still_owed(
    standard, settings, django_capture_on_commit_callbacks
):
    booking = ticketed(book(flights=[empty_flight()], family=standard), django_capture_on_commit_callbacks)
    settings.PAYMENT_GATEWAY = "tests.reservations.test_changes.FailingRefundGateway"
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.booking_cancel(booking=booking)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED and refund.completed_at is not None
    cancelled.refresh_from_db()
    assert cancelled.refunded_amount == 0 and cancelled.balance_due == -TAX
    assert_reconciles(cancelled)
    # when an agent retries once the gateway works again
    settings.PAYMENT_GATEWAY = "reservations.gateway.SimulatedCardGateway"
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_owed(booking=cancelled, reason="Retry")
    # then the money goes back and nothing is owed
    cancelled.refresh_from_db()
    assert cancelled.refunded_amount == TAX and cancelled.balance_due == 0
    assert list(Refund.objects.order_by("id").values_list("status", flat=True)) == [RefundStatus.FAILED, RefundStatus.SUCCEEDED]
    with pytest.raises(ApplicationError) as nothing:
        services.refund_owed(booking=cancelled, reason="Again")
    assert nothing.value.code == "nothing_owed"
    assert_reconciles(cancelled)


def test_checked_in_passengers_block_changes_and_cancellation(standard, django_capture_on_commit_callbacks):
    booking = ticketed(book(flights=[empty_flight()], family=standard), django_capture_on_commit_callbacks)
    Coupon.objects.update(status=CouponStatus.CHECKED_IN)
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=busy_flight().pk)
    assert refused.value.code == "change_not_allowed"
    with pytest.raises(ApplicationError) as refused:
        services.booking_cancel(booking=booking)
    assert refused.value.code == "cancel_not_allowed"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED


def test_cancelling_after_the_outbound_was_flown_refunds_only_the_return(flex, django_capture_on_commit_callbacks):
    outbound = empty_flight()
    inbound = FlightFactory(
        route=RouteFactory(origin=airport("CDG"), destination=airport("LHR")),
        scheduled_departure=outbound.scheduled_departure + timedelta(days=3),
    )
    booking = ticketed(book(flights=[outbound, inbound], family=flex), django_capture_on_commit_callbacks)
    Coupon.objects.filter(segment__flight=outbound).update(status=CouponStatus.FLOWN)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.booking_cancel(booking=booking)
    assert cancelled.refunded_amount == CHEAP - 30 + TAX
    assert dict(cancelled.segments.values_list("flight_id", "status")) == {
        outbound.pk: SegmentStatus.CONFIRMED,
        inbound.pk: SegmentStatus.CANCELLED,
    }
    assert available(outbound) == SEATS - 1 and available(inbound) == SEATS
    assert set(Coupon.objects.values_list("status", flat=True)) == {CouponStatus.FLOWN, CouponStatus.REFUNDED}


# --- Reconciliation ---------------------------------------------------------------------------------


def test_payments_and_refunds_reconcile_through_changes_and_a_cancellation(flex, django_capture_on_commit_callbacks):
    # given two passengers paying 50 by voucher and the rest by card
    booking = book(flights=[empty_flight()], family=flex, adults=2)
    gift = voucher(amount="50.00")
    services.payment_take(booking=booking, method="voucher", idempotency_key="v", voucher_code=gift.code, amount=Decimal("50"))
    ticketed(booking, django_capture_on_commit_callbacks, key="card-1")
    assert_reconciles(booking)
    # when they move to a dearer flight and pay the difference and fees
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=busy_flight().pk)
    assert booking.balance_due == 2 * (DEAR - CHEAP) + 2 * Decimal("20.00")
    pay(booking, key="card-2")
    assert_reconciles(booking)
    # and back to a cheap flight (the refundable residual comes back)
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_change_flight(
            booking=booking, segment=segment_of(booking), new_flight_id=empty_flight(days=16).pk
        )
    assert booking.balance_due == 0
    assert_reconciles(booking)
    # and finally cancel
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_cancel(booking=booking)
    # then everything reconciles, and what the airline kept is exactly the fees
    assert_reconciles(booking)
    fees = sum(
        BookingCharge.objects.filter(booking=booking, kind__in=[ChargeKind.CHANGE_FEE, ChargeKind.CANCELLATION_FEE]).values_list(
            "amount", flat=True
        ),
        Decimal(0),
    )
    assert fees == 2 * Decimal("20.00") * 2 + 2 * Decimal("30.00")
    assert booking.paid_amount - booking.refunded_amount == booking.total_amount == fees
    assert booking.balance_due == 0
    # and the voucher, paid first, was refunded last (the cards covered the refunds)
    gift.refresh_from_db()
    assert gift.balance == 0
    assert set(Refund.objects.values_list("payment__method", flat=True)) == {"card"}
