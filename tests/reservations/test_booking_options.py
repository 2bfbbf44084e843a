"""Booking options (reservations.hooks.booking_options): another app adds a tick box to the portal's booking
form, shown only to the bookers it is offered to, and applied inside booking_create when it was ticked."""

from __future__ import annotations

import pytest

from crm.errors import ApplicationError
from reservations import hooks, services
from reservations.models import Booking, Channel
from tests.reservations.portal_support import adult, book_url, departure_in, fares_fixture, hold, make_flight, search_params  # noqa: F401

pytestmark = pytest.mark.django_db


class Newsletter:
    """A stand-in for a downstream app's option: offered to bookers not yet signed up, records each booking."""

    def __init__(self) -> None:
        self.signed_up: set[int] = set()
        self.calls: list[tuple[str, int | None, bool]] = []
        self.refuse = False

    def label_for(self, *, customer):  # noqa: ANN001, ANN201
        if customer is None or customer.pk in self.signed_up:
            return None
        return "Send me the newsletter"

    def apply(self, *, booking, customer, by):  # noqa: ANN001, ANN201
        assert Booking.objects.filter(pk=booking.pk).exists(), "called once the booking exists"
        if self.refuse:
            raise ApplicationError("The newsletter is full.", code="newsletter_full")
        self.calls.append((booking.record_locator, customer.pk if customer else None))
        self.signed_up.add(customer.pk)


@pytest.fixture
def newsletter():
    hook = hooks.booking_options.register("test_newsletter", Newsletter())
    yield hook
    hooks.booking_options.unregister("test_newsletter")


@pytest.fixture
def flight(fares):
    return make_flight("LHR", "CDG", at=departure_in(5))


def url_for(flight) -> str:  # noqa: ANN001
    return book_url(search_params(flight), (flight, "ECO_LIGHT"))


def test_the_booking_form_shows_an_offered_option_as_a_tick_box(passenger, passenger_client, flight, newsletter):
    page = passenger_client.get(url_for(flight)).content.decode()
    assert 'name="option_test_newsletter"' in page and "Send me the newsletter" in page


def test_an_option_not_offered_to_this_booker_is_neither_shown_nor_applied(passenger, passenger_client, flight, newsletter):
    # given a booker the option is not offered to
    user, customer = passenger
    newsletter.signed_up.add(customer.pk)

    # when they open the form and book, ticking it anyway
    page = passenger_client.get(url_for(flight)).content.decode()
    hold(passenger_client, url_for(flight), {**adult(1, "Ada", "Lovelace"), "option_test_newsletter": "on"})

    # then it was not on the page and the hook was not called
    assert "option_test_newsletter" not in page and 'id="booking-options"' not in page
    assert newsletter.calls == []


def test_a_ticked_option_is_applied_with_the_new_booking(passenger, passenger_client, flight, newsletter):
    _, customer = passenger
    booking = hold(passenger_client, url_for(flight), {**adult(1, "Ada", "Lovelace"), "option_test_newsletter": "on"})
    assert newsletter.calls == [(booking.record_locator, customer.pk)]


def test_an_unticked_option_is_not_applied_nor_asked_whether_it_is_offered(passenger, passenger_client, flight, newsletter):
    # given the option's offer is watched
    asked = []
    newsletter.offered = lambda *, customer: asked.append(customer.pk) or True

    # when a booking is held without ticking it
    hold(passenger_client, url_for(flight), adult(1, "Ada", "Lovelace"))

    # then the booking neither applied it nor asked whether it is offered
    assert newsletter.calls == []
    assert asked == []


def test_an_option_that_refuses_refuses_the_whole_booking(passenger, flight, newsletter):
    # given the option refuses
    newsletter.refuse = True
    _, customer = passenger

    # when a booking is made with it ticked
    with pytest.raises(ApplicationError) as refused:
        services.booking_create(
            segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_LIGHT")],
            passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Ada", family_name="Lovelace")],
            contact_email="ada@example.com",
            channel=Channel.PORTAL,
            customer=customer,
            options={"test_newsletter": True},
        )

    # then nothing is booked: the option runs inside the booking's transaction
    assert refused.value.code == "newsletter_full"
    assert not Booking.objects.exists()


def test_an_option_name_is_registered_once():
    from django.core.exceptions import ImproperlyConfigured

    hooks.booking_options.register("test_once", Newsletter())
    try:
        with pytest.raises(ImproperlyConfigured):
            hooks.booking_options.register("test_once", Newsletter())
    finally:
        hooks.booking_options.unregister("test_once")


# --- The API's booking create takes the same options by name --------------------------------------


def api_body(flight, **extra):  # noqa: ANN001, ANN003, ANN201
    from tests.reservations.api_support import booking_body

    return booking_body(flight, fare_family="ECO_LIGHT", **extra)


def test_the_api_ticks_an_option_by_name_and_it_is_applied_with_the_new_booking(passenger, api_as, flight, newsletter):
    from tests.reservations.api_support import BOOKINGS

    user, customer = passenger
    response = api_as(user).post(BOOKINGS, api_body(flight, options={"test_newsletter": True}), format="json")
    assert response.status_code == 201, response.content
    assert newsletter.calls == [(response.json()["record_locator"], customer.pk)]


def test_the_api_refuses_an_unknown_option_name_and_books_nothing(passenger, api_as, flight, newsletter):
    from tests.reservations.api_support import BOOKINGS, assert_error

    user, _customer = passenger
    response = api_as(user).post(BOOKINGS, api_body(flight, options={"newsletter": True}), format="json")
    error = assert_error(response, 400, "unknown_booking_option")
    assert set(error["fields"]) == {"options.newsletter"}
    assert newsletter.calls == [] and not Booking.objects.exists()
