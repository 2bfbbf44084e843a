"""My data in the portal: download everything as one JSON file, or delete the account for good."""

import json

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import registry
from crm.models import Customer, User
from crm.selectors import identity_hash
from crm.services import consent_record, customer_update
from tests.crm.factories import DEMO_PASSWORD

DOWNLOAD = reverse("portal:download_data")
DELETE = reverse("portal:delete_account")
PASSPORT = "K7654321"

# Tables that keep records the airline must keep (tickets, payments...) with the person's name; none in crm.
KEPT_TABLES: set[str] = set()


@pytest.fixture
def zenobia(make_passenger):
    """A passenger with distinctive personal data, verified and able to log in with the demo password."""
    user, customer = make_passenger(
        "zenobia.quaresma@example.com", given_name="Zenobia", family_name="Quaresma-Thistlewood", city="Porto"
    )
    user.email_verified_at = timezone.now()
    user.first_name, user.last_name = "Zenobia", "Quaresma-Thistlewood"
    user.save(update_fields=["email_verified_at", "first_name", "last_name"])
    customer = customer_update(
        customer=customer,
        data={"passport_number": PASSPORT, "emergency_contact_name": "Octavius Quaresma-Thistlewood"},
    )
    return user, customer


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def rows_containing(needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a text, varchar, array or JSON column of any table holds the needle."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
              AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb') OR c.data_type = 'ARRAY')
            ORDER BY c.table_name, c.column_name
            """
        )
        columns = cursor.fetchall()
        for table, column in columns:
            if table in KEPT_TABLES:
                continue
            for needle in needles:
                cursor.execute(
                    f'SELECT 1 FROM "{table}" WHERE "{column}"::text ILIKE %s LIMIT 1',
                    ["%" + needle.replace("%", r"\%").replace("_", r"\_") + "%"],
                )
                if cursor.fetchone():
                    found.append((table, column, needle))
    return found


# --- Download --------------------------------------------------------------------------------


def test_download_my_data_is_one_json_attachment_with_everything_every_app_holds(zenobia):
    # given a passenger with consent history
    user, customer = zenobia
    consent_record(customer=customer, channel="email", purpose="marketing", granted=True, source="portal")
    consent_record(customer=customer, channel="email", purpose="marketing", granted=False, source="office")
    # when they download their data
    response = logged_in(user).get(DOWNLOAD)
    # then it is a JSON file to save, not a page, and not kept in any cache
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"{customer.customer_number}.json" in disposition
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    # with the profile (including their own passport number), the consent history and every app's part
    assert data["customer_number"] == customer.customer_number
    profile = data["crm"]["profile"]
    assert (profile["given_name"], profile["family_name"], profile["passport_number"]) == (
        "Zenobia",
        "Quaresma-Thistlewood",
        PASSPORT,
    )
    assert [(e["granted"], e["source"]) for e in data["crm"]["consent_history"]] == [(True, "portal"), (False, "office")]
    assert {ext.label for ext in registry.extensions() if ext.exporter} <= set(data)


def test_download_is_always_the_logged_in_passengers_own_data(zenobia, make_passenger):
    # given two passengers
    user, customer = zenobia
    other_user, other = make_passenger("other@example.com", given_name="Octavia", family_name="Otherperson")
    # when each downloads, whatever they add to the address
    mine = logged_in(user).get(DOWNLOAD, {"customer": other.customer_number, "customer_number": other.customer_number})
    theirs = logged_in(other_user).get(DOWNLOAD)
    # then each gets only their own record
    assert json.loads(mine.content)["customer_number"] == customer.customer_number
    assert "Octavia" not in mine.content.decode()
    assert json.loads(theirs.content)["customer_number"] == other.customer_number
    assert "Zenobia" not in theirs.content.decode()


def test_my_data_page_explains_and_links_to_download_and_delete(zenobia):
    page = logged_in(zenobia[0]).get(reverse("portal:my_data")).content.decode()
    assert "What we hold about you" in page
    assert f'href="{DOWNLOAD}"' in page and f'href="{DELETE}"' in page


# --- Delete my account -----------------------------------------------------------------------


def test_deleting_the_account_needs_the_right_password(zenobia):
    user, customer = zenobia
    client = logged_in(user)
    for password in ("", "not-my-password"):
        response = client.post(DELETE, {"password": password})
        assert response.status_code == 200
        assert response.context["form"].errors["password"]
    customer.refresh_from_db()
    assert not customer.is_anonymized
    assert client.get(reverse("portal:profile")).status_code == 200


def test_deleting_the_account_erases_the_passenger_everywhere_and_closes_the_login(zenobia, django_capture_on_commit_callbacks):
    # given a passenger who used the portal: logged in (and once mistyped), edited the profile, chose consent, got e-mail
    user, customer = zenobia
    client = Client()
    client.post(reverse("portal:login"), {"username": "zenobia.quaresma@example.com", "password": "typo"})
    assert (
        client.post(reverse("portal:login"), {"username": "zenobia.quaresma@example.com", "password": DEMO_PASSWORD}).status_code
        == 302
    )
    profile = client.get(reverse("portal:profile")).context["form"]
    data = {name: profile[name].value() for name in profile.fields if profile[name].value() not in (None, "")}
    data.update({"city": "Zenobia-town", "date_of_birth": "1970-01-01", "phone": "+351912345678"})
    data.pop("special_assistance", None), data.pop("travel_purposes", None)
    assert client.post(reverse("portal:profile"), data).status_code == 302
    client.post(reverse("portal:consent"), {"email__marketing": "on"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:password_reset"), {"email": "zenobia.quaresma@example.com"})
    assert mail.outbox
    needles = ["Zenobia", "Quaresma-Thistlewood", "zenobia.quaresma@example.com", PASSPORT, identity_hash(PASSPORT)]
    assert {needle for _, _, needle in rows_containing(needles)} >= {"Zenobia", "zenobia.quaresma@example.com"}
    # when they delete their account with their password
    response = client.post(DELETE, {"password": DEMO_PASSWORD})
    # then they are logged out and told so
    assert response.status_code == 302 and response.url == reverse("portal:account_deleted")
    assert "_auth_user_id" not in client.session
    assert "Your account is deleted" in client.get(response.url).content.decode()
    # and no table holds their name, e-mail address or passport number any more
    assert rows_containing(needles) == []
    customer.refresh_from_db()
    assert customer.is_anonymized and customer.user is None
    # and the login no longer works
    response = Client().post(reverse("portal:login"), {"username": "zenobia.quaresma@example.com", "password": DEMO_PASSWORD})
    assert response.status_code == 200 and "The e-mail address or password is not correct." in response.content.decode()
    assert not User.objects.get(pk=user.pk).is_active
    # and the old session reaches nothing
    assert client.get(reverse("portal:profile")).status_code == 302


def test_a_deleted_passengers_address_can_register_afresh(zenobia, client, django_capture_on_commit_callbacks):
    user, customer = zenobia
    logged_in(user).post(DELETE, {"password": DEMO_PASSWORD})
    password = "Fresh-start-password-31"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:register"),
            {
                "email": "zenobia.quaresma@example.com",
                "given_name": "Zenobia",
                "family_name": "Q",
                "password1": password,
                "password2": password,
                "preferred_language": "en",
            },
        )
    assert response.status_code == 302
    new = Customer.objects.get(user__username="zenobia.quaresma@example.com")
    assert new.pk != customer.pk and not new.is_anonymized
