"""Passengers through the API: their own record at /me/, and nobody else's anywhere."""

import pytest
from rest_framework.test import APIClient

from crm import registry
from crm.models import ConsentEvent, Customer, CustomerAccess, Lead, User
from crm.services import customer_update
from tests.crm.factories import DEMO_PASSWORD, LeadFactory

ME = "/api/v1/me/"
PASSPORT = "P1234567"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def me(passenger):
    user, customer = passenger
    return user, customer_update(customer=customer, data={"passport_number": PASSPORT})


@pytest.fixture
def other(make_passenger):
    user, customer = make_passenger("someone.else@example.com", given_name="Octavia", family_name="Otherperson")
    return user, customer_update(customer=customer, data={"passport_number": "X7777777"})


def test_passenger_reads_their_own_record_with_their_passport(me, api_as):
    user, customer = me
    response = api_as(user).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["customer_number"] == customer.customer_number
    assert body["passport_number"] == PASSPORT
    assert body["has_portal_login"] is True
    assert not CustomerAccess.objects.exists()  # reading your own record is not a staff view


def test_passenger_changes_their_preferences(me, api_as):
    user, customer = me
    response = api_as(user).patch(ME, {"meal_preference": "KSML", "seat_preference": "aisle"}, format="json")
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.meal_preference, customer.seat_preference) == ("KSML", "aisle")


def test_passenger_cannot_change_their_login_email_through_the_api(me, api_as):
    user, customer = me
    error = assert_error(api_as(user).patch(ME, {"email": "new@example.com"}, format="json"), 400, "invalid")
    assert "email" in error["fields"]
    customer.refresh_from_db()
    assert customer.email == user.email


def test_passenger_records_and_reads_their_consent(me, api_as):
    user, customer = me
    client = api_as(user)
    response = client.post(f"{ME}consents/", {"channel": "push", "purpose": "marketing", "granted": True}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "api" and "recorded_by" not in response.json()
    body = client.get(f"{ME}consents/").json()
    current = {(c["channel"], c["purpose"]): c["granted"] for c in body["current"]}
    assert current[("push", "marketing")] is True and current[("email", "marketing")] is False
    assert ConsentEvent.objects.get().customer == customer


def test_passenger_downloads_everything_every_app_holds(me, api_as):
    user, customer = me
    body = api_as(user).get(f"{ME}export/").json()
    assert {ext.label for ext in registry.extensions() if ext.exporter} <= set(body)
    assert body["crm"]["profile"]["passport_number"] == PASSPORT


def test_deleting_my_account_needs_the_right_password(me, api_as):
    user, customer = me
    client = api_as(user)
    error = assert_error(client.delete(ME, {"password": "not-my-password"}, format="json"), 400, "invalid")
    assert "password" in error["fields"]
    assert_error(client.delete(ME, {}, format="json"), 400, "invalid")
    customer.refresh_from_db()
    assert not customer.is_anonymized


def test_deleting_my_account_erases_me_and_closes_the_login(me, api_as):
    # given a passenger with a token
    user, customer = me
    client = api_as(user)
    # when they delete their account with their password
    response = client.delete(ME, {"password": DEMO_PASSWORD}, format="json")
    # then their data is anonymized, they cannot log in, and their token is dead
    assert response.status_code == 204
    customer.refresh_from_db()
    assert customer.is_anonymized and customer.passport_number is None and customer.email == ""
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    assert_error(client.get(ME), 401)
    login = APIClient().post("/api/v1/auth/token/", {"username": "passenger1@example.com", "password": DEMO_PASSWORD})
    assert_error(login, 400)


def test_a_login_without_a_customer_record_has_no_me(agent, api_as):
    assert_error(api_as(agent).get(ME), 404, "not_found")


def test_me_needs_authentication(db, api_client):
    assert_error(api_client.get(ME), 401)


# --- Never someone else's data ---------------------------------------------------------------

# PUT and DELETE exist for nobody on a customer: 405 whatever the number, so the answer says nothing about it.
NOT_A_METHOD_HERE = {("put", ""), ("delete", "")}
OBJECT_ENDPOINTS = [
    ("get", ""),
    ("patch", ""),
    ("put", ""),
    ("delete", ""),
    ("get", "consents/"),
    ("post", "consents/"),
    ("get", "timeline/"),
    ("get", "export/"),
    ("post", "merge/"),
]


@pytest.mark.parametrize(("method", "suffix"), OBJECT_ENDPOINTS)
def test_passenger_gets_404_for_another_passengers_customer_on_every_object_endpoint(me, other, api_as, method, suffix):
    # given a passenger and someone else's customer number
    user, _ = me
    _, theirs = other
    before = Customer.objects.get(pk=theirs.pk)
    # when the passenger calls any endpoint under that number
    payload = {"city": "Hacked", "channel": "sms", "purpose": "marketing", "granted": True, "loser": before.customer_number}
    response = getattr(api_as(user), method)(f"/api/v1/customers/{theirs.customer_number}/{suffix}", payload, format="json")
    # then it does not exist for them, nothing about the other person is in the answer, and nothing changed
    if (method, suffix) in NOT_A_METHOD_HERE:
        assert_error(response, 405, "method_not_allowed")
    else:
        assert_error(response, 404, "not_found")
    raw = response.content.decode()
    assert "Octavia" not in raw and "X7777777" not in raw and theirs.email not in raw
    after = Customer.objects.get(pk=theirs.pk)
    assert after.city == before.city and after.updated_at == before.updated_at
    assert not ConsentEvent.objects.exists()
    assert not CustomerAccess.objects.exists()


@pytest.mark.parametrize(("method", "suffix"), OBJECT_ENDPOINTS)
def test_passenger_gets_404_under_their_own_number_too(me, api_as, method, suffix):
    # /customers/ is the back-office's resource: passengers use /me/, so an answer never says a number exists
    user, customer = me
    response = getattr(api_as(user), method)(f"/api/v1/customers/{customer.customer_number}/{suffix}", {}, format="json")
    if (method, suffix) in NOT_A_METHOD_HERE:
        assert_error(response, 405, "method_not_allowed")
    else:
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/v1/customers/"), ("post", "/api/v1/customers/"), ("get", "/api/v1/leads/"), ("post", "/api/v1/leads/")],
)
def test_passenger_is_refused_the_staff_collections(me, api_as, method, url):
    user, _ = me
    response = getattr(api_as(user), method)(url, {"given_name": "A", "family_name": "B"}, format="json")
    assert_error(response, 403, "permission_denied")
    assert Customer.objects.count() == 1 and not Lead.objects.exists()


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("patch", ""), ("post", "advance/"), ("post", "convert/")])
def test_passenger_gets_404_for_any_lead(me, api_as, method, suffix):
    user, _ = me
    lead = LeadFactory()
    response = getattr(api_as(user), method)(f"/api/v1/leads/{lead.pk}/{suffix}", {"status": "contacted"}, format="json")
    assert_error(response, 404, "not_found")
    lead.refresh_from_db()
    assert lead.status == "new"


def test_passenger_with_is_staff_but_no_staff_role_is_still_a_passenger(me, api_as, other):
    # a flag alone does not make a back-office user: the role does
    user, _ = me
    User.objects.filter(pk=user.pk).update(is_staff=True)
    _, theirs = other
    assert_error(api_as(User.objects.get(pk=user.pk)).get(f"/api/v1/customers/{theirs.customer_number}/"), 404)
