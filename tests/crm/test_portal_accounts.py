"""Portal accounts: register, verify the e-mail address, log in and out, reset and change the password."""

import email
import re
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Customer, OutboundEmail, User
from crm.services import email_verification_token
from tests.crm.factories import DEMO_PASSWORD

PASSWORD = "Blue-Skies-over-Heathrow-42"
REGISTER = reverse("portal:register")
LOGIN = reverse("portal:login")


def registration(**overrides) -> dict:
    data = {
        "email": "Ada.Lovelace@Example.com",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "preferred_language": "en",
    }
    return {**data, **overrides}


def read_as_a_mail_client(message) -> dict[str, str]:
    """The message as it travels (bytes), parsed back; the body of each text part by content type."""
    parsed = email.message_from_bytes(message.message().as_bytes())
    parts = {}
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            charset = part.get_content_charset() or "utf-8"
            parts[part.get_content_type()] = part.get_payload(decode=True).decode(charset)
    parts["subject"] = str(email.header.make_header(email.header.decode_header(parsed["Subject"])))
    parts["to"] = parsed["To"]
    return parts


def link_path(text: str) -> str:
    links = re.findall(r"https?://\S+", text)
    assert len(links) >= 1, text
    return urlparse(links[0]).path


def page_without_csrf_token(response) -> str:
    """Two pages compared as a person sees them (each response carries a freshly masked CSRF token)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def registered(db, client, django_capture_on_commit_callbacks):
    """A passenger who has just registered; their verification e-mail is in the outbox."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGISTER, registration())
    assert response.status_code == 302, response.content.decode()
    return User.objects.get(username="ada.lovelace@example.com")


# --- Registration and verification -----------------------------------------------------------


def test_registration_sends_a_one_time_link_that_verifies_the_address_and_opens_the_login(registered, client):
    # given a passenger who just registered
    assert registered.email_verified_at is None
    customer = Customer.objects.get(user=registered)
    assert (customer.given_name, customer.family_name, customer.email) == ("Ada", "Lovelace", "ada.lovelace@example.com")
    # when their mail client receives the e-mail
    assert len(mail.outbox) == 1
    received = read_as_a_mail_client(mail.outbox[0])
    # then it is addressed to them, has a plain-text and an HTML version, and the plain text holds the link
    assert received["to"] == "ada.lovelace@example.com"
    assert "text/html" in received and "Ada" in received["text/plain"]
    assert "confirm" in received["subject"].lower()
    path = link_path(received["text/plain"])
    assert path in received["text/html"]
    # and opening the link asks for the password, which verifies the address
    assert client.get(path).status_code == 200
    assert registered.__class__.objects.get(pk=registered.pk).email_verified_at is None
    response = client.post(path, {"password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("portal:verify_email_done")
    client.post(reverse("portal:logout"))
    registered.refresh_from_db()
    assert registered.email_verified_at is not None
    assert "confirmed" in client.get(response.url).content.decode()
    # and the passenger can now log in, with the address in any case
    response = login(client, "ADA.Lovelace@example.com", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("portal:home")
    assert logged_in_user_id(client) == str(registered.pk)
    # and the sent e-mail no longer keeps the one-time link in the database
    assert OutboundEmail.objects.get().context == {}


def test_the_verification_link_works_only_once(registered, client):
    path = link_path(read_as_a_mail_client(mail.outbox[0])["text/plain"])
    client.post(path, {"password": PASSWORD})
    registered.refresh_from_db()
    verified_at = registered.email_verified_at
    # when the link is opened again
    response = client.get(path)
    # then it is refused and changes nothing
    assert response.status_code == 200
    assert "This link does not work" in response.content.decode()
    registered.refresh_from_db()
    assert registered.email_verified_at == verified_at


@pytest.mark.parametrize(
    "mangle",
    [
        lambda uid, token: (uid, token[:-1] + ("a" if token[-1] != "a" else "b")),  # tampered token
        lambda uid, token: (uid, "1-abc"),  # made-up token
        lambda uid, token: ("bm90LWEtbnVtYmVy", token),  # uid of "not-a-number"
        lambda uid, token: ("%%%", token),  # not base64 at all
        lambda uid, token: ("OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", token),  # a huge number
    ],
)
def test_a_tampered_verification_link_verifies_nothing(registered, client, mangle):
    path = link_path(read_as_a_mail_client(mail.outbox[0])["text/plain"])
    _, _, _, uid, token, _ = path.split("/")
    uid, token = mangle(uid, token)
    response = client.post(f"/accounts/verify/{uid}/{token}/", {"password": PASSWORD})
    assert response.status_code in (200, 404)
    registered.refresh_from_db()
    assert registered.email_verified_at is None


def test_login_before_verification_is_refused_with_a_message_and_a_resend_form(registered, client):
    # when the passenger tries to log in before opening the link
    response = login(client, "ada.lovelace@example.com", PASSWORD)
    # then they are not logged in, and told why and how to get the e-mail again
    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    page = response.content.decode()
    assert "Please verify your e-mail address before logging in" in page
    assert f'action="{reverse("portal:resend_verification")}"' in page
    assert 'value="ada.lovelace@example.com"' in page


def test_resending_the_verification_email_does_not_tell_whether_an_address_has_an_account(
    registered, client, django_capture_on_commit_callbacks
):
    url = reverse("portal:resend_verification")
    mail.outbox.clear()
    # when someone asks for the e-mail for an unknown address and for the registered one
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post(url, {"email": "nobody@example.com"}, follow=True)
        known = client.post(url, {"email": "Ada.Lovelace@example.com"}, follow=True)
    # then both see the same page, and only the registered address gets a (working) link
    assert page_without_csrf_token(unknown) == page_without_csrf_token(known)
    assert [m.to for m in mail.outbox] == [["ada.lovelace@example.com"]]
    path = link_path(read_as_a_mail_client(mail.outbox[0])["text/plain"])
    client.post(path, {"password": PASSWORD})
    registered.refresh_from_db()
    assert registered.email_verified_at is not None
    # and a verified address is sent nothing more
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"email": "ada.lovelace@example.com"})
    assert len(mail.outbox) == 1


def test_registering_an_address_that_has_an_account_reveals_nothing_and_tells_its_owner(
    registered, client, django_capture_on_commit_callbacks
):
    # given the account is verified
    registered.email_verified_at = timezone.now()
    registered.save(update_fields=["email_verified_at"])
    mail.outbox.clear()
    # when someone registers the same address again
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            REGISTER, registration(given_name="Mallory", password1="Another-pass-9876", password2="Another-pass-9876")
        )
    # then the page is the same as for a new registration, no second account exists, and the owner is told
    assert response.status_code == 302 and response.url == reverse("portal:register_done")
    assert User.objects.filter(username="ada.lovelace@example.com").count() == 1
    assert Customer.objects.count() == 1
    received = read_as_a_mail_client(mail.outbox[0])
    assert "already" in received["text/plain"] and reverse("portal:password_reset") in received["text/plain"]
    # and the password did not change
    assert User.objects.get(pk=registered.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password2": "Something-else-123"}, "password2", "The two passwords are not the same."),
        ({"password1": "short", "password2": "short"}, "password1", "This password is too short."),
        ({"password1": "12345678901", "password2": "12345678901"}, "password1", "This password is entirely numeric."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"given_name": ""}, "given_name", "This field is required."),
        ({"preferred_language": "xx"}, "preferred_language", "Select a valid choice."),
        ({"email": "a" * 200 + "@example.com"}, "email", "Ensure this value has at most"),
    ],
)
def test_invalid_registration_shows_the_error_by_its_field_and_creates_nothing(db, client, overrides, field, message):
    response = client.post(REGISTER, registration(**overrides))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    page = response.content.decode()
    assert 'id="error-summary"' in page and f'id="id_{field}_error"' in page
    assert not User.objects.exists() and not Customer.objects.exists() and not mail.outbox


