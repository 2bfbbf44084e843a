"""Security findings of the platform review: document search, client addresses and rate limits, unverified
passengers' tokens, search text in logs, development keys in production, reset e-mail floods, token
lifetime, and one validation for forms and the API."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.core import checks
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from crm.api import TokenObtainThrottle
from crm.checks import DEVELOPMENT_FIELD_KEY, DEVELOPMENT_SECRET_KEY, check_no_development_keys
from crm.http import client_ip
from crm.log_redaction import RedactSearchFilter
from crm.models import Customer, Lead, OutboundEmail
from crm.services import customer_create, customer_erase
from tests.crm.factories import DEMO_PASSWORD, CustomerFactory, UserFactory
from tests.crm.test_ops_security import manage, production_env
from tests.reservations.api_support import bookable_flight, booking_body, fares

ROOT = Path(__file__).resolve().parents[2]
TOKEN_URL = "/api/v1/auth/token/"
CUSTOMERS_URL = "/api/v1/customers/"
ME_URL = "/api/v1/me/"
LEADS_URL = "/api/v1/leads/"
PUBLIC_URL = "/api/v1/flights/search/"  # open to anyone, so only the rate limit stands in front of it
PASSPORT = "K7654321"
NATIONAL_ID = "110101199003070011"


@pytest.fixture
def document_holder(db):
    return customer_create(
        data={"given_name": "Dora", "family_name": "Document", "passport_number": PASSPORT, "national_id_number": NATIONAL_ID}
    )


def found_numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["customer_number"] for row in response.json()["results"]}


def throttle_rates(monkeypatch, **rates: str) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **rates})


# --- B1: only those who may see identity documents search by them --------------------------------


@pytest.mark.parametrize("role", ["marketer", "analyst"])
@pytest.mark.parametrize("number", [PASSPORT, NATIONAL_ID])
def test_marketers_and_analysts_cannot_find_a_customer_by_document_number_in_the_api(
    request, api_as, document_holder, role, number
):
    # given a marketer or an analyst, who may not see identity documents
    client = api_as(request.getfixturevalue(role))
    # when they search by a customer's passport or national ID number
    response = client.get(CUSTOMERS_URL, {"search": number})
    # then nobody is found, so the answer does not tell whose document it is
    assert found_numbers(response) == set()
    # while the same login still finds the customer by name
    assert document_holder.customer_number in found_numbers(client.get(CUSTOMERS_URL, {"search": "Dora Document"}))


def test_an_agent_still_finds_a_customer_by_passport_number_in_the_api(agent, api_as, document_holder):
    response = api_as(agent).get(CUSTOMERS_URL, {"search": PASSPORT.lower()})
    assert found_numbers(response) == {document_holder.customer_number}


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_marketers_and_analysts_cannot_find_a_customer_by_document_number_in_the_office(request, document_holder, role):
    client = Client()
    client.force_login(request.getfixturevalue(role), backend="django.contrib.auth.backends.ModelBackend")
    # when they type a passport number into the search box
    response = client.get(reverse("office:customer_search"), {"q": PASSPORT})
    # then the page lists nobody
    assert response.status_code == 200
    assert response.context["results"] == []
    assert "Document" not in response.content.decode()


def test_an_agent_finds_a_customer_by_passport_number_in_the_office(agent_client, document_holder):
    response = agent_client.get(reverse("office:customer_search"), {"q": PASSPORT})
    assert [c.pk for c in response.context["results"]] == [document_holder.pk]


# --- B4: one client address, trusting exactly the configured proxies --------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, "", "203.0.113.9"),
        (0, "198.51.100.1", "203.0.113.9"),  # no proxy trusted: the header is the client's own words
        (1, "198.51.100.1", "198.51.100.1"),  # the one proxy wrote the address it saw
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # whatever the client sent is left of it
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "203.0.113.9"),  # fewer hops than proxies: did not come through them all
        (1, "not-an-address", "203.0.113.9"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_number_of_proxies(settings, proxies, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert client_ip(request) == expected


def test_a_forged_x_forwarded_for_does_not_escape_the_anonymous_api_rate_limit(db, monkeypatch):
    # given an anonymous rate of 3 a minute and no trusted proxy
    throttle_rates(monkeypatch, anon="3/minute")
    client = APIClient()
    # when a client sends each request with a different made-up X-Forwarded-For
    answers = [client.get(PUBLIC_URL, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(4)]
    # then the fourth is still throttled: the limit counts the connection's address
    assert answers == [400, 400, 400, 429]


def test_a_forged_x_forwarded_for_does_not_escape_the_token_endpoint_rate_limit(agent, monkeypatch):
    monkeypatch.setattr(TokenObtainThrottle, "THROTTLE_RATES", {**TokenObtainThrottle.THROTTLE_RATES, "token": "3/minute"})
    client = APIClient()
    payload = {"username": agent.username, "password": "not-the-password"}
    answers = [
        client.post(TOKEN_URL, payload, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(4)
    ]
    assert answers[-1] == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_api_rate_limit(db, settings, monkeypatch):
    # given one trusted proxy in front of the server (every request comes from its address)
    settings.TRUSTED_PROXY_COUNT = 1
    throttle_rates(monkeypatch, anon="2/minute")
    client = APIClient()
    # when one client uses up its limit
    for _ in range(2):
        client.get(PUBLIC_URL, HTTP_X_FORWARDED_FOR="198.51.100.1")
    first = client.get(PUBLIC_URL, HTTP_X_FORWARDED_FOR="198.51.100.1")
    # then it is throttled, and another client behind the same proxy is not
    assert first.status_code == 429
    assert client.get(PUBLIC_URL, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 400
    # and a client cannot pass for another by putting addresses in front of the proxy's
    assert client.get(PUBLIC_URL, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1").status_code == 429


def test_login_lockout_records_the_client_address_the_trusted_proxy_saw(verified_passenger, settings):
    # given one trusted proxy
    settings.TRUSTED_PROXY_COUNT = 1
    # when someone behind it fails to log in
    Client().post(
        reverse("portal:login"),
        {"username": verified_passenger.username, "password": "wrong"},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7",
    )
    # then axes counts the failure against the client's address, not the proxy's or a forged one
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["198.51.100.7"]


def test_check_in_lookup_limit_counts_each_client_behind_a_trusted_proxy(db, settings, monkeypatch):
    from reservations.views.portal import common as reservations_portal

    # given a limit of 2 failed look-ups and one trusted proxy
    monkeypatch.setattr(reservations_portal, "CHECK_IN_LOOKUP_LIMIT", 2)
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client()

    def look_up(address: str) -> str:
        data = {"record_locator": "ZZZ999", "family_name": "Nobody"}
        return client.post("/check-in/", data, HTTP_X_FORWARDED_FOR=address).content.decode()

    # when one client guesses until it is slowed down
    for _ in range(2):
        look_up("198.51.100.1")
    # then it is, and another client behind the same proxy is not
    assert "Too many attempts" in look_up("198.51.100.1")
    assert "Too many attempts" not in look_up("198.51.100.2")


@pytest.fixture
def verified_passenger(make_passenger):
    user, _customer = make_passenger("vera@example.com")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user


def test_password_spraying_from_one_address_locks_that_address(verified_passenger, settings):
    # given many usernames tried from one address, each fewer times than the per-login lockout
    client = Client()
    limit = settings.LOGIN_FAILURES_PER_IP
    usernames = [f"sprayed{i}@example.com" for i in range(limit)]
    for username in usernames:
        response = client.post(reverse("portal:login"), {"username": username, "password": "Summer2024!"})
        assert response.status_code == 200  # the form again: no single login is locked
    # when the same address then tries a real login with its right password
    response = client.post(reverse("portal:login"), {"username": verified_passenger.username, "password": DEMO_PASSWORD})
    # then the address is locked out, and nobody is logged in
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # while the passenger logs in from another address
    other = Client(REMOTE_ADDR="198.51.100.20")
    response = other.post(reverse("portal:login"), {"username": verified_passenger.username, "password": DEMO_PASSWORD})
    assert response.status_code == 302


def test_password_spraying_through_the_api_is_locked_out_in_the_error_shape(verified_passenger, settings):
    settings.LOGIN_FAILURES_PER_IP = 3
    client = APIClient()
    for i in range(3):
        client.post(TOKEN_URL, {"username": f"sprayed{i}@example.com", "password": "Summer2024!"}, format="json")
    response = client.post(TOKEN_URL, {"username": verified_passenger.username, "password": DEMO_PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
    assert not Token.objects.filter(user=verified_passenger).exists()


# --- B5: unverified passengers get no API token ---------------------------------------------------


def test_an_unverified_passenger_gets_no_api_token(make_passenger, api_client):
    # given a passenger who registered but never opened the verification link
    user, _customer = make_passenger("unverified@example.com")
    assert user.email_verified_at is None
    # when they ask for a token with the right password
    response = api_client.post(TOKEN_URL, {"username": user.username, "password": DEMO_PASSWORD}, format="json")
    # then they are refused as the portal refuses them, and get no token
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "unverified"
    assert not Token.objects.filter(user=user).exists()


def test_a_verified_passenger_gets_an_api_token(verified_passenger, api_client):
    response = api_client.post(TOKEN_URL, {"username": verified_passenger.username, "password": DEMO_PASSWORD}, format="json")
    assert response.status_code == 200
    assert Token.objects.get(user=verified_passenger).key == response.json()["token"]


# --- B7: search text never reaches a log -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, **headers: str) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.timeout(120)
def test_gunicorns_access_log_keeps_no_searched_document_number(tmp_path):
    # given the web server as the Procfile starts it (gunicorn reads gunicorn.conf.py), logging to a file
    port, access_log = _free_port(), tmp_path / "access.log"
    env = {**os.environ, "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}", "DEBUG": "false"}
    command = [sys.executable, "-m", "gunicorn", "crm.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(  # noqa: S603
        [*command, "--workers", "1", "--access-logfile", str(access_log)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.3)
        # when document numbers are searched in the API and the office, and the next page carries the search
        # in its Referer and in the login page's ?next=
        _get(port, f"/api/v1/customers/?search={PASSPORT}&page=1")
        _get(port, f"/office/customers/?q={NATIONAL_ID}")
        _get(port, f"/office/login/?next=/office/customers/%3Fq%3D{PASSPORT}")
        _get(port, "/office/", Referer=f"http://127.0.0.1:{port}/office/customers/?q={PASSPORT}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    # then the access log shows each request, but no number
    logged = access_log.read_text()
    assert logged.count("GET /") >= 4, logged
    assert "/api/v1/customers/?search=[redacted]&page=1" in logged
    assert PASSPORT not in logged and NATIONAL_ID not in logged


def test_djangos_log_lines_keep_no_searched_document_number(settings):
    # given the console handler as the settings configure it, writing somewhere we can read
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactSearchFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        # when runserver logs a search request line and a warning names a search URL
        logging.getLogger("django.server").info('"%s" %s %s', f"GET /office/customers/?q={PASSPORT} HTTP/1.1", 200, 512)
        logging.getLogger("crm").warning("slow page %s", f"/api/v1/customers/?search={NATIONAL_ID}")
    finally:
        handler.setStream(previous)
    # then both lines are there without the numbers
    lines = stream.getvalue()
    assert "/office/customers/?q=[redacted]" in lines and "/api/v1/customers/?search=[redacted]" in lines
    assert PASSPORT not in lines and NATIONAL_ID not in lines


# --- B8: production refuses the public development keys ---------------------------------------------


@pytest.mark.parametrize("key", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_HASH_KEY"])
def test_the_deploy_check_fails_on_each_development_default_key(settings, key):
    # given production settings with real keys but for one left at its public default
    settings.DEBUG = False
    settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEYS, settings.FIELD_HASH_KEY = "s" * 60, ["f" * 40], "h" * 40
    default = {"SECRET_KEY": DEVELOPMENT_SECRET_KEY}.get(key, DEVELOPMENT_FIELD_KEY)
    if key == "FIELD_ENCRYPTION_KEY":
        settings.FIELD_ENCRYPTION_KEYS = [default]
    else:
        setattr(settings, key, default)
    # when the check runs
    errors = check_no_development_keys()
    # then it is an error naming that key
    assert [(e.level, e.id) for e in errors] == [(checks.ERROR, "crm.E001")]
    assert key in errors[0].msg


def test_the_development_keys_are_fine_with_debug_on(settings):
    settings.DEBUG = True
    settings.FIELD_ENCRYPTION_KEYS, settings.FIELD_HASH_KEY = [DEVELOPMENT_FIELD_KEY], DEVELOPMENT_FIELD_KEY
    assert check_no_development_keys() == []


@pytest.mark.timeout(180)
def test_check_deploy_fails_with_the_default_field_keys():
    # given production settings whose field keys are left at the public default
    env = production_env()
    del env["FIELD_ENCRYPTION_KEY"], env["FIELD_HASH_KEY"]
    # when the deploy check runs
    result = manage("check", "--deploy", env=env)
    # then it fails, naming both keys
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "crm.E001" in output and "FIELD_ENCRYPTION_KEY" in output and "FIELD_HASH_KEY" in output


# --- B9: password-reset e-mails are rate limited per address -----------------------------------------


def test_password_reset_mails_an_address_once_per_interval(verified_passenger, client, django_capture_on_commit_callbacks):
    # when someone asks for a reset link for the same address ten times at once
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            client.post(reverse("portal:password_reset"), {"email": verified_passenger.email}).status_code for _ in range(10)
        ]
    # then every answer looks the same, and one e-mail goes out
    assert answers == [302] * 10
    assert OutboundEmail.objects.filter(to=verified_passenger.email, template="crm/password_reset").count() == 1


# --- B10: tokens expire and end with a password change or the account -------------------------------


def _token_for(user) -> str:
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": DEMO_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _works(token: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(ME_URL).status_code == 200


def test_a_token_expires_after_the_configured_lifetime_and_a_new_one_is_issued(verified_passenger, settings):
    # given a token lifetime of one hour and a token issued just now
    settings.API_TOKEN_TTL = 3600
    response = APIClient().post(TOKEN_URL, {"username": verified_passenger.username, "password": DEMO_PASSWORD}, format="json")
    token = response.json()["token"]
    expires_at = timezone.datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(minutes=59) < expires_at - timezone.now() <= timedelta(hours=1)
    assert _works(token)
    # when the hour has passed
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(hours=1, seconds=1))
    # then the token no longer opens the API
    assert not _works(token)
    # and logging in again gives a new token that does
    fresh = _token_for(verified_passenger)
    assert fresh != token and _works(fresh)


def test_changing_the_password_in_the_portal_ends_the_api_token(verified_passenger):
    token = _token_for(verified_passenger)
    client = Client()
    client.force_login(verified_passenger, backend="django.contrib.auth.backends.ModelBackend")
    new = "Changed-password-2024!"
    response = client.post(
        reverse("portal:password_change"), {"old_password": DEMO_PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert not _works(token)


def test_resetting_the_password_ends_the_api_token(verified_passenger, client, django_capture_on_commit_callbacks):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    token = _token_for(verified_passenger)
    verified_passenger.refresh_from_db()  # the token login set last_login, which reset links are tied to
    uid = urlsafe_base64_encode(force_bytes(verified_passenger.pk))
    url = reverse("portal:password_reset_confirm", args=[uid, default_token_generator.make_token(verified_passenger)])
    form_url = client.get(url).url
    new = "A-brand-new-password-77"
    assert client.post(form_url, {"new_password1": new, "new_password2": new}).status_code == 302
    assert not _works(token)


def test_an_administrator_setting_a_password_ends_the_api_token(agent):
    token = _token_for(agent)
    agent.set_password("Set-by-an-administrator-1")
    agent.save()
    assert not _works(token)
    assert not Token.objects.filter(user=agent).exists()


def test_logging_in_again_keeps_the_token(verified_passenger):
    # a re-hashed password (e.g. stronger hasher parameters) is not a password change
    token = _token_for(verified_passenger)
    assert _token_for(verified_passenger) == token and _works(token)


def test_deleting_the_account_ends_the_api_token(verified_passenger):
    token = _token_for(verified_passenger)
    customer_erase(customer=Customer.objects.get(user=verified_passenger), by=verified_passenger)
    assert not _works(token)
    assert not Token.objects.filter(user=verified_passenger).exists()


# --- B11: the API refuses what the forms refuse ---------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("preferred_language", '"><b>x</b>'),
        ("date_of_birth", "0001-01-01"),
        ("passport_number", "<>'\";--"),
        ("national_id_number", "<>'\";--"),
        ("given_name", "Ada\r\nBcc: everyone@example.com"),
        ("family_name", "Love\tlace"),
        ("emergency_contact_name", "Line\nbreak"),
    ],
)
def test_the_customer_api_refuses_what_the_office_form_refuses(agent, agent_client, api_as, field, value):
    body = {"given_name": "Ada", "family_name": "Lovelace", field: value}
    # when an agent sends it through the API
    response = api_as(agent).post(CUSTOMERS_URL, body, format="json")
    # then it is a 400 naming the field, and nothing is created
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    # as the office form refuses it beside the same field
    form = agent_client.post(reverse("office:customer_create"), {**body, "seat_preference": "aisle"}).context["form"]
    assert field in form.errors
    assert not Customer.objects.filter(family_name__startswith="Love").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("preferred_language", "de"),  # a language the portal does not offer
        ("preferred_language", '"><b>x</b>'),
        ("date_of_birth", "0001-01-01"),
        ("passport_number", "<>'\";--"),
        ("given_name", "Mei\r\nChen"),
    ],
)
def test_a_passenger_cannot_set_through_the_api_what_the_profile_form_refuses(passenger, api_as, field, value):
    user, customer = passenger
    response = api_as(user).patch(ME_URL, {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    customer.refresh_from_db()
    assert getattr(customer, field) != value


def test_a_passenger_sets_a_portal_language_and_a_spaced_passport_number_through_the_api(passenger, api_as):
    user, customer = passenger
    response = api_as(user).patch(ME_URL, {"preferred_language": "zh-hans", "passport_number": "k 123 4567"}, format="json")
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.preferred_language, customer.passport_number) == ("zh-hans", "K1234567")


def test_a_birth_date_120_years_ago_is_still_accepted(agent, api_as):
    today = timezone.localdate()
    body = {"given_name": "Old", "family_name": "Timer", "date_of_birth": today.replace(year=today.year - 119).isoformat()}
    assert api_as(agent).post(CUSTOMERS_URL, body, format="json").status_code == 201


def test_a_referral_lead_without_its_referrer_is_refused_by_the_api_as_by_the_form(marketer, marketer_client, api_as):
    body = {"given_name": "Paul", "family_name": "Prospect", "source": "referral"}
    response = api_as(marketer).post(LEADS_URL, body, format="json")
    assert response.status_code == 400, response.content
    assert "referred_by" in response.json()["error"]["fields"]
    form = marketer_client.post(reverse("office:lead_create"), body).context["form"]
    assert "referred_by" in form.errors
    assert not Lead.objects.exists()


def test_a_lead_cannot_lose_its_referrer_through_the_api(marketer, api_as):
    referrer = CustomerFactory()
    client = api_as(marketer)
    body = {"given_name": "Paul", "family_name": "Prospect", "source": "referral", "referred_by": referrer.customer_number}
    lead_id = client.post(LEADS_URL, body, format="json").json()["id"]
    marketer.user_permissions.add(Permission.objects.get(codename="change_lead", content_type__app_label="crm"))
    response = client.patch(f"{LEADS_URL}{lead_id}/", {"referred_by": None}, format="json")
    assert response.status_code == 400, response.content
    assert Lead.objects.get(pk=lead_id).referred_by == referrer


def test_the_booking_api_refuses_line_breaks_in_passenger_names_and_absurd_birth_dates(passenger, api_as):
    # given a booking whose travellers have a CR/LF in a name and a birth date in year 1
    party = [
        {"passenger_type": "ADT", "given_name": "Ada\r\nX", "family_name": "Lovelace"},
        {"passenger_type": "CHD", "given_name": "Ann", "family_name": "Lovelace", "date_of_birth": "0001-01-01"},
        {"passenger_type": "ADT", "given_name": "Bob", "family_name": "Lovelace", "document_number": "<>'\";--"},
    ]
    fares()
    body = booking_body(bookable_flight(), passengers=party)
    response = api_as(passenger[0]).post("/api/v1/bookings/", body, format="json")
    assert response.status_code == 400, response.content
    fields = " ".join(response.json()["error"]["fields"])
    assert "given_name" in fields and "date_of_birth" in fields and "document_number" in fields


def test_registration_refuses_a_line_break_in_a_name(db, client):
    password = "Blue-Skies-over-Heathrow-42"
    data = {
        "email": "crlf@example.com",
        "given_name": "Ada\r\nBcc: x@example.com",
        "family_name": "Lovelace",
        "password1": password,
        "password2": password,
        "preferred_language": "en",
    }
    response = client.post(reverse("portal:register"), data)
    assert response.status_code == 200 and "given_name" in response.context["form"].errors
    assert not UserFactory._meta.model.objects.filter(username="crlf@example.com").exists()


def test_a_refused_document_number_leaves_every_other_passport_readable(agent, api_as, document_holder):
    # given one customer's passport stored encrypted
    client = api_as(agent)
    # when another document number is refused by validation, twice
    for _ in range(2):
        body = {"given_name": "Eve", "family_name": "Invalid", "passport_number": "K1234567<script>"}
        assert client.post(CUSTOMERS_URL, body, format="json").status_code == 400
        customer = Customer.objects.create(given_name="Eve", family_name="Direct")
        customer.passport_number = "<>"
        with pytest.raises(ValidationError):
            customer.full_clean(exclude=["customer_number", "user", "search_name", "name_words"])
    # then stored passports still read back decrypted
    assert Customer.objects.get(pk=document_holder.pk).passport_number == PASSPORT
