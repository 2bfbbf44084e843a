"""Award tickets: the chart prices the fares in miles, the taxes are paid by card, and a refund or a
cancellation gives the miles back once; a balance never goes below zero, whatever runs at the same time."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.db import connection

from crm.errors import ApplicationError
from loyalty import services as loyalty
from loyalty.awards import distance_miles
from loyalty.hooks import MilesPayments
from loyalty.models import AwardPrice, EntryKind, Member, MilesEntry
from reservations import events, services
from reservations.models import Booking, BookingStatus, ChargeKind, Payment, PaymentMethod, PaymentStatus, RefundStatus
from tests.crm.factories import CustomerFactory
from tests.events_support import capture_events
from tests.loyalty.factories import credit, member
from tests.loyalty.redemption_support import (  # noqa: F401
    SHORT_HAUL_ECONOMY,
    chart_ensure,
    chart_fixture,
    flight_fixture,
    held_booking,
    long_flight,
    pay_card,
    pay_miles,
)
from tests.reservations.api_support import BOOKINGS, assert_error, bookable_flight, fares

pytestmark = pytest.mark.django_db


def charges(booking: Booking, *kinds: str) -> Decimal:
    return sum((c.amount for c in booking.charges.filter(kind__in=kinds)), Decimal(0))


def balance(m: Member) -> int:
    m.refresh_from_db(fields=["award_balance"])
    return m.award_balance


def ledger_sum(m: Member) -> int:
    return sum(MilesEntry.objects.filter(member=m).values_list("award_miles", flat=True))


# --- The award chart ------------------------------------------------------------------------------


def test_the_chart_prices_each_flight_by_its_distance_zone_and_cabin(chart):
    # given flights in each zone (great-circle distance in miles: 216, 1,001, 4,971 and 7,456)
    fares()
    flights = {
        "short": bookable_flight(),
        "medium": long_flight(1611, "MAD"),
        "long": long_flight(8000, "JFK"),
        "ultra": long_flight(12000, "SYD"),
    }
    m = member()

    # when a member's booking of each is priced
    quotes = {zone: loyalty.award_quote(booking=held_booking(m.customer, f)) for zone, f in flights.items()}

    # then each pays its zone's economy price, and the chart's boundary is inclusive
    assert distance_miles(1609) == 1000 and distance_miles(1611) == 1001
    assert {zone: q.miles for zone, q in quotes.items()} == {"short": 7500, "medium": 15000, "long": 30000, "ultra": 45000}
    assert [line.zone for line in quotes["medium"].lines] == ["Medium haul"]


def test_every_traveller_pays_the_chart_price_and_an_infant_on_a_lap_a_tenth(flight):
    # given a member's booking for two adults and an infant
    m = member()
    party = [
        services.PassengerRequest(passenger_type="ADT", given_name=m.customer.given_name, family_name=m.customer.family_name),
        services.PassengerRequest(passenger_type="ADT", given_name="Ann", family_name="Lee"),
        services.PassengerRequest(passenger_type="INF", given_name="Bo", family_name="Lee", date_of_birth=_months_ago(8)),
    ]
    booking = held_booking(m.customer, flight, passengers=party)

    # when it is priced in miles
    quote = loyalty.award_quote(booking=booking)

    # then two seats at the chart price and the infant at the fare family's 10%; the miles pay the fares only
    assert quote.miles == 2 * SHORT_HAUL_ECONOMY + 750
    assert quote.fare_value == charges(booking, ChargeKind.FARE) and quote.fare_value < booking.total_amount


def test_the_chart_is_what_the_admin_says(flight):
    # given the programme raised short-haul economy to 9,000 miles
    AwardPrice.objects.filter(zone__max_distance_miles=1000, cabin="economy").update(miles=9000)
    m = member()

    # then a short-haul booking costs that
    assert loyalty.award_quote(booking=held_booking(m.customer, flight)).miles == 9000


def _months_ago(months: int):  # noqa: ANN202
    from datetime import timedelta

    from django.utils import timezone

    return timezone.localdate() - timedelta(days=30 * months)


# --- Paying with miles ----------------------------------------------------------------------------


def test_miles_pay_the_fares_and_the_card_pays_the_taxes_then_the_tickets_are_issued(flight):
    # given a member with 20,000 miles and their held booking
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    taxes = charges(booking, ChargeKind.TAX)

    # when they pay with miles
    payment = pay_miles(booking)

    # then the fares are paid with 7,500 miles, one redemption entry keyed by the payment, and the taxes are still due
    booking.refresh_from_db()
    assert payment.method == PaymentMethod.MILES and payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount == charges(booking, ChargeKind.FARE) and payment.miles == SHORT_HAUL_ECONOMY
    entry = MilesEntry.objects.get(kind=EntryKind.REDEMPTION)
    assert entry.idempotency_key == f"redemption:{payment.external_key}" and entry.award_miles == -SHORT_HAUL_ECONOMY
    assert entry.booking_id == booking.pk and entry.reason == "award_ticket"
    assert balance(m) == 20000 - SHORT_HAUL_ECONOMY == ledger_sum(m)
    assert booking.status == BookingStatus.HELD and booking.balance_due == taxes

    # and when the taxes are paid by card, the booking is ticketed
    card = pay_card(booking)
    booking.refresh_from_db()
    assert card.amount == taxes and booking.status == BookingStatus.TICKETED and booking.balance_due == 0


def test_a_repeated_miles_payment_request_debits_once(flight):
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    first = services.payment_take(booking=booking, method=PaymentMethod.MILES, idempotency_key="same")
    again = services.payment_take(booking=booking, method=PaymentMethod.MILES, idempotency_key="same")
    assert again.pk == first.pk and again.replayed
    assert balance(m) == 20000 - SHORT_HAUL_ECONOMY and Payment.objects.count() == 1


def test_the_fares_cannot_be_paid_with_miles_twice(flight):
    m = member()
    credit(m, 50000)
    booking = held_booking(m.customer, flight)
    pay_miles(booking)
    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking)
    assert refused.value.code == "miles_already_used"
    assert balance(m) == 50000 - SHORT_HAUL_ECONOMY


def test_not_enough_miles_is_refused_clearly_and_records_nothing(flight):
    # given a member with 7,499 miles, one short
    m = member()
    credit(m, SHORT_HAUL_ECONOMY - 1)
    booking = held_booking(m.customer, flight)

    # when they pay with miles
    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking)

    # then 409 insufficient_miles naming both numbers; no payment, no entry, the balance untouched
    assert (refused.value.code, refused.value.status) == ("insufficient_miles", 409)
    assert "7,500" in refused.value.message and "7,499" in refused.value.message
    assert not Payment.objects.exists() and balance(m) == SHORT_HAUL_ECONOMY - 1
    assert not MilesEntry.objects.filter(kind=EntryKind.REDEMPTION).exists()


def test_someone_who_is_not_a_member_cannot_pay_with_miles(flight):
    booking = held_booking(CustomerFactory(), flight)
    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking)
    assert refused.value.code == "not_a_member" and "method" in refused.value.fields
    assert not Payment.objects.exists()


def test_miles_pay_all_the_fares_or_nothing(flight):
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking, amount=Decimal("10.00"))
    assert refused.value.code == "miles_part_payment" and "amount" in refused.value.fields
    assert balance(m) == 20000 and not Payment.objects.exists()


def test_a_booking_whose_fares_are_partly_paid_by_card_is_not_offered_miles(flight):
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    services.payment_take(
        booking=booking, method=PaymentMethod.CARD, idempotency_key="part", amount=Decimal("50.00"),
        card=services.CardDetails(number="4242424242424242", expiry_month=12, expiry_year=2099, cvv="737", holder="A"),
    )  # fmt: skip
    booking.refresh_from_db()
    assert MilesPayments().offer(booking=booking, user=None) is None
    with pytest.raises(ApplicationError):
        pay_miles(booking)
    assert balance(m) == 20000


def test_a_passenger_pays_with_miles_through_the_payments_endpoint(passenger, api_as, flight):
    # given a passenger who is a member with 10,000 miles, and their held booking
    _, customer = passenger
    m = member(customer)
    credit(m, 10000)
    booking = held_booking(customer, flight)
    client = api_as(passenger[0])

    # when they pay with miles through the API
    response = client.post(f"{BOOKINGS}{booking.record_locator}/payments/", {"method": "miles"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="miles-1")  # fmt: skip

    # then 201: the fares paid with 7,500 miles, the taxes still due
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["payment"]["method"] == "miles" and body["payment"]["miles"] == SHORT_HAUL_ECONOMY
    assert Decimal(body["booking"]["balance_due"]) == charges(booking, ChargeKind.TAX)
    assert balance(m) == 10000 - SHORT_HAUL_ECONOMY

    # and another attempt with too few miles left is a 409 in the error shape
    other = held_booking(customer, flight)
    refused = client.post(f"{BOOKINGS}{other.record_locator}/payments/", {"method": "miles"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="miles-2")  # fmt: skip
    assert_error(refused, 409, "insufficient_miles")


def test_a_passenger_cannot_pay_with_miles_for_someone_elses_booking(passenger, make_passenger, api_as, flight):
    other_user, other_customer = make_passenger("other@example.com")
    m = member(other_customer)
    credit(m, 10000)
    booking = held_booking(other_customer, flight)
    member(passenger[1])
    response = api_as(passenger[0]).post(
        f"{BOOKINGS}{booking.record_locator}/payments/", {"method": "miles"}, format="json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert_error(response, 404)
    assert balance(m) == 10000


# --- Refunds and cancellations --------------------------------------------------------------------


def test_cancelling_an_award_booking_before_ticketing_gives_the_miles_back_once(flight, django_capture_on_commit_callbacks):
    # given a member's booking whose fares were paid with miles (taxes not yet paid)
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    payment = pay_miles(booking)

    # when the passenger cancels it
    with capture_events(events) as seen, django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, reason="Plans changed")

    # then the fares go back to the miles payment and the redemption is reversed: the balance is whole again
    refund = payment.refunds.get()
    assert refund.status == RefundStatus.SUCCEEDED and refund.amount == payment.amount
    debit = MilesEntry.objects.get(kind=EntryKind.REDEMPTION)
    reversal = MilesEntry.objects.get(kind=EntryKind.REVERSAL)
    assert reversal.reverses_id == debit.pk and reversal.award_miles == SHORT_HAUL_ECONOMY
    assert balance(m) == 20000 == ledger_sum(m)
    names = [name for name, _payload in seen]
    assert "booking_cancelled" in names and "refund_completed" in names

    # and the same refund handed to the hook again credits nothing
    again = MilesPayments().refund(payment=payment, amount=refund.amount, reference=refund.external_key)
    assert again.succeeded and balance(m) == 20000 and MilesEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1


def test_an_award_ticket_cancelled_by_the_airline_returns_the_miles_and_the_card_its_taxes(flight):
    # given a ticketed award: fares in miles, taxes by card
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    miles_payment = pay_miles(booking)
    card_payment = pay_card(booking)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED

    # when the airline cancels it
    services.booking_cancel(booking=booking, involuntary=True, reason="Flight withdrawn")

    # then the card gets its taxes back, the miles come back, and nothing is owed either way
    booking.refresh_from_db()
    assert card_payment.refunds.get().amount == card_payment.amount
    assert miles_payment.refunds.get().status == RefundStatus.SUCCEEDED
    assert balance(m) == 20000 == ledger_sum(m)
    assert booking.status == BookingStatus.CANCELLED and booking.balance_due == 0
    # and, the airline cancelling, no fee is kept (a voluntary cancellation of this fare would keep the taxes)
    assert charges(booking, ChargeKind.CANCELLATION_FEE) == 0


def ticketed_award(customer, flight, *, fare_family: str = "ECO_STANDARD") -> tuple[Booking, Payment, Payment]:  # noqa: ANN001
    """A ticketed award of ``flight``: the fares paid with miles, the taxes by card."""
    booking = held_booking(customer, flight, fare_family=fare_family)
    miles_payment = pay_miles(booking)
    card_payment = pay_card(booking)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    return booking, miles_payment, card_payment


def flex_fare(fee: str) -> str:
    from tests.reservations.factories import BookingClassFactory, FareFamilyFactory

    flex = FareFamilyFactory(code="ECO_FLEX", name="Flex", refundable=True, cancellation_fee=Decimal(fee), rank=3)
    BookingClassFactory(code="Y", fare_family=flex, price_per_km=Decimal("0.4000"), minimum_fare=Decimal("99.00"))
    return flex.code


def test_cancelling_a_non_refundable_award_redeposits_all_the_miles_and_keeps_the_fee_from_the_taxes(flight):
    # given a ticketed award on the non-refundable Standard fare (fee 100.00, more than its 25.00 of taxes)
    m = member()
    credit(m, 20000)
    booking, miles_payment, card_payment = ticketed_award(m.customer, flight)
    taxes = card_payment.amount

    # when the passenger cancels it
    services.booking_cancel(booking=booking, reason="Plans changed")

    # then every mile comes back (the debit reversed as an award refund) and the fee takes the taxes, no more
    booking.refresh_from_db()
    assert miles_payment.refunds.get().amount == miles_payment.amount
    assert not card_payment.refunds.exists()
    assert charges(booking, ChargeKind.CANCELLATION_FEE) == taxes == Decimal("25.00")
    debit = MilesEntry.objects.get(kind=EntryKind.REDEMPTION)
    back = MilesEntry.objects.get(kind=EntryKind.REVERSAL)
    assert (back.reverses_id, back.reason, back.award_miles) == (debit.pk, "award_refund", SHORT_HAUL_ECONOMY)
    assert balance(m) == 20000 == ledger_sum(m)
    assert booking.status == BookingStatus.CANCELLED and booking.balance_due == 0


def test_cancelling_a_refundable_award_redeposits_all_the_miles_and_refunds_the_taxes_less_the_fee(flight):
    # given a ticketed award on a refundable fare whose 10.00 fee is less than the 25.00 of taxes
    m = member()
    credit(m, 20000)
    booking, miles_payment, card_payment = ticketed_award(m.customer, flight, fare_family=flex_fare("10.00"))

    # when the passenger cancels it
    services.booking_cancel(booking=booking, reason="Plans changed")

    # then the miles come back whole and the card its taxes less the fee
    assert miles_payment.refunds.get().amount == miles_payment.amount
    assert card_payment.refunds.get().amount == card_payment.amount - Decimal("10.00")
    assert balance(m) == 20000 == ledger_sum(m)


def test_the_cancel_quote_shows_the_miles_coming_back_and_the_fee_and_changes_nothing(flight):
    # given a ticketed award on the Standard fare
    m = member()
    credit(m, 20000)
    booking, miles_payment, card_payment = ticketed_award(m.customer, flight)

    # when the cancellation is quoted
    quote = services.booking_cancel_quote(booking=booking)

    # then it refunds the fares to the miles payment, says the miles come back, and keeps the fee from the taxes
    (refund,) = quote.refunds
    assert (refund.payment.pk, refund.amount, refund.miles) == (miles_payment.pk, miles_payment.amount, SHORT_HAUL_ECONOMY)
    assert refund.summary == "7,500 miles go back to your miles account."
    assert quote.fees == card_payment.amount and quote.redeposit == miles_payment.amount
    # and nothing changed
    assert balance(m) == 20000 - SHORT_HAUL_ECONOMY and not booking.refunds.exists()

    # and cancelling does what it said
    cancelled = services.booking_cancel(booking=booking, reason="Plans changed")
    assert {r.payment_id: r.amount for r in cancelled.refunds.all()} == {miles_payment.pk: refund.amount}
    assert balance(m) == 20000


def test_the_api_cancel_quote_and_the_portal_cancel_page_tell_the_passenger_the_miles_come_back(
    passenger, api_as, passenger_client, flight
):
    # given a passenger's ticketed award
    user, customer = passenger
    m = member(customer)
    credit(m, 20000)
    booking, miles_payment, _card = ticketed_award(customer, flight)

    # when they ask the API what cancelling would refund
    response = api_as(user).get(f"{BOOKINGS}{booking.record_locator}/cancel-quote/")

    # then the miles payment's line carries the miles and the sentence, and the fee is the taxes
    assert response.status_code == 200, response.content
    body = response.json()
    (line,) = body["refunds"]
    assert line["method"] == "miles" and line["miles"] == SHORT_HAUL_ECONOMY
    assert line["summary"] == "7,500 miles go back to your miles account."
    assert Decimal(body["fees"]) == Decimal("25.00") and Decimal(body["redeposit"]) == miles_payment.amount

    # and the portal's cancel page says so too
    page = passenger_client.get(f"/trips/{booking.record_locator}/cancel/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "7,500 miles go back to your miles account." in text
    assert "miles go back to your miles account in full" in text
    assert balance(m) == 20000 - SHORT_HAUL_ECONOMY


def test_cancelling_an_award_twice_or_replaying_its_refund_credits_the_miles_once(flight):
    # given a cancelled award: the miles are back
    m = member()
    credit(m, 20000)
    booking, miles_payment, _card = ticketed_award(m.customer, flight)
    services.booking_cancel(booking=booking, reason="Plans changed")
    assert balance(m) == 20000

    # when it is cancelled again, and its refund is handed to the miles hook again
    with pytest.raises(ApplicationError) as again:
        services.booking_cancel(booking=booking, reason="Plans changed")
    refund = miles_payment.refunds.get()
    replayed = MilesPayments().refund(payment=miles_payment, amount=refund.amount, reference=refund.external_key)

    # then the second cancellation is refused and the replay credits nothing
    assert again.value.code == "already_cancelled" and replayed.succeeded
    assert balance(m) == 20000 == ledger_sum(m)
    assert MilesEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1


def test_a_partial_refund_gives_back_its_share_of_the_miles_and_the_rest_comes_with_the_last(flight):
    # given an award payment of the fares and a refund row for a quarter of it (the booking owes that much)
    m = member()
    credit(m, 20000)
    booking = held_booking(m.customer, flight)
    payment = pay_miles(booking)
    quarter = (payment.amount / 4).quantize(Decimal("0.01"))
    Booking.objects.filter(pk=booking.pk).update(total_amount=0)
    booking.refresh_from_db()

    # when a quarter is refunded, then the rest
    services.refund_create(booking=booking, payment=payment, amount=quarter, reason="Goodwill")
    after_quarter = balance(m)
    services.refund_create(booking=booking, payment=payment, amount=payment.amount - quarter, reason="Goodwill")

    # then the first gives back a quarter of the miles (rounded down), the last all the rest: never more than was paid
    assert after_quarter == 20000 - SHORT_HAUL_ECONOMY + SHORT_HAUL_ECONOMY // 4
    assert balance(m) == 20000 == ledger_sum(m)
    assert MilesEntry.objects.filter(kind=EntryKind.REVERSAL, reverses__isnull=True).count() == 2


# --- Concurrency ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_award_payments_at_once_spend_a_balance_for_three_exactly_three_times():
    # given a member with miles for exactly three short-haul awards, and ten held bookings of theirs
    chart_ensure()
    fares()
    flight = bookable_flight()
    m = member()
    credit(m, 3 * SHORT_HAUL_ECONOMY)
    bookings = [held_booking(m.customer, flight) for _ in range(10)]
    barrier = threading.Barrier(len(bookings), timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def pay(booking_id: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            pay_miles(Booking.objects.get(pk=booking_id))
            outcome = "paid"
        except ApplicationError as refused:
            outcome = refused.code
        except Exception as error:  # noqa: BLE001 - a crash is an outcome the assertions must see
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=pay, args=(b.pk,)) for b in bookings]

    # when all ten pay with miles at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then exactly three are paid, seven are told insufficient_miles, and the balance is the sum of the entries: zero
    assert sorted(outcomes) == ["insufficient_miles"] * 7 + ["paid"] * 3, outcomes
    assert Payment.objects.filter(method=PaymentMethod.MILES, status=PaymentStatus.SUCCEEDED).count() == 3
    assert balance(m) == ledger_sum(m) == 0


# --- Portal ---------------------------------------------------------------------------------------

REDEEM = "/miles/redeem/"


def test_the_redeem_page_shows_the_chart_the_members_balance_and_the_way_to_book(passenger, passenger_client, chart):
    credit(member(passenger[1]), 12345)
    html = passenger_client.get(REDEEM).content.decode()
    assert "You have 12,345 miles to spend." in html
    assert "Short haul" in html and "Ultra long haul" in html and "7,500" in html and "160,000" in html
    assert 'href="/flights/"' in html and 'class="table-scroll"' in html


def test_the_redeem_page_invites_someone_who_is_not_a_member_to_join_when_booking(passenger, passenger_client, chart):
    html = passenger_client.get(REDEEM).content.decode()
    assert "You are not a member of Aurora Miles yet" in html and "miles to spend" not in html


def test_the_redeem_page_needs_a_login(client, chart):
    response = client.get(REDEEM)
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_redeem_page_reads_a_fixed_number_of_queries(passenger, passenger_client, chart, django_assert_max_num_queries):
    credit(member(passenger[1]), 100)
    passenger_client.get(REDEEM)
    with django_assert_max_num_queries(12):
        assert passenger_client.get(REDEEM).status_code == 200


def test_the_payment_page_offers_miles_with_the_price_and_balance_and_pays_with_them(passenger, passenger_client, flight):
    # given a member with 9,000 miles and their held booking
    _, customer = passenger
    m = member(customer)
    credit(m, 9000)
    booking = held_booking(customer, flight)

    # when they open the payment page
    page = passenger_client.get(f"/trips/{booking.record_locator}/pay/").content.decode()

    # then miles are offered for the fares at 7,500 miles, with their balance
    assert "Pay with Miles" in page and "for 7,500 miles" in page and "Your balance: 9,000 miles." in page
    key = re.search(r'name="method" value="miles">\s*<input type="hidden" name="idempotency_key" value="([^"]+)"', page).group(1)

    # and pressing the button pays the fares with miles and leaves the taxes for the card
    response = passenger_client.post(f"/trips/{booking.record_locator}/pay/", {"method": "miles", "idempotency_key": key})
    booking.refresh_from_db()
    assert response.status_code == 302 and balance(m) == 1500
    assert booking.balance_due == charges(booking, ChargeKind.TAX) and booking.status == BookingStatus.HELD
    follow = passenger_client.get(f"/trips/{booking.record_locator}/pay/").content.decode()
    assert "Pay with Miles" not in follow and "Please pay the rest by card" in follow


def test_the_payment_page_shows_miles_greyed_out_when_the_balance_is_short(passenger, passenger_client, flight):
    _, customer = passenger
    credit(member(customer), 100)
    booking = held_booking(customer, flight)
    page = passenger_client.get(f"/trips/{booking.record_locator}/pay/").content.decode()
    assert "That is not enough for this trip." in page and 'name="method"' not in page


def test_the_award_chart_is_edited_in_the_admin(admin_client, chart):
    from loyalty.models import AwardZone

    zone = AwardZone.objects.get(max_distance_miles=1000)
    assert admin_client.get("/office/admin/loyalty/awardzone/").status_code == 200
    page = admin_client.get(f"/office/admin/loyalty/awardzone/{zone.pk}/change/").content.decode()
    assert "7500" in page and "Short haul" in page
