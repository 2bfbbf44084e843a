"""crm's own customer attributes: profile values and the current marketing consent, computed in SQL."""

from datetime import date

import pytest
from django.utils import timezone

from crm import registry
from crm.models import Customer
from tests.crm.factories import CustomerFactory
from tests.marketing.support import consent

pytestmark = pytest.mark.django_db


def test_crm_registers_typed_attributes():
    found = {a.key: a for a in registry.attributes() if a.app == "crm"}
    assert {k: a.type for k, a in found.items()} == {
        "home_airport_code": registry.TEXT, "nationality_code": registry.CHOICE, "language": registry.CHOICE, "age": registry.INTEGER,
        "birthday": registry.DATE, "birthday_month": registry.INTEGER, "birthday_day": registry.INTEGER,
        "customer_since": registry.DATE, "email_marketing_consent": registry.BOOLEAN, "sms_marketing_consent": registry.BOOLEAN,
        "push_marketing_consent": registry.BOOLEAN, "purposes_of_travel": registry.LIST,
    }  # fmt: skip
    assert ("FR", "France") in list(found["nationality_code"].choices)
    assert "en" in {code for code, _label in found["language"].choices}


def test_values_per_customer(django_assert_num_queries):
    today = timezone.localdate()
    # given a customer born 40 years ago tomorrow (still 39), who agreed, withdrew, then agreed again by e-mail
    born = date(today.year - 40, today.month, today.day)
    tomorrow_born = born.replace(day=born.day + 1) if born.day < 28 else born.replace(month=born.month % 12 + 1, day=1)
    one = CustomerFactory(
        date_of_birth=tomorrow_born, home_airport="", nationality="FR", preferred_language="fr",
        travel_purposes=["leisure", "business"],
    )  # fmt: skip
    consent(one, True, minutes_ago=30)
    consent(one, False, minutes_ago=20)
    consent(one, True, minutes_ago=10)
    consent(one, False, channel="sms", minutes_ago=5)
    # and one who withdrew last
    two = CustomerFactory(date_of_birth=None, home_airport="CDG", travel_purposes=[])
    consent(two, True, minutes_ago=30)
    consent(two, False, minutes_ago=10)
    keys = [a.key for a in registry.attributes() if a.app == "crm"]
    # when both are annotated with every crm attribute
    with django_assert_num_queries(1):
        rows = {c.pk: c for c in registry.annotate(Customer.objects.filter(pk__in=[one.pk, two.pk]), *keys)}
    # then
    first, second = rows[one.pk], rows[two.pk]
    expected_age = 39 if tomorrow_born.month == today.month or tomorrow_born.month != 1 else 40
    assert first.age == expected_age
    assert (first.birthday_month, first.birthday_day) == (tomorrow_born.month, tomorrow_born.day)
    assert first.birthday == tomorrow_born
    assert (
        first.email_marketing_consent is True and first.sms_marketing_consent is False and first.push_marketing_consent is False
    )
    assert second.email_marketing_consent is False
    assert first.home_airport_code is None and second.home_airport_code == "CDG"
    assert first.nationality_code == "FR" and first.language == "fr"
    assert second.age is None and second.birthday_month is None
    assert first.customer_since == timezone.localdate(one.created_at)
    assert sorted(first.purposes_of_travel) == ["business", "leisure"] and second.purposes_of_travel == []


def test_an_attribute_named_like_a_customer_field_is_refused():
    # an annotation cannot take a field's name, so such a key could never be annotated
    from django.core.exceptions import ImproperlyConfigured

    attribute = registry.CustomerAttribute(key="email", label="E-mail", type=registry.TEXT, expression=lambda: None)
    with pytest.raises(ImproperlyConfigured):
        registry.register_attribute(attribute)
    assert registry.attribute("age")
