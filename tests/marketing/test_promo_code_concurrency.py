"""A single-use promo code raced by twenty bookings at once, on real PostgreSQL: one gets it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from crm.errors import ApplicationError
from marketing.models import PromoCode, PromoCodeStatus
from reservations.models import Booking, ChargeKind
from tests.marketing.offers_support import book, code_for, offer
from tests.reservations.api_support import bookable_flight, fares
from tests.reservations.test_concurrency import one_at_a_time  # noqa: F401 - the machine-wide lock fixture

CLIENTS = 20
TIMEOUT = 120


@pytest.mark.django_db(transaction=True)
def test_twenty_bookings_racing_for_one_code_give_it_to_exactly_one(one_at_a_time):  # noqa: F811
    # given a flight with room for everyone and one single-use code
    fares()
    flight = bookable_flight()
    code = code_for(offer())
    barrier = threading.Barrier(CLIENTS, timeout=TIMEOUT)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            try:
                outcome = ("booked", book(flight, code=code, n=n).record_locator)
            except ApplicationError as error:
                outcome = ("refused", f"{error.code} {error.fields}")
        except Exception as error:  # noqa: BLE001 - a crash is an outcome the assertions must see
            outcome = ("crashed", repr(error))
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    # when twenty clients book with it at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    # then one booking is made, with the discount; the other nineteen are refused and booked nothing
    booked = [value for kind, value in outcomes if kind == "booked"]
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(booked) == 1, outcomes
    assert refused == ["promo_used {'discount_code': ['This code has already been used.']}"] * (CLIENTS - 1), outcomes
    assert list(Booking.objects.values_list("record_locator", flat=True)) == booked
    assert Booking.objects.get().charges.filter(kind=ChargeKind.DISCOUNT, code=code).exists()
    promo = PromoCode.objects.get(code=code)
    assert (promo.status, promo.redeemed_record_locator) == (PromoCodeStatus.REDEEMED, booked[0])
