"""Promo codes at booking: priced by marketing's discount hook, refused with a reason under
``discount_code``, redeemed once inside booking_create, given back when the hold lapses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.errors import ApplicationError
from marketing import services as marketing
from marketing.discounts import PromoCodes
from marketing.models import PromoCode, PromoCodeStatus
from reservations import services
from reservations.models import Booking, BookingStatus, ChargeKind
from tests.crm.factories import CustomerFactory
from tests.marketing.offers_support import book, code_for, offer
from tests.reservations.api_support import bookable_flight, fares
from tests.reservations.portal_support import adult, book_url, departure_in, make_flight, search_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


def fare_total(booking: Booking) -> Decimal:
    return sum(c.amount for c in booking.charges.filter(kind=ChargeKind.FARE))


def refusal(flight, code: str, **kwargs) -> ApplicationError:  # noqa: ANN001
    with pytest.raises(ApplicationError) as refused:
        book(flight, code=code, **kwargs)
    return refused.value


# --- Codes ----------------------------------------------------------------------------------------


def test_codes_use_an_unambiguous_alphabet_and_are_unique():
    # given an offer
    spring = offer()
    # when 200 codes are issued
    codes = marketing.promo_codes_issue(offer=spring, count=200)
    # then they are 200 distinct 10-character codes without 0, O, 1 or I
    values = [c.code for c in codes]
    assert len(set(values)) == 200
    assert all(len(v) == 10 and not set(v) & set("0O1I") for v in values)


def test_issuing_twice_to_the_same_customer_returns_the_same_code():
    # given an offer and two customers, one of whom already has a code
    spring = offer()
    ada, grace = CustomerFactory(), CustomerFactory()
    first = marketing.promo_codes_issue(offer=spring, customers=[ada])
    # when codes are issued to both
    again = marketing.promo_codes_issue(offer=spring, customers=[ada, grace])
    # then Ada keeps her code and Grace gets one of her own: two rows in all
    by_customer = {c.customer_id: c.code for c in again}
    assert by_customer[ada.pk] == first[0].code
    assert by_customer[grace.pk] != first[0].code
    assert PromoCode.objects.filter(offer=spring).count() == 2


def test_an_offer_with_bad_fields_is_refused_field_by_field():
    now = timezone.now()
    with pytest.raises(ApplicationError) as refused:
        marketing.offer_create(name="", kind="amount", value=Decimal("0"), valid_from=now, valid_until=now)
    assert set(refused.value.fields) >= {"name", "value", "currency", "valid_until"}


# --- Discount at booking --------------------------------------------------------------------------


def test_a_booking_with_a_code_gets_the_discount_and_the_code_is_redeemed_once(flight):
    # given a 10% code
    code = code_for(offer())
    # when a booking uses it
    booking = book(flight, code=code)
    # then the fares are 10% lower through discount lines and the code names the booking
    discounts = list(booking.charges.filter(kind=ChargeKind.DISCOUNT))
    assert sum(c.amount for c in discounts) == -(fare_total(booking) * Decimal("0.10")).quantize(Decimal("0.01"))
    assert all(c.code == code and c.description == "Promotion: Spring sale" for c in discounts)
    promo = PromoCode.objects.get(code=code)
    assert promo.status == PromoCodeStatus.REDEEMED and promo.redeemed_record_locator == booking.record_locator
    # and a second booking with it is refused, nothing booked
    before = Booking.objects.count()
    assert refusal(flight, code).fields == {"discount_code": ["This code has already been used."]}
    assert Booking.objects.count() == before


def test_an_amount_code_takes_its_amount_and_codes_are_read_without_case_or_blanks(flight):
    code = code_for(offer(kind="amount", value=Decimal("25.00"), currency="EUR"))
    booking = book(flight, code=f"  {code.lower()} ")
    assert sum(c.amount for c in booking.charges.filter(kind=ChargeKind.DISCOUNT)) == Decimal("-25.00")


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"valid_from": timezone.now() - timedelta(days=9), "valid_until": timezone.now() - timedelta(days=1)},
         "promo_expired", "This code has expired."),
        ({"kind": "bonus_miles", "value": Decimal("500")},
         "promo_needs_member",
         "Bonus miles need a frequent flyer number: join the programme, sign in, and use the code again."),
        ({"minimum_spend": Decimal("100000"), "currency": "EUR"},
         "promo_minimum_spend", "This code needs a booking of at least 100000.00 EUR."),
        ({"currency": "USD", "kind": "amount"}, "promo_wrong_currency", "This code is valid only for bookings paid in USD."),
        ({"routes": ["AAA-BBB"]}, "promo_wrong_route", "This code is not valid on these flights."),
        ({"origins": ["ZZZ"]}, "promo_wrong_route", "This code is not valid on these flights."),
        ({"cabins": ["business"]}, "promo_wrong_cabin", "This code is not valid in this cabin."),
    ],
)  # fmt: skip
def test_each_reason_a_code_cannot_be_used_is_said_under_discount_code(flight, overrides, error, message):
    # given a code of an offer that does not fit this booking
    code = code_for(offer(**overrides))
    # when it is used, then the booking is refused with the reason and nothing is booked
    refused = refusal(flight, code)
    assert (refused.code, refused.fields) == (error, {"discount_code": [message]})
    assert not Booking.objects.exists()
    assert PromoCode.objects.get(code=code).status == PromoCodeStatus.ISSUED


def test_a_code_not_yet_valid_is_refused(flight):
    code = code_for(offer(valid_from=timezone.now() + timedelta(days=2), valid_until=timezone.now() + timedelta(days=9)))
    refused = refusal(flight, code)
    assert refused.code == "promo_not_yet_valid" and refused.fields["discount_code"][0].startswith("This code can be used from")


def test_a_withdrawn_code_is_refused(flight):
    code = code_for(offer())
    PromoCode.objects.filter(code=code).update(status=PromoCodeStatus.VOID)
    assert refusal(flight, code).fields == {"discount_code": ["This code has been withdrawn."]}


def test_a_code_on_the_right_route_and_cabin_is_accepted(flight):
    route = f"{flight.origin.iata_code}-{flight.destination.iata_code}"
    code = code_for(offer(routes=[route], cabins=["economy"], destinations=[flight.destination.iata_code]))
    assert book(flight, code=code).charges.filter(kind=ChargeKind.DISCOUNT).exists()


def test_a_code_issued_to_one_customer_is_refused_to_anyone_else(flight):
    # given a code issued to Ada
    ada, grace = CustomerFactory(), CustomerFactory()
    code = code_for(offer(), customer=ada)
    message = {"discount_code": ["This code was issued to someone else; sign in as its recipient to use it."]}
    # when Grace, or someone not signed in, uses it, then it is refused
    assert refusal(flight, code, customer=grace).fields == message
    assert refusal(flight, code).fields == message
    # and Ada may use it
    assert book(flight, code=code, customer=ada).charges.filter(kind=ChargeKind.DISCOUNT).exists()


def test_a_code_that_is_not_ours_is_left_to_reservations(flight):
    assert refusal(flight, "NOSUCHCODE").code == "unknown_discount_code"


def test_a_lapsed_hold_gives_the_code_back(flight):
    # given a booking held with a code, whose hold has run out
    code = code_for(offer())
    booking = book(flight, code=code)
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    # when the hold expires
    services.booking_expire_hold(booking_id=booking.pk)
    # then the code is usable again, by another booking
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.EXPIRED
    promo = PromoCode.objects.get(code=code)
    assert promo.status == PromoCodeStatus.ISSUED and promo.released_at is not None
    other = book(flight, code=code, n=1)
    assert PromoCode.objects.get(code=code).redeemed_record_locator == other.record_locator


def test_the_portal_pay_page_shows_the_discount_line(flight, passenger, passenger_client):
    # given the passenger booked with a 10% code
    user, customer = passenger
    code = code_for(offer(), customer=customer)
    booking = book(flight, code=code, customer=customer)
    off = -sum(c.amount for c in booking.charges.filter(kind=ChargeKind.DISCOUNT))
    # when they open the payment page
    page = passenger_client.get(reverse("reservations_portal:pay", args=[booking.record_locator]))
    # then it names the code and its discount, and asks for the lowered total
    text = page.content.decode()
    assert page.status_code == 200 and f"Discount code {code}:" in text
    assert str(off) in text and page.context["amount"] == booking.total_amount


def test_cancelling_a_held_booking_gives_the_code_back(flight):
    # given a held, unpaid booking made with a code
    code = code_for(offer())
    booking = book(flight, code=code)
    # when it is cancelled before ticketing
    services.booking_cancel(booking=booking, reason="Changed plans")
    # then the code is issued again and no longer names the booking
    promo = PromoCode.objects.get(code=code)
    assert (promo.status, promo.redeemed_record_locator, promo.redeemed_booking_id) == (PromoCodeStatus.ISSUED, "", None)


def test_a_code_of_another_booking_is_not_released_by_this_one(flight):
    # given a code redeemed by one booking
    code = code_for(offer())
    first = book(flight, code=code)
    other = book(flight, n=1)
    # when another booking offers the same code back
    PromoCodes().release(code=code, booking=other)
    # then the code stays with the booking that used it
    assert PromoCode.objects.get(code=code).redeemed_record_locator == first.record_locator


def test_merging_duplicates_keeps_one_code_per_offer_and_withdraws_the_other():
    # given two records of one person, each with a code of the same offer, and the duplicate one of another
    from crm.services import customer_merge

    spring, autumn = offer(), offer(name="Autumn")
    survivor, loser = CustomerFactory(), CustomerFactory()
    kept = code_for(spring, customer=survivor)
    clash, moved = code_for(spring, customer=loser), code_for(autumn, customer=loser)
    # when they are merged
    customer_merge(survivor=survivor, loser=loser)
    # then the survivor holds its own spring code and the autumn code; the duplicate spring code is withdrawn
    assert set(PromoCode.objects.filter(customer=survivor).values_list("code", flat=True)) == {kept, moved}
    withdrawn = PromoCode.objects.get(code=clash)
    assert (withdrawn.customer_id, withdrawn.status) == (None, PromoCodeStatus.VOID)


@pytest.fixture
def portal_flight(db):
    services.fares_ensure()
    return make_flight("LHR", "CDG", at=departure_in(5))


def test_the_portal_books_with_the_passengers_own_code_and_refuses_someone_elses(passenger, passenger_client, portal_flight):
    # given a code issued to the signed-in passenger and one issued to someone else
    _user, customer = passenger
    spring = offer()
    mine, theirs = code_for(spring, customer=customer), code_for(spring, customer=CustomerFactory())
    url = book_url(search_params(portal_flight), (portal_flight, "ECO_LIGHT"))
    form = {"contact_email": "ada@example.com", **adult(1, "Ada", "Lovelace")}
    # when they book with the other person's code, then the form says why, next to the field, and nothing is booked
    refused = passenger_client.post(url, {**form, "discount_code": theirs})
    assert refused.status_code == 200 and "This code was issued to someone else" in refused.content.decode()
    assert not Booking.objects.exists()
    # when they book with their own, then the booking is made with the discount and goes to payment
    booked = passenger_client.post(url, {**form, "discount_code": mine.lower()})
    booking = Booking.objects.get()
    assert booked.status_code == 302 and booking.charges.filter(kind=ChargeKind.DISCOUNT, code=mine).exists()
    assert PromoCode.objects.get(code=mine).redeemed_record_locator == booking.record_locator
