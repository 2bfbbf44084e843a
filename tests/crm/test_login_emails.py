"""The e-mails about a portal login are built by crm.services: who gets them, in which language, with which link."""

from __future__ import annotations

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import resolve, reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from crm import services
from crm.models import OutboundEmail


@pytest.fixture
def login(make_passenger):
    user, customer = make_passenger("mei@example.com", given_name="Mei", preferred_language="zh-hans")
    return user, customer


def test_the_verification_email_carries_a_link_that_proves_this_login(login):
    # given a passenger login waiting for verification
    user, customer = login
    # when the service queues the verification e-mail
    email = services.passenger_verification_email_queue(user=user)
    # then it goes to the login's address, in the customer's language, with a one-time link for this login
    assert (email.to, email.template, email.language, email.customer) == (user.email, "crm/verify_email", "zh-hans", customer)
    assert email.context["given_name"] == "Mei"
    assert email.context["valid_days"] >= 1
    link = resolve(email.context["verify_path"])
    assert link.view_name == "portal:verify_email"
    assert services.email_verification_token.check_token(user, link.kwargs["token"])
    assert OutboundEmail.objects.filter(pk=email.pk, status=OutboundEmail.Status.PENDING).exists()


def test_a_verification_link_stops_working_once_the_address_is_verified(login):
    user, _customer = login
    token = resolve(services.passenger_verification_email_queue(user=user).context["verify_path"]).kwargs["token"]
    services.passenger_verify_email(user=user)
    user.refresh_from_db()
    assert not services.email_verification_token.check_token(user, token)


def test_the_account_exists_email_points_to_log_in_and_reset(login):
    user, _customer = login
    email = services.passenger_account_exists_email_queue(user=user)
    assert (email.to, email.template) == (user.email, "crm/account_exists")
    assert (email.context["login_path"], email.context["reset_path"]) == (
        reverse("portal:login"),
        reverse("portal:password_reset"),
    )


def test_the_password_reset_email_carries_the_reset_link(login):
    user, _customer = login
    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    email = services.passenger_password_reset_email_queue(user=user, uidb64=uid, token=token)
    assert (email.to, email.template, email.language) == (user.email, "crm/password_reset", "zh-hans")
    assert email.context["reset_path"] == reverse("portal:password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def test_a_login_without_a_language_of_its_own_gets_the_language_of_the_page(make_passenger):
    # given a customer whose preferred language the portal does not offer
    user, _customer = make_passenger("ola@example.com", preferred_language="")
    # when the e-mail is queued while a page in Simplified Chinese is answered
    with translation.override("zh-hans"):
        email = services.passenger_verification_email_queue(user=user)
    # then it is in Simplified Chinese
    assert email.language == "zh-hans"
