"""Back-office audit: supervisors see every staff look at a customer record."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import AccessAction, CustomerAccess
from crm.permissions import AGENT
from crm.services import customer_access_record, customer_create
from tests.crm.factories import CustomerFactory

ACCESS_LOG = reverse("office:access_log")


def test_supervisor_sees_who_viewed_which_customer(supervisor_client, agent_client, agent):
    # given an agent who opened a customer's 360
    customer = customer_create(data={"given_name": "Ada", "family_name": "Lovelace"})
    detail = reverse("office:customer_detail", args=[customer.customer_number])
    agent_client.get(detail)
    # when a supervisor opens the access log
    response = supervisor_client.get(ACCESS_LOG)
    # then the view is there: who, which customer, through which page
    html = response.content.decode()
    assert response.status_code == 200
    assert agent.username in html and customer.customer_number in html and detail in html
    assert html.count("<h1") == 1 and '<th scope="col">' in html


def test_agents_and_marketers_get_403_on_the_access_log(agent_client, marketer_client, db):
    assert agent_client.get(ACCESS_LOG).status_code == 403
    assert marketer_client.get(ACCESS_LOG).status_code == 403


def test_access_log_filters_by_customer_number_and_username(supervisor_client, agent, make_staff):
    # given two customers viewed by two agents
    ada, bob = CustomerFactory(), CustomerFactory()
    other = make_staff(AGENT, username="otheragent")
    customer_access_record(customer=ada, user=agent, surface="office", path="/office/a")
    customer_access_record(customer=bob, user=agent, surface="api", path="/api/v1/b")
    customer_access_record(customer=ada, user=other, surface="office", path="/office/c")
    # when filtering by customer (typed loosely) and by username (any case)
    by_customer = supervisor_client.get(ACCESS_LOG, {"customer": f" {ada.customer_number.lower()} "}).context["page_obj"]
    by_user = supervisor_client.get(ACCESS_LOG, {"user": "OTHERAGENT"}).context["page_obj"]
    both = supervisor_client.get(ACCESS_LOG, {"customer": ada.customer_number, "user": agent.username}).context["page_obj"]
    # then each list holds exactly the matching views
    assert {a.path for a in by_customer.object_list} == {"/office/a", "/office/c"}
    assert [a.path for a in by_user.object_list] == ["/office/c"]
    assert [a.path for a in both.object_list] == ["/office/a"]


def test_access_log_is_paginated_and_survives_bad_input(supervisor_client, agent):
    customer = CustomerFactory()
    CustomerAccess.objects.bulk_create(
        CustomerAccess(customer=customer, user=agent, surface="office", path=f"/p{i}") for i in range(120)
    )
    page = supervisor_client.get(ACCESS_LOG, {"page": 3}).context["page_obj"]
    assert page.number == 3 and len(page.object_list) == 20
    for params in [{"page": "zz"}, {"customer": "\x00"}, {"user": "x" * 500}, {"customer": "ZZZZZZZZ"}, {"user": "\x00"}]:
        assert supervisor_client.get(ACCESS_LOG, params).status_code == 200


def test_access_log_query_count_does_not_grow(supervisor_client, agent):
    customer = CustomerFactory()
    customer_access_record(customer=customer, user=agent, surface="office", path="/x")
    supervisor_client.get(ACCESS_LOG)
    with CaptureQueriesContext(connection) as few:
        supervisor_client.get(ACCESS_LOG)
    for c in CustomerFactory.create_batch(10):
        customer_access_record(customer=c, user=agent, surface="office", path="/y")
    with CaptureQueriesContext(connection) as many:
        supervisor_client.get(ACCESS_LOG)
    assert len(few) == len(many)


@pytest.mark.parametrize(("client_fixture", "linked"), [("supervisor_client", True), ("agent_client", False)])
def test_the_360_links_to_its_own_access_list_for_supervisors_only(request, client_fixture, linked):
    client = request.getfixturevalue(client_fixture)
    customer = CustomerFactory()
    html = client.get(reverse("office:customer_detail", args=[customer.customer_number])).content.decode()
    assert (f"{ACCESS_LOG}?customer={customer.customer_number}" in html) is linked


def test_a_post_is_logged_as_a_change_and_a_get_as_a_view(supervisor_client, agent_client, agent, api_as):
    # Given a customer whose 360 an agent opens, then records a consent for by phone, then changes by API
    customer = customer_create(data={"given_name": "Ada", "family_name": "Lovelace"})
    agent_client.get(reverse("office:customer_detail", args=[customer.customer_number]))
    agent_client.post(
        reverse("office:customer_consent", args=[customer.customer_number]),
        {"channel": "email", "purpose": "marketing", "answer": "granted", "method": "phone call"},
    )
    api_as(agent).patch(f"/api/v1/customers/{customer.customer_number}/", {"given_name": "Augusta"}, format="json")
    # Then the log has the look as a view and the post and the API change as changes
    actions = list(CustomerAccess.objects.order_by("accessed_at", "id").values_list("surface", "action"))
    assert actions == [("office", "view"), ("office", "change"), ("api", "change")]
    # And the supervisor sees them told apart, and can list only the changes
    html = supervisor_client.get(ACCESS_LOG).content.decode()
    assert "<td>Viewed</td>" in html and "<td>Changed or acted</td>" in html
    changes = supervisor_client.get(ACCESS_LOG, {"action": "change"}).content.decode()
    assert "<td>Viewed</td>" not in changes and "<td>Changed or acted</td>" in changes


def test_the_access_action_follows_the_method():
    # A read is a view; anything that sends something is a change or an action
    assert [CustomerAccess(action=AccessAction.for_method(m)).action for m in ("GET", "HEAD", "POST", "PATCH", "DELETE")] == [
        "view",
        "view",
        "change",
        "change",
        "change",
    ]
