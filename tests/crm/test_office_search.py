"""Back-office: who gets in, the log-in page, the dashboard and the one search box."""

import pytest
from django.urls import reverse

from crm.models import Lead
from crm.permissions import AGENT
from crm.services import customer_access_record, customer_create
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory, LeadFactory, StaffFactory, UserFactory

LOGIN = reverse("office:login")


def office_urls(customer, lead) -> list[str]:
    number = customer.customer_number
    return [
        reverse("office:home"),
        reverse("office:customer_search") + "?q=smith",
        reverse("office:customer_create"),
        reverse("office:customer_detail", args=[number]),
        reverse("office:customer_edit", args=[number]),
        reverse("office:customer_timeline", args=[number]),
        reverse("office:customer_history", args=[number]),
        reverse("office:duplicates"),
        reverse("office:customer_merge") + f"?a={number}&b={number}",
        reverse("office:lead_list"),
        reverse("office:lead_create"),
        reverse("office:lead_converted"),
        reverse("office:lead_detail", args=[lead.pk]),
        reverse("office:access_log"),
    ]


POST_ONLY = ["office:customer_consent", "office:lead_advance", "office:lead_convert", "office:lead_note"]


def post_urls(customer, lead) -> list[str]:
    return [
        reverse("office:customer_consent", args=[customer.customer_number]),
        reverse("office:lead_advance", args=[lead.pk]),
        reverse("office:lead_convert", args=[lead.pk]),
        reverse("office:lead_note", args=[lead.pk]),
    ]


# --- Who gets in ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_office_login(client, db):
    # given a customer and a lead
    customer, lead = CustomerFactory(), LeadFactory()
    for url in office_urls(customer, lead):
        # when someone who is not logged in opens an office page
        response = client.get(url)
        # then they are redirected to the office log-in, coming back afterwards
        assert response.status_code == 302, url
        assert response["Location"].startswith(LOGIN + "?next="), url
    for url in post_urls(customer, lead):
        assert client.post(url).status_code == 302


def test_passengers_get_403_on_every_office_page(passenger_client, passenger):
    # given a logged-in passenger (their own customer record included)
    _user, own_customer = passenger
    lead = LeadFactory()
    for url in office_urls(own_customer, lead):
        # when they open an office page, then it is forbidden
        assert passenger_client.get(url).status_code == 403, url
    for url in post_urls(own_customer, lead):
        assert passenger_client.post(url).status_code == 403, url
    assert Lead.objects.get(pk=lead.pk).status == "new"


def test_a_staff_flag_without_a_staff_role_is_not_enough(client, db):
    # given an is_staff login in no staff role
    user = StaffFactory(username="norole")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    # when it opens the dashboard, then it is forbidden
    assert client.get(reverse("office:home")).status_code == 403


# --- Log-in ---------------------------------------------------------------------------------


def test_login_page_has_labelled_fields(client, db):
    response = client.get(LOGIN)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username"' in html and '<label for="id_password"' in html
    assert html.count("<h1") == 1


def test_agent_logs_in_and_lands_on_the_dashboard(client, make_staff):
    # given an agent with a password
    make_staff(AGENT, username="desk1")
    # when they log in at the office
    response = client.post(LOGIN, {"username": "desk1", "password": DEMO_PASSWORD})
    # then they land on the dashboard
    assert response.status_code == 302 and response["Location"] == reverse("office:home")
    assert client.get(reverse("office:home")).status_code == 200


def test_wrong_password_shows_a_clear_error(client, make_staff):
    make_staff(AGENT, username="desk1")
    response = client.post(LOGIN, {"username": "desk1", "password": "not-the-password"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="form-errors" role="alert"' in html
    assert "correct username and password" in html


def test_passenger_cannot_log_in_to_the_office(client, passenger):
    # given a passenger who knows their own password
    user, _customer = passenger
    # when they try the office log-in
    response = client.post(LOGIN, {"username": user.username, "password": DEMO_PASSWORD})
    # then they are told the office is not for them, and are not logged in
    assert response.status_code == 200
    assert "no access to the back-office" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_locked_after_repeated_failures(client, make_staff, settings):
    # given an agent and the lockout limit
    make_staff(AGENT, username="desk1")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "desk1", "password": "guess"})
    # when the right password comes after too many wrong ones
    response = client.post(LOGIN, {"username": "desk1", "password": DEMO_PASSWORD})
    # then the login stays locked
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# --- Dashboard ------------------------------------------------------------------------------


