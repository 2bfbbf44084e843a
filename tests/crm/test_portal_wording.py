"""Small things a passenger reads on the account pages: no "Log in" button for someone logged in, one full stop."""

from datetime import datetime, time

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from crm.models import Customer
from crm.services import email_verification_token, passenger_register

pytestmark = pytest.mark.django_db

PASSWORD = "Blue-Skies-over-Heathrow-42"


def test_confirming_the_address_logs_in_and_offers_the_account_not_a_log_in_button(client, roles):
    # Given a new passenger who follows the confirmation link and gives the password
    user = passenger_register(email="ada@example.com", password=PASSWORD, given_name="Ada", family_name="Lovelace")
    path = reverse(
        "portal:verify_email", args=[urlsafe_base64_encode(force_bytes(user.pk)), email_verification_token.make_token(user)]
    )
    response = client.post(path, {"password": PASSWORD}, follow=True)
    # Then the page says the address is confirmed, for someone now logged in: no "Log in" button
    html = response.content.decode()
    assert "Your e-mail address is confirmed" in html
    assert f'href="{reverse("portal:login")}"' not in html.split('id="main"', 1)[1]
    assert "Go to your account" in html
    # And someone not logged in who opens the page is still offered to log in
    client.post(reverse("portal:logout"))
    assert f'href="{reverse("portal:login")}"' in client.get(reverse("portal:verify_email_done")).content.decode()


def test_the_password_reset_end_page_offers_log_in_only_to_those_logged_out(client, passenger_client):
    url = reverse("portal:password_reset_complete")
    assert "Go to your account" in passenger_client.get(url).content.decode()
    assert f'href="{reverse("portal:login")}"' in client.get(url).content.decode()


def test_my_data_has_one_full_stop_after_an_afternoon_time(passenger, passenger_client):
    _user, customer = passenger
    # Given a record last changed at 3 in the afternoon (Django's US format wrote "3 p.m.", ours "15:00")
    afternoon = timezone.make_aware(datetime.combine(timezone.localdate(), time(15, 0)))
    Customer.objects.filter(pk=customer.pk).update(updated_at=afternoon)
    # When the passenger opens their data page
    html = passenger_client.get(reverse("portal:my_data")).content.decode()
    # Then the sentence carries the time and no doubled full stop
    assert "last changed on" in html and "15:00" in html
    assert "p.m.." not in html and ".." not in html.split("last changed on", 1)[1].split("</p>", 1)[0]