def test_a_logged_in_passenger_who_opens_register_goes_home(passenger_client):
    response = passenger_client.get(REGISTER)
    assert response.status_code == 302 and response.url == reverse("portal:home")


# --- Log in and out --------------------------------------------------------------------------


@pytest.fixture
def verified(make_passenger):
    user, customer = make_passenger("verified@example.com", given_name="Vera", family_name="Verified")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user, customer


def test_a_wrong_password_is_refused_with_one_message_for_both_fields(verified, client):
    response = login(client, "verified@example.com", "not-the-password")
    assert response.status_code == 200 and logged_in_user_id(client) is None
    assert "The e-mail address or password is not correct." in response.content.decode()
    # and an unknown address gets exactly the same answer
    other = login(Client(), "nobody@example.com", "not-the-password")
    assert "The e-mail address or password is not correct." in other.content.decode()


def test_repeated_wrong_passwords_lock_the_login_out(verified, client, settings):
    # given the lockout limit
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "verified@example.com", "wrong-password")
    # when the right password comes after that
    response = login(client, "verified@example.com", DEMO_PASSWORD)
    # then the login stays locked
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert logged_in_user_id(client) is None


def test_logging_out_is_a_post_and_ends_the_session(verified, client):
    login(client, "verified@example.com", DEMO_PASSWORD)
    assert logged_in_user_id(client)
    assert client.get(reverse("portal:logout")).status_code == 405
    response = client.post(reverse("portal:logout"))
    assert response.status_code == 302 and response.url == reverse("portal:home")
    assert logged_in_user_id(client) is None


def test_logging_in_applies_the_passengers_language(verified, client, settings):
    user, customer = verified
    Customer.objects.filter(pk=customer.pk).update(preferred_language="zh-hans")
    response = login(client, "verified@example.com", DEMO_PASSWORD)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert '<html lang="zh-hans">' in client.get("/").content.decode()