def test_dashboard_lists_the_customers_i_viewed_and_open_leads(agent_client, agent, make_staff):
    # given customers I viewed (one twice), one a colleague viewed, and leads in several statuses
    mine, again, theirs = CustomerFactory(), CustomerFactory(), CustomerFactory()
    colleague = make_staff(AGENT, username="colleague")
    for customer in (mine, again, again):
        customer_access_record(customer=customer, user=agent, surface="office", path="/x")
    customer_access_record(customer=theirs, user=colleague, surface="office", path="/x")
    LeadFactory.create_batch(3, status="new")
    LeadFactory(status="qualified")
    LeadFactory(status="lost")
    # when I open the dashboard
    response = agent_client.get(reverse("office:home"))
    # then I see my customers, newest first and once each, and the open leads
    html = response.content.decode()
    assert response.status_code == 200
    assert mine.customer_number in html and again.customer_number in html
    assert theirs.customer_number not in html
    assert html.index(again.customer_number) < html.index(mine.customer_number)
    recent = [c for c, _ in response.context["recent"]]
    assert recent == [again, mine]
    assert response.context["open_leads"] == 4
    assert ("new", "New", 3) in response.context["lead_counts"]


# --- Search ---------------------------------------------------------------------------------


SEARCH = reverse("office:customer_search")


def test_search_finds_john_smith_from_jonh_smiht(agent_client):
    # given John Smith among others
    john = customer_create(data={"given_name": "John", "family_name": "Smith", "home_airport": "LHR"})
    customer_create(data={"given_name": "Maria", "family_name": "Garcia"})
    # when an agent searches with both names misspelt
    response = agent_client.get(SEARCH, {"q": "Jonh Smiht"})
    # then John is the first result, with a link to his 360
    assert response.status_code == 200
    assert response.context["results"][0] == john
    html = response.content.decode()
    assert reverse("office:customer_detail", args=[john.customer_number]) in html
    assert "LHR" in html and "Maria" not in html


@pytest.mark.parametrize("field", ["email", "phone", "customer_number", "passport"])
def test_search_by_identifier_finds_exactly_that_customer(agent_client, field):
    # given a customer with an e-mail, phone and passport, and others
    ada = customer_create(
        data={
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+442079460958",
            "passport_number": "K7654321",
        }
    )
    CustomerFactory.create_batch(3)
    query = {
        "email": "ADA@example.com",
        "phone": "+44 20 7946 0958",
        "customer_number": ada.customer_number.lower(),
        "passport": "k7654321",
    }[field]
    # when an agent types it into the one box
    response = agent_client.get(SEARCH, {"q": query})
    # then exactly Ada is found
    assert response.context["results"] == [ada]


def test_empty_search_explains_what_to_type(agent_client):
    response = agent_client.get(SEARCH)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Search tips" in html and "Jonh Smiht" in html
    assert reverse("office:customer_create") in html


def test_search_without_match_offers_to_create_the_customer(agent_client):
    CustomerFactory.create_batch(2)
    response = agent_client.get(SEARCH, {"q": "Zzyzx Qwertyuiop"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No customer matches" in html
    assert reverse("office:customer_create") in html


@pytest.mark.parametrize("query", ["\x00", "a\x00b", "x" * 5000, "%", "'; DROP TABLE crm_customer; --", "+", "@", "😀"])
def test_malformed_search_never_fails(agent_client, query):
    CustomerFactory()
    response = agent_client.get(SEARCH, {"q": query})
    assert response.status_code == 200


def test_search_page_has_one_h1_and_labelled_box(agent_client):
    html = agent_client.get(SEARCH, {"q": "smith"}).content.decode()
    assert html.count("<h1") == 1
    assert '<label for="id_q"' in html


def test_analyst_may_search_but_not_create(make_staff, client):
    from crm.permissions import ANALYST

    client.force_login(make_staff(ANALYST), backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(SEARCH, {"q": "x"}).status_code == 200
    assert client.get(reverse("office:customer_create")).status_code == 403


def test_inactive_staff_cannot_use_the_office(client, db):
    user = UserFactory(username="gone", is_staff=True, is_active=False, roles=[AGENT])
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("office:home"))
    assert response.status_code in (302, 403)
