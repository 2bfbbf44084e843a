"""API authentication: token login, session + CSRF, lockout and throttling, all in the one error shape."""

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from crm.api import TokenObtainThrottle
from crm.api_support import UserRateThrottle
from tests.crm.factories import DEMO_PASSWORD

TOKEN_URL = "/api/v1/auth/token/"
CUSTOMERS_URL = "/api/v1/customers/"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_token_round_trip_lets_the_login_call_the_api(agent, api_client):
    # given an agent who knows their password
    # when they exchange it for a token
    response = api_client.post(TOKEN_URL, {"username": agent.username, "password": DEMO_PASSWORD}, format="json")
    # then the token is theirs and opens the API
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(key=token).user == agent
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(CUSTOMERS_URL).status_code == 200
    # and asking again returns the same token
    again = api_client.post(TOKEN_URL, {"username": agent.username, "password": DEMO_PASSWORD}, format="json")
    assert again.json()["token"] == token
    agent.refresh_from_db()
    assert agent.last_login is not None


def test_token_login_with_a_wrong_password_is_a_400_in_the_error_shape(agent, api_client):
    response = api_client.post(TOKEN_URL, {"username": agent.username, "password": "wrong-password"}, format="json")
    error = assert_error(response, 400, "invalid")
    assert "non_field_errors" in error["fields"]
    assert not Token.objects.filter(user=agent).exists()


def test_token_login_of_an_inactive_user_is_refused(agent, api_client):
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    response = api_client.post(TOKEN_URL, {"username": agent.username, "password": DEMO_PASSWORD}, format="json")
    assert_error(response, 400, "invalid")


def test_a_token_works_until_its_login_is_deactivated_or_the_token_deleted(agent, api_client):
    token = Token.objects.create(user=agent)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get("/api/v1/customers/").status_code == 200

    agent.is_active = False
    agent.save(update_fields=["is_active"])
    assert_error(api_client.get("/api/v1/customers/"), 401)

    agent.is_active = True
    agent.save(update_fields=["is_active"])
    token.delete()
    assert_error(api_client.get("/api/v1/customers/"), 401)
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_error(api_client.get("/api/v1/customers/"), 401)


def test_token_login_without_fields_names_the_missing_fields(db, api_client):
    error = assert_error(api_client.post(TOKEN_URL, {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"username", "password"}


def test_repeated_failures_lock_the_login_out_even_for_the_right_password(agent, api_client, settings):
    # given the lockout threshold
    limit = settings.AXES_FAILURE_LIMIT
    # when someone guesses wrong that many times
    for _ in range(limit - 1):
        assert_error(api_client.post(TOKEN_URL, {"username": agent.username, "password": "guess"}, format="json"), 400)
    locked = api_client.post(TOKEN_URL, {"username": agent.username, "password": "guess"}, format="json")
    # then the API answers 429 in its own shape (not axes' HTML page)
    assert_error(locked, 429, "locked_out")
    assert locked["Content-Type"].startswith("application/json")
    assert int(locked["Retry-After"]) > 0
    # and the right password no longer gets a token while the lock lasts
    right = api_client.post(TOKEN_URL, {"username": agent.username, "password": DEMO_PASSWORD}, format="json")
    assert_error(right, 429, "locked_out")
    assert not Token.objects.filter(user=agent).exists()
    assert AccessAttempt.objects.filter(username=agent.username).exists()


def test_token_endpoint_is_throttled_with_the_error_shape(agent, api_client, monkeypatch):
    # given a token rate of 3 a minute
    monkeypatch.setattr(TokenObtainThrottle, "THROTTLE_RATES", {**TokenObtainThrottle.THROTTLE_RATES, "token": "3/minute"})
    payload = {"username": agent.username, "password": DEMO_PASSWORD}
    # when a client asks a fourth time
    for _ in range(3):
        assert api_client.post(TOKEN_URL, payload, format="json").status_code == 200
    response = api_client.post(TOKEN_URL, payload, format="json")
    # then it is told to wait, in the error shape
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_each_login_has_its_own_rate_limit_counted_in_one_small_key(agent, supervisor, api_as, monkeypatch):
    # given a user rate of 3 a minute
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "user": "3/minute"})
    client = api_as(agent)
    # when the agent calls a fourth time within the minute
    for _ in range(3):
        assert client.get(CUSTOMERS_URL).status_code == 200
    response = client.get(CUSTOMERS_URL)
    # then it is told how long to wait, in the error shape; the count is one integer, not a list of times
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert cache.get(UserRateThrottle.cache_format % {"scope": "user", "ident": agent.pk}) == 4
    # and another login is not held back by it
    assert api_as(supervisor).get(CUSTOMERS_URL).status_code == 200


def test_no_credentials_is_a_401_with_a_token_challenge(db, api_client):
    response = api_client.get(CUSTOMERS_URL)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")


def test_an_unknown_token_is_a_401(db, api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_error(api_client.get(CUSTOMERS_URL), 401, "authentication_failed")


def test_session_login_works_for_reads_and_enforces_csrf_on_writes(agent):
    # given an agent logged in with a session cookie (as the office pages are)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent, backend="django.contrib.auth.backends.ModelBackend")
    # then reads work
    assert client.get(CUSTOMERS_URL).status_code == 200
    # and a write without the CSRF token is refused in the error shape
    response = client.post(CUSTOMERS_URL, {"given_name": "Ada", "family_name": "Lovelace"}, format="json")
    error = assert_error(response, 403, "permission_denied")
    assert "CSRF" in error["message"]


def test_session_write_with_the_csrf_token_succeeds(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent, backend="django.contrib.auth.backends.ModelBackend")
    csrf = get_random_string(32)  # what the csrftoken cookie of any page would hold
    client.cookies["csrftoken"] = csrf
    response = client.post(CUSTOMERS_URL, {"given_name": "Ada", "family_name": "Lovelace"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_token_endpoint_only_accepts_post(db, api_client, method):
    assert_error(getattr(api_client, method)(TOKEN_URL), 405, "method_not_allowed")
