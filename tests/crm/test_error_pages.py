"""The office and the portal answer 403, 404 and 500 with pages in their own look, and a staff member
refused for want of a permission is told which one and where their work starts."""

import pytest
from django.test import RequestFactory

from crm.views.errors import handler500, permission_label

pytestmark = pytest.mark.django_db


def test_marketer_opening_bookings_is_told_what_is_missing_and_pointed_home(marketer_client):
    # Given a marketer, whose role has no bookings
    # When they open the bookings page
    response = marketer_client.get("/office/reservations/bookings/")
    # Then a styled office page says which permission is missing and links to their home, the campaigns
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="topbar"' in html and "Office" in html
    assert "You do not have access to this page" in html
    assert "<li>See bookings</li>" in html
    assert 'href="/office/marketing/campaigns/"' in html.split('class="card error-page"', 1)[1]


def test_agent_refused_a_supervisor_page_sees_the_permission_and_the_desk(agent_client):
    # Given an agent, who may not merge customers
    # When they open the duplicates review
    response = agent_client.get("/office/duplicates/")
    # Then the page names the merge permission by its declared name and links to the office home
    assert response.status_code == 403
    html = response.content.decode()
    assert "Can merge duplicate customers" in html
    assert 'href="/office/"' in html.split('class="card error-page"', 1)[1]


def test_passenger_in_the_office_is_told_it_is_for_staff(passenger_client):
    # Given a passenger logged in to the portal
    # When they open an office page
    response = passenger_client.get("/office/customers/")
    # Then they are refused with a page that says the back-office is for staff
    assert response.status_code == 403
    assert "The back-office is for airline staff" in response.content.decode()


def test_office_404_wears_the_office_look_and_portal_404_the_portal_look(agent_client, passenger_client):
    # Given a staff member and a passenger
    # When each opens a page that does not exist on their surface
    office = agent_client.get("/office/no-such-page/")
    portal = passenger_client.get("/no-such-page/")
    # Then each gets a styled 404 with their own surface's brand and home link
    assert office.status_code == portal.status_code == 404
    office_html, portal_html = office.content.decode(), portal.content.decode()
    assert "We could not find that page" in office_html and "We could not find that page" in portal_html
    assert '<body class="office">' in office_html and "Back to the office home page" in office_html
    assert '<body class="portal">' in portal_html and "Back to the home page" in portal_html


def test_api_404_stays_json(api_client):
    # When an unknown object is asked of the API
    response = api_client.get("/api/v1/nothing-here/")
    # Then the answer is the error shape, not a page
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "body_class", "home"), [("/office/customers/", "office", "/office/"), ("/trips/", "portal", "/")]
)
def test_500_page_renders_without_the_database_in_its_surface_look(path, body_class, home, django_assert_num_queries):
    # Given a request that crashed (no user, no session: the page must not need them)
    request = RequestFactory().get(path)
    # When the project's 500 handler answers it
    with django_assert_num_queries(0):
        response = handler500(request)
    # Then a styled, self-contained page says so, in the look of the surface
    assert response.status_code == 500
    html = response.content.decode()
    assert f'<body class="{body_class}">' in html
    assert "Something went wrong on our side" in html
    assert f'class="button" href="{home}"' in html


def test_permission_labels_read_as_words():
    # Given model and custom permissions
    # Then each reads as something a person can ask for
    assert permission_label("reservations.view_booking") == "see bookings"
    assert permission_label("crm.merge_customer") == "Can merge duplicate customers"
    assert permission_label("nope.nothing") == "nope.nothing"
