"""Every e-mail is sent by the airline, by name, and written in a language the portal speaks."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy
from email.headerregistry import Address

import pytest
from django.conf import settings
from django.core import mail

from crm import services
from crm.models import OutboundEmail
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def read(message) -> email.message.EmailMessage:  # noqa: ANN001
    return email.message_from_bytes(message.message().as_bytes(), policy=policy.default)


def test_an_e_mail_comes_from_the_airline_by_name(django_capture_on_commit_callbacks):
    # given a passenger's welcome e-mail
    with django_capture_on_commit_callbacks(execute=True):
        services.email_queue(to="ana@example.com", template="crm/welcome", context={"given_name": "Ana"})
    # when a mail client reads it
    [message] = [read(m) for m in mail.outbox]
    # then the sender shown is the airline, not the software it runs on
    sender = message["From"].addresses[0]
    assert sender.display_name == settings.AIRLINE_NAME == "Aurora Air"
    assert sender.addr_spec == "no-reply@airline.example"
    assert "CRM" not in str(message["From"])


def from_address_with(**environment: str) -> Address:
    """DEFAULT_FROM_EMAIL as the settings module makes it from these environment variables."""
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEFAULT_FROM_EMAIL)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings", **environment}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=settings.BASE_DIR)
    parsed = email.message_from_string(f"From: {out.stdout.strip()}\n\n", policy=policy.default)
    return parsed["From"].addresses[0]


def test_an_address_given_without_a_name_is_shown_with_the_airlines_name():
    # given a deployment that sets only the address, for an airline whose name has quotes in it
    sender = from_address_with(DEFAULT_FROM_EMAIL="post@sky.example", AIRLINE_NAME='Sky "Blue" Air')
    # then its e-mails come from that airline, by name, at that address
    assert (sender.display_name, sender.addr_spec) == ('Sky "Blue" Air', "post@sky.example")
    # and a value that names a sender is kept as it is
    named = from_address_with(DEFAULT_FROM_EMAIL="Bookings <book@sky.example>", AIRLINE_NAME="Sky Air")
    assert (named.display_name, named.addr_spec) == ("Bookings", "book@sky.example")


@pytest.mark.parametrize(
    ("preferred", "fallback", "expected"),
    [
        ("zh-hans", "en", "zh-hans"),  # the passenger's own choice first
        ("fr", "zh-hans", "zh-hans"),  # one the portal does not speak: the page's or booking's language
        ("fr", "de", "en"),  # neither spoken: the portal's default
        ("", "", "en"),
    ],
)
def test_an_e_mail_is_in_the_passengers_language_when_the_portal_speaks_it(preferred, fallback, expected):
    customer = CustomerFactory(preferred_language=preferred)
    assert services.email_language(customer=customer, fallback=fallback) == expected


def test_an_e_mail_queued_in_a_language_the_portal_does_not_speak_is_written_in_english(django_capture_on_commit_callbacks):
    # given an e-mail queued for a reader of French, which the portal does not offer
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.email_queue(to="luc@example.com", template="crm/welcome", context={"given_name": "Luc"}, language="fr")
    # then it is kept and sent in English, never half French
    assert OutboundEmail.objects.get(pk=queued.pk).language == "en"
    [message] = [read(m) for m in mail.outbox]
    assert message["Subject"] == "Welcome to Aurora Air"
    assert '<html lang="en">' in message.get_body(preferencelist=("html",)).get_content()
