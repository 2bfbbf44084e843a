"""The menus of the office and the portal come from what each app registers, per role.

The expected links are the ones the hard-coded menus showed before the apps registered them.
"""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from crm import registry
from crm.permissions import ADMINISTRATOR, AGENT, ANALYST, MARKETER, SUPERVISOR

pytestmark = pytest.mark.django_db

OFFICE_BY_ROLE = {
    AGENT: [
        "/office/customers/", "/office/reservations/bookings/", "/office/reservations/flights/", "/office/reservations/disruptions/", "/office/loyalty/members/", "/office/leads/",
        "/office/loyalty/partners/",
    ],
    SUPERVISOR: [
        "/office/customers/", "/office/reservations/bookings/", "/office/reservations/flights/", "/office/reservations/disruptions/", "/office/loyalty/members/", "/office/leads/",
        "/office/loyalty/partners/", "/office/loyalty/liability/", "/office/loyalty/approvals/", "/office/loyalty/fraud/", "/office/duplicates/", "/office/audit/",
    ],
    MARKETER: [
        "/office/customers/", "/office/reservations/flights/", "/office/loyalty/members/", "/office/leads/", "/office/marketing/campaigns/",
        "/office/marketing/segments/", "/office/marketing/offers/", "/office/marketing/calendar/", "/office/marketing/results/",
    ],
    ANALYST: [
        "/office/customers/", "/office/reservations/flights/", "/office/loyalty/members/", "/office/leads/", "/office/loyalty/partners/", "/office/loyalty/liability/",
        "/office/marketing/campaigns/", "/office/marketing/segments/", "/office/marketing/calendar/", "/office/marketing/results/",
    ],
    ADMINISTRATOR: [
        "/office/customers/", "/office/reservations/bookings/", "/office/reservations/flights/", "/office/reservations/disruptions/", "/office/loyalty/members/", "/office/leads/",
        "/office/loyalty/partners/", "/office/loyalty/liability/", "/office/loyalty/approvals/", "/office/loyalty/fraud/", "/office/duplicates/",
        "/office/marketing/campaigns/", "/office/marketing/segments/", "/office/marketing/offers/", "/office/marketing/calendar/", "/office/marketing/results/",
        "/office/audit/",
    ],
}  # fmt: skip
PORTAL_SIGNED_OUT = ["/flights/", "/check-in/", "/flight-status/", "/accounts/login/", "/accounts/register/"]
PORTAL_SIGNED_IN = [
    "/flights/",
    "/trips/",
    "/miles/",
    "/miles/redeem/",
    "/check-in/",
    "/flight-status/",
    "/profile/",
    "/preferences/communication/",
    "/preferences/marketing/",
    "/my-data/",
]


def _menu(html: str) -> list[str]:
    menu = html.split('<ul class="nav-links">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', menu)


@pytest.mark.parametrize("role", list(OFFICE_BY_ROLE))
def test_each_office_role_sees_the_links_of_its_permissions(make_staff, role):
    # given a member of staff in one role
    client = Client()
    client.force_login(make_staff(role, username=f"nav-{role.lower()}"))
    # when they open the back-office (a marketer lands on the campaigns)
    html = client.get("/office/", follow=True).content.decode()
    # then the menu holds exactly the links their role's permissions open
    assert _menu(html) == OFFICE_BY_ROLE[role]


def test_a_visitor_signed_out_sees_the_public_portal_links_and_login(client):
    html = client.get("/").content.decode()
    assert _menu(html) == PORTAL_SIGNED_OUT


def test_a_signed_in_passenger_sees_their_trips_and_account_links(passenger_client):
    html = passenger_client.get("/").content.decode()
    assert _menu(html) == PORTAL_SIGNED_IN
    assert 'action="/accounts/logout/"' in html


def test_the_current_portal_page_is_marked_in_the_menu(passenger_client):
    html = passenger_client.get("/profile/").content.decode()
    assert '<a href="/profile/" aria-current="page">' in html
    assert html.count('aria-current="page"') == 1


def test_an_app_adds_a_menu_link_for_the_roles_whose_permissions_it_names(make_staff):
    # given a later app's office link that needs a permission only supervisors hold
    registry.register_nav(registry.NavItem(registry.OFFICE, "Cases", "office:home", ("crm.merge_customer",), order=65))
    try:
        supervisor = make_staff(SUPERVISOR, username="nav-sup")
        agent = make_staff(AGENT, username="nav-agent")
        # then it shows to a supervisor, in its place, and not to an agent or a visitor
        assert [i.label for i in registry.nav_items(registry.OFFICE, supervisor)][-3:] == ["Duplicates", "Cases", "Audit"]
        assert "Cases" not in [i.label for i in registry.nav_items(registry.OFFICE, agent)]
        assert "Cases" not in [i.label for i in registry.nav_items(registry.OFFICE, AnonymousUser())]
    finally:
        registry.unregister_nav(registry.OFFICE, "office:home")


def test_registering_the_same_menu_link_twice_is_a_wiring_error():
    with pytest.raises(ImproperlyConfigured):
        registry.register_nav(registry.NavItem(registry.OFFICE, "Customers again", "office:customer_search"))
