"""The passenger edits their own record in the portal; bad input shows per-field errors and changes nothing."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Customer, TimelineEntry
from crm.services import customer_update

PROFILE = reverse("portal:profile")
ACCOUNT_PAGES = [
    "portal:profile",
    "portal:consent",
    "portal:my_data",
    "portal:download_data",
    "portal:delete_account",
    "portal:password_change",
    "portal:password_change_done",
]


@pytest.fixture
def me(passenger):
    user, customer = passenger
    customer = customer_update(customer=customer, data={"passport_number": "K1234567", "phone": "+442079460958"})
    return user, customer


def profile_data(client: Client) -> dict:
    """What the browser would send back: the form as rendered, unchanged."""
    form = client.get(PROFILE).context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        elif isinstance(value, (datetime.date,)):
            data[name] = value.isoformat()
        else:
            data[name] = field.widget.format_value(value) if hasattr(field.widget, "format_value") else value
    return {k: v for k, v in data.items() if v not in (None, "")}


def test_the_passenger_sees_their_own_record_with_their_passport_number(me, passenger_client):
    user, customer = me
    page = passenger_client.get(PROFILE).content.decode()
    assert customer.customer_number in page and customer.given_name in page
    assert 'value="K1234567"' in page and 'value="+442079460958"' in page
    assert page.count("<h1") == 1 and "<script" not in page and "<style" not in page and " style=" not in page


def test_the_passenger_edits_their_record_through_the_service(me, passenger_client):
    user, customer = me
    data = {
        **profile_data(passenger_client),
        "title": "DR",
        "given_name": "Grace",
        "date_of_birth": "1980-02-29",
        "phone": "+8613800138000",
        "nationality": "CN",
        "city": "Beijing",
        "passport_number": "e 98765 43",
        "passport_expiry": "2031-06-30",
        "passport_country": "CN",
        "national_id_number": "110101199003070011",
        "meal_preference": "VGML",
        "seat_preference": "aisle",
        "special_assistance": ["WCHR", "DEAF"],
        "preferred_cabin": "business",
        "home_airport": "pek",
        "travel_purposes": ["business", "vfr"],
        "emergency_contact_name": "Li Wei",
        "emergency_contact_phone": "+8613900139000",
        "emergency_contact_relationship": "Brother",
    }
    response = passenger_client.post(PROFILE, data)
    assert response.status_code == 302 and response.url == PROFILE, response.context and response.context["form"].errors
    customer.refresh_from_db()
    assert customer.title == "DR" and customer.given_name == "Grace"
    assert customer.date_of_birth == datetime.date(1980, 2, 29)
    assert str(customer.phone) == "+8613800138000" and customer.nationality.code == "CN"
    assert customer.passport_number == "E9876543" and customer.passport_expiry == datetime.date(2031, 6, 30)
    assert customer.meal_preference == "VGML" and customer.seat_preference == "aisle"
    assert customer.special_assistance == ["WCHR", "DEAF"] and customer.travel_purposes == ["business", "vfr"]
    assert customer.home_airport == "PEK" and customer.preferred_cabin == "business"
    assert customer.emergency_contact_name == "Li Wei"
    # the change is on the timeline (who changed what is kept by the service)
    entry = TimelineEntry.objects.filter(customer=customer, kind="profile.changed").first()  # newest first
    assert "passport_number" in entry.data["fields"] and "city" in entry.data["fields"]
    # and the page confirms it
    assert "Your profile is saved." in passenger_client.get(PROFILE).content.decode()


def test_saving_the_unchanged_form_changes_nothing(me, passenger_client):
    user, customer = me
    before = Customer.objects.get(pk=customer.pk).updated_at
    entries = TimelineEntry.objects.count()
    response = passenger_client.post(PROFILE, profile_data(passenger_client), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).updated_at == before
    assert TimelineEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "Enter a valid phone number"),
        ("phone", "+44 20", "Enter a valid phone number"),
        ("emergency_contact_phone", "call me", "Enter a valid phone number"),
        ("date_of_birth", "1980-02-30", "Enter a valid date."),
        ("date_of_birth", "2999-01-01", "Date of birth cannot be in the future."),
        ("home_airport", "XQZ", "Unknown IATA airport code."),
        ("home_airport", "L1N", "three-letter IATA airport code"),
        ("home_airport", "LONDON", "Ensure this value has at most 3 characters"),
        ("meal_preference", "PIZZA", "Select a valid choice."),
        ("title", "KING", "Select a valid choice."),
        ("special_assistance", "JETPACK", "Select a valid choice."),
        ("nationality", "ZZ", "Select a valid choice."),
        ("preferred_language", "tlh", "Select a valid choice."),
        ("passport_number", "K1234567<script>", "5 to 20 letters and digits"),
        ("given_name", "", "This field is required."),
        ("given_name", "x" * 101, "Ensure this value has at most 100 characters"),
        ("city", "Nul\x00byte", "Null characters are not allowed."),
    ],
)
def test_invalid_input_shows_an_error_by_the_field_and_changes_nothing(me, passenger_client, field, value, message):
    # given the passenger's record as stored
    user, customer = me
    before = Customer.objects.get(pk=customer.pk)
    # when they send one bad value together with a good change
    data = {**profile_data(passenger_client), "city": "Paris", field: value}
    response = passenger_client.post(PROFILE, data)
    # then the form comes back with the error by that field and in the summary
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field]), errors
    page = response.content.decode()
    assert 'id="error-summary"' in page and 'aria-invalid="true"' in page
    # and nothing was saved, not even the good change
    after = Customer.objects.get(pk=customer.pk)
    assert after.city == before.city and after.phone == before.phone and after.updated_at == before.updated_at
    assert after.passport_number == "K1234567"


def test_changing_the_preferred_language_switches_the_site_language(me, passenger_client, settings):
    user, customer = me
    response = passenger_client.post(PROFILE, {**profile_data(passenger_client), "preferred_language": "zh-hans"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    customer.refresh_from_db()
    assert customer.preferred_language == "zh-hans"
    page = passenger_client.get(PROFILE).content.decode()
    assert '<html lang="zh-hans">' in page and "我的资料" in page


def test_the_passenger_cannot_change_their_login_email_or_customer_number_here(me, passenger_client):
    user, customer = me
    data = {**profile_data(passenger_client), "email": "new@example.com", "customer_number": "AAAAAAAA", "user": "1"}
    passenger_client.post(PROFILE, data)
    after = Customer.objects.get(pk=customer.pk)
    assert after.email == customer.email and after.customer_number == customer.customer_number and after.user_id == user.pk


def test_another_passengers_record_never_shows(me, make_passenger):
    # given two passengers
    other_user, other = make_passenger("other@example.com", given_name="Octavia", family_name="Otherperson")
    customer_update(customer=other, data={"passport_number": "X7777777"})
    client = Client()
    client.force_login(me[0], backend="django.contrib.auth.backends.ModelBackend")
    # when the first one visits every account page
    for name in ACCOUNT_PAGES:
        page = client.get(reverse(name)).content.decode()
        # then nothing of the other's record is on it
        assert "Octavia" not in page and "X7777777" not in page and other.customer_number not in page
    # and saving their profile never touches the other record
    client.post(PROFILE, {**profile_data(client), "city": "Lyon"})
    assert Customer.objects.get(pk=other.pk).city == ""


@pytest.mark.parametrize("name", ACCOUNT_PAGES)
def test_account_pages_send_anonymous_visitors_to_log_in(db, client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("portal:login"))


@pytest.mark.parametrize("name", ACCOUNT_PAGES)
def test_a_staff_login_without_a_customer_record_gets_404_on_account_pages(agent_client, name):
    assert agent_client.get(reverse(name)).status_code == 404
    # pages that take a form refuse it the same way; read-only pages refuse the method first
    assert agent_client.post(reverse(name), {"password": "x", "city": "x"}).status_code in (404, 405)


def test_an_erased_passengers_session_reaches_nothing(me, passenger_client):
    user, customer = me
    Customer.objects.filter(pk=customer.pk).update(anonymized_at=timezone.now())
    assert passenger_client.get(PROFILE).status_code in (302, 404)
