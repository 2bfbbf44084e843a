"""Who may convert a lead is one rule in crm.services, refused with one code and message everywhere."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from crm import services
from crm.errors import ApplicationError
from crm.models import Customer, Lead
from crm.permissions import MARKETER
from tests.crm.factories import CustomerFactory, LeadFactory


def crm_permission(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="crm", codename=codename)


@pytest.fixture
def lead_worker_who_creates(make_staff):
    """A marketer whose role, here, may create customers but not look them up."""
    user = make_staff(MARKETER)
    role = Group.objects.get(name=MARKETER)
    role.permissions.remove(crm_permission("view_customer"))
    role.permissions.add(crm_permission("add_customer"))
    return user


@pytest.fixture
def lead_worker_who_looks_up(make_staff):
    """A marketer: works leads and looks customers up, but may not create them."""
    return make_staff(MARKETER)


def test_linking_a_lead_to_a_customer_needs_permission_to_look_customers_up(lead_worker_who_creates):
    # given a qualified lead and an existing customer
    lead, customer = LeadFactory(status="qualified"), CustomerFactory()
    # when someone who may not look customers up links them
    with pytest.raises(ApplicationError) as refused:
        services.lead_convert(lead=lead, customer=customer, by=lead_worker_who_creates)
    # then the service refuses with the forbidden code and the lead is unchanged
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert "customer_number" in refused.value.fields
    assert Lead.objects.get(pk=lead.pk).status == "qualified"


def test_creating_the_customer_from_a_lead_needs_permission_to_add_customers(lead_worker_who_looks_up):
    lead = LeadFactory(status="qualified")
    with pytest.raises(ApplicationError) as refused:
        services.lead_convert(lead=lead, by=lead_worker_who_looks_up)
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert Customer.objects.count() == 0


def test_someone_with_both_permissions_converts_either_way(lead_worker_who_looks_up):
    # given a login that may look up and create customers
    lead_worker_who_looks_up.user_permissions.add(crm_permission("add_customer"))
    both = type(lead_worker_who_looks_up).objects.get(pk=lead_worker_who_looks_up.pk)
    customer = CustomerFactory()
    # when they link one lead and create the customer for another
    linked = services.lead_convert(lead=LeadFactory(status="qualified"), customer=customer, by=both)
    created = services.lead_convert(lead=LeadFactory(status="qualified", email="new@example.com"), by=both)
    # then both leads are converted
    assert linked.converted_customer == customer
    assert created.converted_customer.email == "new@example.com"


@pytest.mark.parametrize(("worker", "number"), [("lead_worker_who_creates", True), ("lead_worker_who_looks_up", False)])
def test_office_and_api_refuse_a_conversion_with_the_same_message(request, api_as, worker, number):
    # given a lead, a customer, and a login missing the permission this conversion needs
    user = request.getfixturevalue(worker)
    lead, customer = LeadFactory(status="qualified"), CustomerFactory()
    with pytest.raises(ApplicationError) as expected:
        services.lead_convert_check(by=user, to_existing_customer=number)
    # when they convert through the API and through the office
    api = api_as(user).post(
        f"/api/v1/leads/{lead.pk}/convert/", {"customer_number": customer.customer_number if number else ""}, format="json"
    )
    request.getfixturevalue("client").force_login(user)
    office = request.getfixturevalue("client").post(
        reverse("office:lead_convert", args=[lead.pk]), {"customer": customer.customer_number if number else ""}
    )
    # then both carry the service's code and message, and nothing changed
    assert api.status_code == 403
    assert (api.json()["error"]["code"], api.json()["error"]["message"]) == ("forbidden", expected.value.message)
    assert office.status_code == 200
    assert office.context["convert_form"].errors["customer"] == [expected.value.message]
    assert Lead.objects.get(pk=lead.pk).status == "qualified"


def test_the_api_refuses_before_it_tells_whether_a_customer_number_exists(lead_worker_who_creates, api_as):
    # given a login that may not look customers up
    lead = LeadFactory(status="qualified")
    # when it tries an unknown number
    response = api_as(lead_worker_who_creates).post(
        f"/api/v1/leads/{lead.pk}/convert/", {"customer_number": "ZZZZ9999"}, format="json"
    )
    # then the answer is the refusal, not "no such customer"
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
