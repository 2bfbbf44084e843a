"""Back-office: an agent books a trip for a customer from the customer 360 — flights, fare, travellers
pre-filled from the customer, the hold — and takes the payment by card or at the counter."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import CustomerAccess
from reservations.models import Booking, BookingStatus, Payment
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import fares


@pytest.fixture
def customer(db):
    return CustomerFactory(
        given_name="Grace", family_name="Hopper", email="grace@example.com", home_airport="LHR", meal_preference="VGML"
    )


@pytest.fixture
def flight(db):
    fares()
    return FlightFactory()


def search_url(customer) -> str:  # noqa: ANN001
    return reverse("reservations_office:book_search", args=[customer.customer_number])


def passengers_url(customer) -> str:  # noqa: ANN001
    return reverse("reservations_office:book_passengers", args=[customer.customer_number])


def chosen(flight, *, adults: int = 1, infants: int = 0) -> dict:  # noqa: ANN001
    return {"cabin": "economy", "adults": adults, "children": 0, "infants": infants, "leg_1": f"{flight.pk}:ECO_STANDARD"}


def passenger_post(flight, **extra) -> dict:  # noqa: ANN001, ANN003
    return {
        **chosen(flight),
        "p1-title": "",
        "p1-given_name": "Grace",
        "p1-family_name": "Hopper",
        "p1-meal": "VGML",
        "contact_email": "grace@example.com",
        "customer_travels": "on",
        **extra,
    }


def test_the_flight_search_offers_each_fare_of_the_customers_route(agent_client, customer, flight):
    # when the agent searches one-way from the customer's home airport
    response = agent_client.get(
        search_url(customer),
        {
            "trip_type": "one_way",
            "origin": "LHR",
            "destination": "CDG",
            "departure_date": flight.service_date.isoformat(),
            "adults": 1,
            "children": 0,
            "infants": 0,
            "cabin": "economy",
        },
    )
    # then the flight is offered with its fare, to be picked for the next step, and the look is audited
    assert response.status_code == 200, response.context["form"].errors
    html = response.content.decode()
    assert f'value="{flight.pk}:ECO_STANDARD"' in html
    assert reverse("reservations_office:book_passengers", args=[customer.customer_number]) in html
    assert CustomerAccess.objects.filter(customer=customer).exists()


def test_the_agent_sees_why_a_flight_costs_what_it_does(agent_client, customer, db):
    # given a flight five days away with 18 of its 24 economy seats sold
    fares()
    flight = FlightFactory(
        scheduled_departure=(timezone.now() + timedelta(days=5, hours=2)).replace(second=0, microsecond=0),
        inventory={"economy": 6},
    )

    # when the agent searches its day
    html = agent_client.get(
        search_url(customer),
        {
            "trip_type": "one_way", "origin": "LHR", "destination": "CDG", "departure_date": flight.service_date.isoformat(),
            "adults": 1, "children": 0, "infants": 0, "cabin": "economy",
        },
    ).content.decode()  # fmt: skip

    # then the flight says its load, the days left and the multiplier they make (last week: ×1.15)
    assert "75% sold, 5 days to go: fares ×1.15" in html


def test_passenger_one_is_pre_filled_from_the_customer(agent_client, customer, flight):
    response = agent_client.get(passengers_url(customer), chosen(flight))
    assert response.status_code == 200
    first = response.context["passenger_forms"][0]
    assert first.initial["given_name"] == "Grace" and first.initial["meal"] == "VGML"
    assert response.context["contact_form"].initial["contact_email"] == "grace@example.com"


def test_the_agent_holds_a_booking_for_the_customer_through_the_agent_channel(agent, agent_client, customer, flight):
    # when the agent confirms the traveller and contact details
    response = agent_client.post(passengers_url(customer), passenger_post(flight))
    # then a booking is held for the customer, made by the agent through the agent channel, and the agent goes to payment
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reservations_office:booking_pay", args=[booking.record_locator])
    assert booking.customer == customer and booking.channel == "agent" and booking.created_by == agent
    assert booking.status == BookingStatus.HELD
    passenger = booking.passengers.get()
    assert passenger.customer == customer and passenger.meal == "VGML"


def test_bad_traveller_details_show_on_the_form_and_book_nothing(agent_client, customer, flight):
    response = agent_client.post(passengers_url(customer), passenger_post(flight, **{"p1-given_name": "", "contact_email": "x"}))
    assert response.status_code == 200
    assert "given_name" in response.context["passenger_forms"][0].errors
    assert "contact_email" in response.context["contact_form"].errors
    assert not Booking.objects.exists()


def test_a_service_refusal_lands_on_the_travellers_field(agent_client, customer, flight):
    # given an infant travelling with one adult, with a birth date making it an adult
    data = {
        **passenger_post(flight),
        **chosen(flight, infants=1),
        "p2-given_name": "Baby",
        "p2-family_name": "Hopper",
        "p2-date_of_birth": "1990-01-01",
    }
    # when the agent submits, then the age rule is shown on passenger 2's birth date, and nothing is booked
    response = agent_client.post(passengers_url(customer), data)
    assert response.status_code == 200
    assert "date_of_birth" in response.context["passenger_forms"][1].errors
    assert not Booking.objects.exists()


def test_a_sold_out_flight_is_explained_and_books_nothing(agent_client, customer, db):
    fares()
    full = FlightFactory(inventory={"economy": 0})
    response = agent_client.post(passengers_url(customer), passenger_post(full))
    assert response.status_code == 200
    assert "Sold out" in response.content.decode() or "no longer available" in response.content.decode()
    assert not Booking.objects.exists()


def test_a_tampered_itinerary_is_a_404_not_a_failure(agent_client, customer, flight):
    for bad in ({"leg_1": "junk"}, {"leg_1": "999999:ECO_STANDARD"}, {"adults": "0"}):
        assert agent_client.get(passengers_url(customer), {**chosen(flight), **bad}).status_code == 404, bad
    assert agent_client.get(passengers_url(customer), {"cabin": "economy"}).status_code == 404


def test_the_payment_page_offers_card_and_counter_with_fresh_keys(agent_client, customer, flight):
    agent_client.post(passengers_url(customer), passenger_post(flight))
    booking = Booking.objects.get()
    response = agent_client.get(reverse("reservations_office:booking_pay", args=[booking.record_locator]))
    assert response.status_code == 200
    card_key = response.context["card_form"].initial["idempotency_key"]
    counter_key = response.context["counter_form"].initial["idempotency_key"]
    assert card_key.startswith(f"office-{booking.record_locator}-") and card_key != counter_key
    assert not Payment.objects.exists()
