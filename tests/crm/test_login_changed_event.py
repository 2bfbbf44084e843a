"""login_changed: a login's e-mail address or password saved changed, whichever path saved it.

Sent after commit, once per thing changed, with the login's customer record; creating a login, logging
in, closing an account or a change that is rolled back sends nothing.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from crm import events, services
from crm.models import Customer, User
from tests.crm.factories import DEMO_PASSWORD
from tests.events_support import capture_events

NEW_PASSWORD = "A-brand-new-password-77"


@pytest.fixture
def received():
    with capture_events(events, sender=Customer) as seen:
        yield seen


def changes(seen: list) -> list[dict]:
    return [payload for name, payload in seen if name == "login_changed"]


@pytest.fixture
def account(make_passenger):
    user, customer = make_passenger("ada@example.com")
    user.email_verified_at = user.date_joined
    user.save(update_fields=["email_verified_at"])
    return user, customer


def test_changing_the_password_in_the_portal_sends_login_changed(account, received, django_capture_on_commit_callbacks):
    # Given a passenger logged in to the portal
    user, customer = account
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    # When they change their password
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:password_change"),
            {"old_password": DEMO_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )

    # Then one login_changed says the password of their login changed
    assert response.status_code == 302
    assert changes(received) == [{"user_id": user.pk, "customer_id": customer.pk, "what": "password"}]


def test_resetting_the_password_by_link_sends_login_changed(account, received, django_capture_on_commit_callbacks):
    # Given a reset link for the passenger's login
    user, customer = account
    client = Client()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = reverse("portal:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    form_url = client.get(link).url

    # When the new password is chosen through it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    # Then login_changed says the password changed
    assert response.status_code == 302
    assert changes(received) == [{"user_id": user.pk, "customer_id": customer.pk, "what": "password"}]


def test_a_new_address_and_password_saved_together_send_one_event_each(account, received, django_capture_on_commit_callbacks):
    # Given a login (an administrator edits it)
    user, customer = account
    user = User.objects.get(pk=user.pk)

    # When its address and password change in one save
    with django_capture_on_commit_callbacks(execute=True):
        user.username = user.email = "someone.else@example.net"
        user.set_password(NEW_PASSWORD)
        user.save()

    # Then one event for each
    assert changes(received) == [
        {"user_id": user.pk, "customer_id": customer.pk, "what": "email"},
        {"user_id": user.pk, "customer_id": customer.pk, "what": "password"},
    ]


def test_the_same_address_in_other_letters_is_no_change(account, received, django_capture_on_commit_callbacks):
    user, _ = account
    with django_capture_on_commit_callbacks(execute=True):
        user.email = "ADA@Example.com"
        user.save(update_fields=["email"])
    assert changes(received) == []


def test_a_staff_login_without_a_customer_record_says_so(supervisor, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        supervisor.set_password(NEW_PASSWORD)
        supervisor.save()
    assert changes(received) == [{"user_id": supervisor.pk, "customer_id": None, "what": "password"}]


def test_registering_and_logging_in_send_no_login_changed(db, roles, received, django_capture_on_commit_callbacks):
    # When a person registers (their first password is set, not changed) and logs in
    with django_capture_on_commit_callbacks(execute=True):
        user = services.passenger_register(email="new@example.com", password=NEW_PASSWORD, given_name="New", family_name="Person")
        services.passenger_verify_email(user=user)
        assert (
            Client().post(reverse("portal:login"), {"username": "new@example.com", "password": NEW_PASSWORD}).status_code == 302
        )

    # Then nothing changed about the login
    assert changes(received) == []


def test_erasing_the_customer_closes_the_login_without_login_changed(account, received, django_capture_on_commit_callbacks):
    user, customer = account
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_erase(customer=customer)
    assert not User.objects.get(pk=user.pk).is_active
    assert changes(received) == []


def test_a_rolled_back_password_change_sends_nothing(account, received, django_capture_on_commit_callbacks):
    user, _ = account

    class Abandon(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Abandon), transaction.atomic():
        user.set_password(NEW_PASSWORD)
        user.save()
        raise Abandon

    assert changes(received) == []
