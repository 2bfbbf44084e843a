"""Security baseline: deploy checks, password hashing, headers, login lockout, CSRF."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from crm.permissions import AGENT, PASSENGER
from tests.crm.factories import DEMO_PASSWORD, StaffFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    """Production as it should be: real keys of its own, none of the public development defaults."""
    keys = ("DEBUG", "SECURE_HTTPS", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_HASH_KEY", "ALLOWED_HOSTS")
    env = {k: v for k, v in os.environ.items() if k not in keys}
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings",
        DEBUG="false",
        SECURE_HTTPS="true",
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=secrets.token_urlsafe(32),
        FIELD_HASH_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="crm.example.com",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.timeout(180)
def test_deploy_check_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.timeout(180)
def test_deploy_check_rejects_the_built_in_development_secret_key():
    env = production_env()
    del env["SECRET_KEY"]

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


@pytest.mark.timeout(180)
def test_production_settings_use_secure_cookies_hsts_and_https_redirect():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_HTTPONLY')}))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_HTTPONLY": True,
    }


def test_passwords_are_hashed_with_argon2(db):
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"

    user = UserFactory()

    assert user.password.startswith("argon2$")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/office/login/", "/healthz"])
def test_responses_carry_the_security_headers(client, path):
    response = client.get(path)

    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def _fail_then_try_correct(client: Client, path: str, username: str) -> object:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(path, {"username": username, "password": "not-the-password"})
    return client.post(path, {"username": username, "password": DEMO_PASSWORD})


@pytest.mark.django_db
def test_portal_login_locks_out_after_repeated_failures_even_with_the_right_password(client):
    # given a passenger with a verified e-mail
    UserFactory(username="locked@example.com", roles=[PASSENGER], email_verified_at=timezone.now())

    # when someone guesses wrong AXES_FAILURE_LIMIT times, then types the right password
    response = _fail_then_try_correct(client, "/accounts/login/", "locked@example.com")

    # then the login is refused and no session is opened
    assert response.status_code in (403, 429)
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_office_login_locks_out_after_repeated_failures_even_with_the_right_password(client):
    # given an agent
    StaffFactory(username="locked-agent", roles=[AGENT])

    # when someone guesses wrong AXES_FAILURE_LIMIT times, then types the right password
    response = _fail_then_try_correct(client, "/office/login/", "locked-agent")

    # then the login is refused and no session is opened
    assert response.status_code in (403, 429)
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "factory", "username", "role"),
    [
        ("/office/login/", StaffFactory, "careful-agent", AGENT),
        ("/accounts/login/", UserFactory, "careful@example.com", PASSENGER),
    ],
)
def test_a_correct_password_before_the_limit_still_logs_in(client, path, factory, username, role):
    # given someone who mistyped once
    factory(username=username, roles=[role], email_verified_at=timezone.now())
    client.post(path, {"username": username, "password": "typo"})

    # when they type it right
    response = client.post(path, {"username": username, "password": DEMO_PASSWORD})

    # then they are in
    assert response.status_code == 302
    assert SESSION_KEY in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/office/login/"])
def test_a_login_post_without_csrf_token_is_refused(path):
    # given a browser-like client that enforces CSRF, as production does
    UserFactory(username="csrf@example.com", roles=[PASSENGER])
    client = Client(enforce_csrf_checks=True)

    # when a form is posted without the token (a cross-site request)
    response = client.post(path, {"username": "csrf@example.com", "password": DEMO_PASSWORD})

    # then it is refused and nobody is logged in
    assert response.status_code == 403
    assert SESSION_KEY not in client.session
