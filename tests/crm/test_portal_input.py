"""No input to a portal form ever answers 500; bad input is refused and changes nothing."""

import pytest
from django.urls import reverse

from crm.models import ConsentEvent, Customer, User

GARBAGE = [
    "\x00",
    "a" * 5000,
    "😀" * 50,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "%00%ff",
    "",
]

ANONYMOUS_FORMS = {
    "portal:login": ["username", "password"],
    "portal:register": ["email", "given_name", "family_name", "password1", "password2", "preferred_language"],
    "portal:resend_verification": ["email"],
    "portal:password_reset": ["email"],
}
PASSENGER_FORMS = {
    "portal:profile": ["given_name", "phone", "date_of_birth", "home_airport", "special_assistance", "nationality", "title"],
    "portal:consent": ["email__marketing", "sms__service"],
    "portal:delete_account": ["password"],
    "portal:password_change": ["old_password", "new_password1", "new_password2"],
}


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize(("name", "fields"), ANONYMOUS_FORMS.items())
def test_anonymous_forms_refuse_garbage_without_an_error_page(db, client, name, fields, value):
    response = client.post(reverse(name), dict.fromkeys(fields, value))
    assert response.status_code < 500
    assert not User.objects.exists()


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize(("name", "fields"), PASSENGER_FORMS.items())
def test_passenger_forms_refuse_garbage_without_an_error_page(passenger, passenger_client, name, fields, value):
    _, customer = passenger
    before = Customer.objects.get(pk=customer.pk)
    response = passenger_client.post(reverse(name), dict.fromkeys(fields, value))
    assert response.status_code < 500
    after = Customer.objects.get(pk=customer.pk)
    if name != "portal:consent":  # an unticked box is a valid answer there
        assert after.updated_at == before.updated_at and not after.is_anonymized
        assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/verify/%00/%00/",
        "/accounts/verify/" + "A" * 500 + "/x/",
        "/accounts/verify/MQ/" + "z" * 500 + "/",
        "/accounts/password/reset/%00/set-password/",
        "/accounts/password/reset/MQ/" + "z" * 500 + "/",
        "/preferences/communication/?page=%00",
    ],
)
def test_mangled_links_never_answer_500(passenger_client, path):
    assert passenger_client.get(path).status_code < 500
