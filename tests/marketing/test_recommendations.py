"""Next best offer: where the customer flew most but not lately, else what their home airport flies, else the network."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Customer
from marketing import services
from marketing.models import Delivery
from marketing.services.recommendations import AGAIN, POPULAR, POPULAR_FROM_HOME
from tests.crm.factories import CustomerFactory
from tests.loyalty.flights import checked_in_booking, land, long_haul_flight, traveller
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db


def flew(customers: list[Customer], origin: str, destination: str, days_ago: int) -> None:
    """Each of ``customers`` (or as many guests, given ints) flew ``origin``-``destination`` ``days_ago`` days ago."""
    departure = (timezone.now() - timedelta(days=days_ago)).replace(second=0, microsecond=0)
    flight = long_haul_flight(origin, destination, departure=departure)
    checked_in_booking(flight=flight, passengers=[traveller(customer=c) for c in customers])
    land(flight)


def guests(n: int) -> list:
    return [None] * n


def test_the_destination_flown_most_but_not_lately_is_suggested_again():
    # Given a Londoner who flew to Shanghai three times long ago, to New York once, and to Paris last month
    ada = CustomerFactory(home_airport="LHR")
    for days in (300, 250, 220):
        flew([ada], "LHR", "PVG", days)
    flew([ada], "LHR", "JFK", 400)
    for _time in range(4):
        flew([ada], "LHR", "CDG", 30)
    # When the next best offer is asked for
    found = services.next_best_offer(customer=ada)
    # Then it is Shanghai again (Paris was visited lately, however often), with the reason explained
    assert (found.destination, found.reason, found.data["times"]) == ("PVG", AGAIN, 3)
    assert services.recommendation_reason_text(found.reason, found.data) == "Flew to PVG 3 times; not in the last 6 months."


def test_a_customer_without_history_gets_what_their_home_airport_flies_most():
    # Given travellers from London to New York (two) and Paris (one) lately, and more from Madrid to Barcelona
    flew(guests(2), "LHR", "JFK", 20)
    flew(guests(1), "LHR", "CDG", 10)
    flew(guests(3), "MAD", "BCN", 10)
    grace = CustomerFactory(home_airport="LHR")
    # When the next best offer is asked for a Londoner who never flew
    found = services.next_best_offer(customer=grace)
    # Then it is New York, popular from London
    assert (found.destination, found.reason, found.data["travellers"]) == ("JFK", POPULAR_FROM_HOME, 2)
    assert services.recommendation_reason_text(found.reason, found.data) == (
        "The most flown destination from LHR in the last 90 days (2 travellers)."
    )


def test_without_history_or_flights_from_home_the_network_favourite_is_suggested():
    # Given flights to Barcelona (three travellers) and New York (one) lately, none from Zurich
    flew(guests(3), "MAD", "BCN", 10)
    flew(guests(1), "LHR", "JFK", 10)
    zurich = CustomerFactory(home_airport="ZRH")
    # When the next best offer is asked for
    found = services.next_best_offer(customer=zurich)
    # Then it is Barcelona, the network's most flown destination
    assert (found.destination, found.reason) == ("BCN", POPULAR)
    assert "most flown destination" in services.recommendation_reason_text(found.reason, found.data)


def test_the_home_airport_is_never_suggested():
    # Given a Londoner who flew home to London many times long ago, and London the most flown destination lately
    ada = CustomerFactory(home_airport="LHR")
    for days in (400, 300, 250):
        flew([ada], "CDG", "LHR", days)
    flew(guests(5), "JFK", "LHR", 10)
    flew(guests(1), "JFK", "MIA", 10)
    # When the next best offer is asked for, alone and in a batch
    alone = services.next_best_offer(customer=ada)
    batch = services.next_best_offers(customer_ids=[ada.pk])[ada.pk]
    # Then it is somewhere else
    assert alone.destination == batch.destination == "MIA" and alone.reason == POPULAR


def test_nothing_is_suggested_when_nothing_is_known():
    assert services.next_best_offer(customer=CustomerFactory(home_airport="LHR")) is None
    assert services.next_best_offers(customer_ids=[]) == {}


def test_offers_for_many_customers_cost_the_same_queries_as_for_one(django_assert_max_num_queries):
    # Given 20 customers from several airports, some with history
    homes = ["LHR", "CDG", "JFK", "PVG", "MAD"]
    customers = [CustomerFactory(home_airport=homes[n % 5]) for n in range(20)]
    flew(customers[:6], "LHR", "PVG", 300)
    flew(customers[6:9], "CDG", "JFK", 10)
    # When the offers are asked for one customer, then for all twenty
    with django_assert_max_num_queries(4):
        one = services.next_best_offers(customer_ids=[customers[0].pk])
    with django_assert_max_num_queries(4):
        twenty = services.next_best_offers(customer_ids=[c.pk for c in customers])
    # Then each batch is at most four queries, and the answers agree with the one-by-one answer
    assert one[customers[0].pk] == twenty[customers[0].pk] == services.next_best_offer(customer=customers[0])
    assert all(twenty.get(c.pk) == services.next_best_offer(customer=c) for c in customers)
    assert len(twenty) >= 15


def test_a_send_uses_and_records_the_suggestion(django_capture_on_commit_callbacks):
    # Given a customer who flew to Shanghai long ago, and a campaign that names the destination
    from django.core import mail

    ada = reachable(home_airport="LHR")
    flew([ada], "LHR", "PVG", 300)
    c = campaign(text_en="Fly to {{ destination }} again")
    # When it is sent
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_run_start(campaign=c, occurrence=timezone.localdate())
    # Then the message names Shanghai and the delivery records why, to compare with the holdout later
    assert "Fly to PVG again" in mail.outbox[0].body
    delivery = Delivery.objects.get(customer=ada)
    assert (delivery.recommended_destination, delivery.recommendation_reason) == ("PVG", AGAIN)


@pytest.mark.parametrize("client_fixture", ["marketer_client", "agent_client"])
def test_the_customer_360_shows_the_next_best_offer_and_why(request, client_fixture):
    # Given a customer who flew to Shanghai twice long ago
    ada = CustomerFactory(home_airport="LHR")
    for days in (300, 250):
        flew([ada], "LHR", "PVG", days)
    # When a marketer or an agent opens the customer 360
    page = request.getfixturevalue(client_fixture).get(reverse("office:customer_detail", args=[ada.customer_number]))
    # Then it shows the destination and the reason
    html = page.content.decode()
    assert page.status_code == 200
    assert "Next best offer" in html and "PVG" in html
    assert "Flew to PVG 2 times; not in the last 6 months." in html
