"""reservations' customer attributes: computed from flown coupons in SQL, for any number of customers in one query."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import registry
from crm.errors import ApplicationError
from crm.models import Customer
from reservations.models import Coupon, CouponStatus
from tests.crm.factories import CustomerFactory
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.factories import RouteFactory, airport

pytestmark = pytest.mark.django_db


def flown(customer: Customer, *, days_ago: int, origin: str = "LHR", destination: str = "CDG", cabin: str = "economy"):
    """``customer`` flew this route ``days_ago`` days ago, as a traveller on someone's booking."""
    route = RouteFactory(origin=airport(origin), destination=airport(destination))
    flight = flight_in(-24 * days_ago, route=route)
    booking = ticketed_booking(
        flight=flight, cabin=cabin, passengers=[{"given_name": "A", "family_name": "B", "customer": customer}]
    )
    Coupon.objects.filter(ticket__booking=booking).update(status=CouponStatus.FLOWN)
    return flight


def test_reservations_registers_typed_attributes():
    found = {a.key: a for a in registry.attributes()}
    assert found["last_flight_date"].type == registry.DATE
    assert found["flights_in_last_months"].type == registry.INTEGER
    assert [p.name for p in found["flights_in_last_months"].params] == ["months"]
    assert found["routes_flown"].type == registry.LIST and found["cabins_flown"].type == registry.LIST
    assert {"contains", "overlap"} <= set(found["routes_flown"].lookups)


def test_attributes_give_each_customer_their_own_flying():
    # given a frequent traveller, an occasional one, and someone who never flew
    frequent, occasional, never = CustomerFactory(), CustomerFactory(), CustomerFactory()
    latest = flown(frequent, days_ago=10, origin="CDG", destination="LHR", cabin="business")
    flown(frequent, days_ago=40)
    flown(frequent, days_ago=500, origin="LHR", destination="AMS")
    old = flown(occasional, days_ago=400)
    # and a coupon that was never flown does not count
    ticketed_booking(flight=flight_in(48), passengers=[{"given_name": "A", "family_name": "B", "customer": never}])
    # when the customers are annotated with every reservations attribute
    rows = {
        c.pk: c
        for c in registry.annotate(
            Customer.objects.filter(pk__in=[frequent.pk, occasional.pk, never.pk]),
            "last_flight_date",
            registry.attribute("flights_in_last_months").bind(months=12),
            registry.attribute("flights_in_last_months").bind(alias="flights_3y", months=36),
            "routes_flown",
            "cabins_flown",
        )
    }
    # then each carries their own values
    assert rows[frequent.pk].last_flight_date == latest.service_date
    assert rows[frequent.pk].flights_in_last_months__months_12 == 2
    assert rows[frequent.pk].flights_3y == 3
    assert rows[frequent.pk].routes_flown == ["CDG-LHR", "LHR-AMS", "LHR-CDG"]
    assert rows[frequent.pk].cabins_flown == ["business", "economy"]
    assert rows[occasional.pk].last_flight_date == old.service_date
    assert rows[occasional.pk].flights_in_last_months__months_12 == 0
    assert rows[occasional.pk].flights_3y == 1
    assert rows[never.pk].last_flight_date is None
    assert rows[never.pk].flights_in_last_months__months_12 == 0
    assert rows[never.pk].routes_flown == [] and rows[never.pk].cabins_flown == []


def test_a_segment_filter_on_an_attribute_is_a_plain_queryset_filter():
    recent, lapsed = CustomerFactory(), CustomerFactory()
    flown(recent, days_ago=5)
    flown(lapsed, days_ago=800)
    cutoff = timezone.localdate() - timedelta(days=365)
    found = registry.annotate(Customer.objects.all(), "last_flight_date").filter(last_flight_date__gte=cutoff)
    assert list(found.values_list("pk", flat=True)) == [recent.pk]
    flew_cdg = registry.annotate(Customer.objects.all(), "routes_flown").filter(routes_flown__contains=["LHR-CDG"])
    assert set(flew_cdg.values_list("pk", flat=True)) == {recent.pk, lapsed.pk}


def _queries_to_annotate(customers: list[Customer]) -> int:
    uses = ["last_flight_date", registry.attribute("flights_in_last_months").bind(months=6), "routes_flown", "cabins_flown"]
    with CaptureQueriesContext(connection) as queries:
        rows = list(registry.annotate(Customer.objects.filter(pk__in=[c.pk for c in customers]), *uses))
    assert len(rows) == len(customers)
    return len(queries)


def test_annotating_one_or_fifty_customers_costs_the_same_single_query():
    customers = CustomerFactory.create_batch(50)
    for customer in customers[:5]:
        flown(customer, days_ago=20)
    assert _queries_to_annotate(customers[:1]) == _queries_to_annotate(customers) == 1


@pytest.mark.parametrize("params", [{"months": 0}, {"months": "twelve"}, {"months": 5000}, {"weeks": 2}, {"months": True}])
def test_bad_attribute_parameters_are_refused_with_the_parameter_named(params):
    with pytest.raises(ApplicationError) as refused:
        registry.attribute("flights_in_last_months").bind(**params)
    assert refused.value.code == "invalid_attribute"
    assert all(key.startswith("flights_in_last_months.") for key in refused.value.fields)


def test_an_unknown_attribute_is_a_clear_error():
    with pytest.raises(ApplicationError) as refused:
        registry.annotate(Customer.objects.all(), "shoe_size")
    assert refused.value.code == "unknown_attribute"
