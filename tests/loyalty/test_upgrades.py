"""Upgrading a flight to a higher cabin with miles: the chart's difference between the cabins, paid for
everything the change adds, all or nothing; through the service and POST /api/v1/loyalty/upgrades/."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.errors import ApplicationError
from loyalty.models import EntryKind, Member, MilesEntry
from loyalty.services.upgrades import upgrade_with_miles
from reservations import services
from reservations.models import Booking, BookingStatus, FlightCabin, PaymentMethod, SegmentStatus
from tests.loyalty.factories import credit, member
from tests.loyalty.redemption_support import chart_fixture, flight_fixture, held_booking, pay_card  # noqa: F401
from tests.reservations.api_support import assert_error
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory

pytestmark = pytest.mark.django_db

UPGRADES = "/api/v1/loyalty/upgrades/"
# Short haul: economy 7,500, business 20,000 a seat.
ECONOMY_TO_BUSINESS = 12500


@pytest.fixture
def business(db):
    family = FareFamilyFactory(code="BUS_STANDARD", name="Business", cabin="business", rank=1)
    BookingClassFactory(code="J", fare_family=family, price_per_km=Decimal("0.9000"), minimum_fare=Decimal("250.00"))
    return family


def ticketed(customer, flight) -> Booking:  # noqa: ANN001
    booking = held_booking(customer, flight)
    pay_card(booking)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    return booking


def seats(flight, cabin: str) -> int:  # noqa: ANN001
    return FlightCabin.objects.get(flight=flight, cabin=cabin).available


def balance(m: Member) -> int:
    m.refresh_from_db(fields=["award_balance"])
    return m.award_balance


def test_an_upgrade_moves_the_party_up_and_miles_pay_all_it_adds(flight, business):
    # given a member's ticketed economy booking and 20,000 miles
    m = member()
    credit(m, 20000)
    booking = ticketed(m.customer, flight)
    segment = booking.segments.get()
    economy, business_seats = seats(flight, "economy"), seats(flight, "business")

    # when they upgrade the flight to business with miles
    payment = upgrade_with_miles(booking=booking, segment=segment, cabin="business")

    # then the party flies business on the same flight, 12,500 miles paid everything, nothing is owed
    booking.refresh_from_db()
    now = booking.segments.get(status=SegmentStatus.CONFIRMED)
    assert (now.flight_id, now.cabin, now.fare_family.code) == (flight.pk, "business", "BUS_STANDARD")
    assert payment.method == PaymentMethod.MILES and payment.miles == ECONOMY_TO_BUSINESS
    assert balance(m) == 20000 - ECONOMY_TO_BUSINESS
    entry = MilesEntry.objects.get(kind=EntryKind.REDEMPTION)
    assert entry.reason == "upgrade" and entry.details["from_cabin"] == "economy" and entry.details["to_cabin"] == "business"
    assert booking.balance_due == 0 and booking.status == BookingStatus.TICKETED
    assert (seats(flight, "economy"), seats(flight, "business")) == (economy + 1, business_seats - 1)


def test_too_few_miles_for_an_upgrade_changes_nothing(flight, business):
    m = member()
    credit(m, ECONOMY_TO_BUSINESS - 1)
    booking = ticketed(m.customer, flight)
    with pytest.raises(ApplicationError) as refused:
        upgrade_with_miles(booking=booking, segment=booking.segments.get(), cabin="business")
    assert refused.value.code == "insufficient_miles"
    assert booking.segments.get().cabin == "economy" and booking.segments.count() == 1
    assert balance(m) == ECONOMY_TO_BUSINESS - 1


def test_an_upgrade_must_go_up(flight, business):
    m = member()
    credit(m, 50000)
    booking = ticketed(m.customer, flight)
    with pytest.raises(ApplicationError) as refused:
        upgrade_with_miles(booking=booking, segment=booking.segments.get(), cabin="economy")
    assert refused.value.code == "not_an_upgrade" and balance(m) == 50000


def test_cancelling_an_upgraded_booking_by_the_airline_gives_the_upgrade_miles_back(flight, business):
    m = member()
    credit(m, 20000)
    booking = ticketed(m.customer, flight)
    upgrade_with_miles(booking=booking, segment=booking.segments.get(), cabin="business")
    services.booking_cancel(booking=booking, involuntary=True, reason="Flight withdrawn")
    assert balance(m) == 20000


def test_a_passenger_upgrades_their_own_booking_through_the_api(passenger, api_as, flight, business):
    # given a passenger who is a member with 20,000 miles and a ticketed booking
    user, customer = passenger
    m = member(customer)
    credit(m, 20000)
    booking = ticketed(customer, flight)

    # when they ask for business on its first flight
    response = api_as(user).post(
        UPGRADES, {"record_locator": booking.record_locator, "segment": 1, "cabin": "business"}, format="json"
    )

    # then 201 with the miles paid and the new cabin
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["cabin"], body["miles"], body["payment"]["method"]) == ("business", ECONOMY_TO_BUSINESS, "miles")
    assert balance(m) == 20000 - ECONOMY_TO_BUSINESS


def test_the_api_refuses_someone_elses_booking_and_bad_input_without_changing_anything(
    passenger, make_passenger, api_as, flight, business
):
    # given another customer's booking
    _, other = make_passenger("other@example.com")
    m = member(other)
    credit(m, 20000)
    booking = ticketed(other, flight)
    client = api_as(passenger[0])

    # then a passenger reaching for it gets a 404, bad input a 400, and nobody's miles or seats move
    assert_error(
        client.post(UPGRADES, {"record_locator": booking.record_locator, "segment": 1, "cabin": "business"}, format="json"), 404
    )
    assert_error(client.post(UPGRADES, {"record_locator": "nope", "segment": 1, "cabin": "moon"}, format="json"), 400)
    assert_error(api_as(passenger[0]).post(UPGRADES, {}, format="json"), 400)
    assert balance(m) == 20000 and booking.segments.get().cabin == "economy"


def test_the_api_says_clearly_when_there_are_too_few_miles(passenger, api_as, flight, business):
    user, customer = passenger
    credit(member(customer), 100)
    booking = ticketed(customer, flight)
    response = api_as(user).post(
        UPGRADES, {"record_locator": booking.record_locator, "segment": 1, "cabin": "business"}, format="json"
    )
    error = assert_error(response, 409, "insufficient_miles")
    assert "12,500" in error["message"]


def test_anonymous_callers_are_refused(api_client):
    assert api_client.post(UPGRADES, {}, format="json").status_code in (401, 403)


def test_the_upgrade_endpoint_is_in_the_schema_with_its_errors(tmp_path, db):
    import yaml
    from django.core.management import call_command

    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    operation = yaml.safe_load(path.read_text())["paths"][UPGRADES]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/UpgradeInputRequest")
    assert {"201", "400", "401", "403", "404", "409"} <= set(operation["responses"])


# --- Portal ---------------------------------------------------------------------------------------


def test_the_portal_offers_each_higher_cabin_with_its_price_and_upgrades_with_one_button(
    passenger, passenger_client, flight, business
):
    # given a passenger member with 20,000 miles and a ticketed economy booking
    _, customer = passenger
    m = member(customer)
    credit(m, 20000)
    booking = ticketed(customer, flight)
    url = f"/miles/upgrade/{booking.record_locator}/"

    # when they open the upgrade page, and the redeem page links to it
    page = passenger_client.get(url).content.decode()
    assert url in passenger_client.get("/miles/redeem/").content.decode()

    # then business is offered at 12,500 miles (the aircraft has no premium economy or first)
    assert "Business for 12,500 miles" in page and "Premium economy" not in page and "You can spend 20,000 miles." in page

    # and pressing it upgrades the flight and goes back to the trip
    response = passenger_client.post(url, {"segment": "1", "cabin": "business"})
    assert response.status_code == 302 and response["Location"] == f"/trips/{booking.record_locator}/"
    assert booking.segments.get(status=SegmentStatus.CONFIRMED).cabin == "business"
    assert balance(m) == 20000 - ECONOMY_TO_BUSINESS


def test_the_portal_upgrade_refusal_is_a_message_and_changes_nothing(passenger, passenger_client, flight, business):
    _, customer = passenger
    credit(member(customer), 100)
    booking = ticketed(customer, flight)
    url = f"/miles/upgrade/{booking.record_locator}/"
    assert "disabled" in passenger_client.get(url).content.decode()
    response = passenger_client.post(url, {"segment": "1", "cabin": "business"}, follow=True)
    assert "This needs 12,500 miles; 100 are available." in response.content.decode()
    assert booking.segments.get().cabin == "economy"
    response = passenger_client.post(url, {"segment": "x", "cabin": "moon"}, follow=True)
    assert response.status_code == 200 and booking.segments.count() == 1


def test_someone_elses_booking_has_no_upgrade_page(passenger_client, make_passenger, flight, business):
    _, other = make_passenger("other@example.com")
    booking = ticketed(other, flight)
    assert passenger_client.get(f"/miles/upgrade/{booking.record_locator}/").status_code == 404
    assert (
        passenger_client.post(f"/miles/upgrade/{booking.record_locator}/", {"segment": "1", "cabin": "business"}).status_code
        == 404
    )


def test_the_upgrade_page_reads_a_fixed_number_of_queries(
    passenger, passenger_client, flight, business, django_assert_max_num_queries
):
    _, customer = passenger
    credit(member(customer), 100)
    booking = ticketed(customer, flight)
    url = f"/miles/upgrade/{booking.record_locator}/"
    passenger_client.get(url)
    with django_assert_max_num_queries(20):
        assert passenger_client.get(url).status_code == 200
