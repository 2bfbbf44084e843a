"""Office pages outside crm addressed by a merged-away customer number open the survivor's same page."""

import pytest
from django.urls import reverse

from crm.services import customer_create, customer_merge
from loyalty.models import Member
from reservations.models import Booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(supervisor):
    """Ann's second record (the loser) was merged into her first."""
    first = customer_create(data={"given_name": "Ann", "family_name": "Lee", "email": "ann@example.com"})
    second = customer_create(data={"given_name": "Anne", "family_name": "Lee", "phone": "+442079460958"})
    customer_merge(survivor=first, loser=second, by=supervisor)
    return first, second.customer_number


def test_booking_for_a_merged_away_number_opens_the_survivors_booking_page(supervisor_client, merged):
    survivor, gone = merged
    # When an agent opens "book for this customer" with the merged-away number and a search in the query
    url = reverse("reservations_office:book_search", args=[gone]) + "?trip_type=one_way&origin=LHR"
    response = supervisor_client.get(url, follow=True)
    # Then they land on the survivor's booking page with the same query, told why
    expected = reverse("reservations_office:book_search", args=[survivor.customer_number]) + "?trip_type=one_way&origin=LHR"
    assert response.redirect_chain == [(expected, 302)]
    assert response.status_code == 200
    assert f"Customer {gone} was merged into {survivor.customer_number}" in response.content.decode()


def test_the_travellers_step_of_a_merged_away_number_redirects_too(supervisor_client, merged):
    survivor, gone = merged
    # When the travellers step is opened for the merged-away number
    response = supervisor_client.get(reverse("reservations_office:book_passengers", args=[gone]) + "?adults=1")
    # Then it is the survivor's travellers step
    assert response.status_code == 302
    assert response["Location"] == reverse("reservations_office:book_passengers", args=[survivor.customer_number]) + "?adults=1"


def test_a_booking_sent_for_a_merged_away_number_books_nothing(supervisor_client, merged):
    survivor, gone = merged
    # When a travellers form opened before the merge is sent
    response = supervisor_client.post(
        reverse("reservations_office:book_passengers", args=[gone]), {"p1-given_name": "Ann"}, follow=True
    )
    # Then nothing is booked and the agent sees the survivor's record, told nothing was saved
    assert not Booking.objects.exists()
    assert response.redirect_chain[-1][0] == reverse("office:customer_detail", args=[survivor.customer_number])
    assert "nothing was saved" in response.content.decode()


def test_enrolling_a_merged_away_number_enrols_nobody_and_shows_the_survivor(supervisor_client, merged):
    survivor, gone = merged
    # When the loyalty enrol button of a 360 opened before the merge is pressed
    response = supervisor_client.post(reverse("loyalty_office:customer_enrol", args=[gone]), follow=True)
    # Then nobody is enrolled and the survivor's 360 says why
    assert not Member.objects.exists()
    assert response.redirect_chain[-1][0] == reverse("office:customer_detail", args=[survivor.customer_number])
    assert f"Customer {gone} was merged into {survivor.customer_number}" in response.content.decode()


def test_a_never_used_number_is_still_a_404(supervisor_client, db):
    assert supervisor_client.get(reverse("reservations_office:book_search", args=["ZZZZZZZZ"])).status_code == 404