def test_a_language_chosen_with_the_switcher_before_logging_in_is_kept(verified, client, settings):
    # given a passenger whose account says English, who switched the portal to Chinese before logging in
    user, customer = verified
    assert customer.preferred_language == "en"
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    # when she logs in (as when asked to half-way through booking)
    response = login(client, "verified@example.com", DEMO_PASSWORD)
    # then the portal goes on in Chinese: her choice is not overwritten by the account's language
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert '<html lang="zh-hans">' in client.get("/").content.decode()


# --- Password reset --------------------------------------------------------------------------


def test_password_reset_by_email_works_end_to_end(verified, client, django_capture_on_commit_callbacks):
    user, _ = verified
    # when the passenger asks for a reset link
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:password_reset"), {"email": "Verified@Example.com"})
    assert response.status_code == 302 and response.url == reverse("portal:password_reset_done")
    # then it was recorded and sent like every e-mail, with a text and an HTML part
    outbound = OutboundEmail.objects.get()
    assert (outbound.template, outbound.status) == ("crm/password_reset", OutboundEmail.Status.SENT)
    received = read_as_a_mail_client(mail.outbox[0])
    assert received["to"] == "verified@example.com" and "text/html" in received
    path = link_path(received["text/plain"])
    # and following the link lets them choose a new password
    response = client.get(path)
    assert response.status_code == 302
    form_url = response.url
    assert "Choose a new password" in client.get(form_url).content.decode()
    new_password = "A-brand-new-password-77"
    response = client.post(form_url, {"new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302 and response.url == reverse("portal:password_reset_complete")
    # and they log in with the new password, not the old one
    assert login(Client(), "verified@example.com", DEMO_PASSWORD).status_code == 200
    assert login(client, "verified@example.com", new_password).status_code == 302
    # and the link is spent
    assert "This link does not work" in Client().get(path, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    verified, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post(reverse("portal:password_reset"), {"email": "nobody@example.com"}, follow=True)
        known = client.post(reverse("portal:password_reset"), {"email": "verified@example.com"}, follow=True)
    assert page_without_csrf_token(unknown) == page_without_csrf_token(known)
    assert [m.to for m in mail.outbox] == [["verified@example.com"]]


def test_a_password_reset_link_also_verifies_the_address(registered, client, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:password_reset"), {"email": "ada.lovelace@example.com"})
    form_url = client.get(link_path(read_as_a_mail_client(mail.outbox[0])["text/plain"])).url
    client.post(form_url, {"new_password1": "Yet-another-password-5", "new_password2": "Yet-another-password-5"})
    registered.refresh_from_db()
    assert registered.email_verified_at is not None


def test_password_change_needs_the_old_password(verified, client):
    login(client, "verified@example.com", DEMO_PASSWORD)
    url = reverse("portal:password_change")
    new = "Changed-password-2024!"
    wrong = client.post(url, {"old_password": "nope", "new_password1": new, "new_password2": new})
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    response = client.post(url, {"old_password": DEMO_PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302 and response.url == reverse("portal:password_change_done")
    assert logged_in_user_id(client)  # still logged in
    assert User.objects.get(pk=verified[0].pk).check_password(new)


def test_the_verification_token_is_tied_to_the_unverified_state(registered):
    token = email_verification_token.make_token(registered)
    assert email_verification_token.check_token(registered, token)
    registered.email_verified_at = timezone.now()
    assert not email_verification_token.check_token(registered, token)


def test_opening_the_link_without_the_password_verifies_nothing(registered, client):
    # given someone registered an address and its owner opens the link
    path = link_path(read_as_a_mail_client(mail.outbox[0])["text/plain"])
    # when the owner does not know the password chosen at registration
    response = client.post(path, {"password": "not-the-registration-password"})
    # then the address stays unverified and nobody is logged in
    assert response.status_code == 200
    registered.refresh_from_db()
    assert registered.email_verified_at is None
    assert logged_in_user_id(client) is None


def test_a_record_an_agent_made_joins_the_account_only_once_verified(db, client, django_capture_on_commit_callbacks):
    # given an agent-created customer with history, and a registration with the same address
    known = Customer.objects.create(
        given_name="Ada", family_name="Lovelace", email="ada.lovelace@example.com", passport_number="P1234567"
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REGISTER, registration())
    user = User.objects.get(username="ada.lovelace@example.com")
    # then before verification the new login does not reach the agent's record
    assert Customer.objects.get(user=user).pk != known.pk
    # when the address is verified with the password
    path = link_path(read_as_a_mail_client(mail.outbox[0])["text/plain"])
    client.post(path, {"password": PASSWORD})
    # then the login now owns the agent's record, and the empty one is gone
    known.refresh_from_db()
    assert known.user_id == user.pk
    assert Customer.objects.filter(email="ada.lovelace@example.com").count() == 1
