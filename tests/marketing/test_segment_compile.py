"""Segments compile to one query over attributes from every app, with consent and erasure always applied."""

from datetime import date

import pytest
from django.utils import timezone

from crm.errors import ApplicationError
from loyalty.models import Member, Tier
from marketing import services
from marketing.models import Segment
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import credit, member
from tests.marketing.support import consent, reachable
from tests.reservations.test_customer_attributes import flown

pytestmark = pytest.mark.django_db


def ids(rules, channel="email"):
    return set(services.segment_compile(rules=rules, channel=channel).values_list("pk", flat=True))


def years_ago(years: int, month: int = 1, day: int = 15) -> date:
    return date(timezone.localdate().year - years, month, day)


def test_crm_attributes_filter_by_profile():
    # given customers with different homes, nationalities, languages and ages
    paris = reachable(home_airport="CDG", nationality="FR", preferred_language="fr", date_of_birth=years_ago(30, 1, 1))
    london = reachable(home_airport="LHR", nationality="GB", preferred_language="en", date_of_birth=years_ago(60, 1, 1))
    unknown = reachable(home_airport="", nationality="", date_of_birth=None)
    # then each attribute type selects the right people
    assert ids({"all": [{"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}]}) == {paris.pk}
    assert ids({"all": [{"attribute": "nationality_code", "lookup": "in", "value": ["FR", "GB"]}]}) == {paris.pk, london.pk}
    assert ids({"all": [{"attribute": "language", "lookup": "exact", "value": "en"}]}) >= {london.pk}
    assert ids({"all": [{"attribute": "age", "lookup": "gte", "value": 50}]}) == {london.pk}
    assert ids({"all": [{"attribute": "age", "lookup": "isnull", "value": True}]}) == {unknown.pk}
    assert ids({"all": [{"attribute": "birthday_month", "lookup": "exact", "value": 1}]}) == {paris.pk, london.pk}
    assert ids({"all": [{"attribute": "birthday", "lookup": "lt", "value": years_ago(40).isoformat()}]}) == {london.pk}
    assert ids({"all": [{"attribute": "customer_since", "lookup": "lte", "value": timezone.localdate().isoformat()}]}) == {
        paris.pk, london.pk, unknown.pk,
    }  # fmt: skip


def test_purpose_of_travel_selects_business_travellers():
    # given a business traveller, a leisure traveller and one who said nothing
    business = reachable(travel_purposes=["business", "leisure"])
    reachable(travel_purposes=["leisure"])
    reachable(travel_purposes=[])
    # then the list attribute finds those whose purposes include business
    rules = {"all": [{"attribute": "purposes_of_travel", "lookup": "contains", "value": ["business"]}]}
    assert ids(rules) == {business.pk}


def test_and_or_nesting():
    # given French and British customers at two airports
    fr_cdg = reachable(nationality="FR", home_airport="CDG")
    fr_nce = reachable(nationality="FR", home_airport="NCE")
    gb_cdg = reachable(nationality="GB", home_airport="CDG")
    reachable(nationality="DE", home_airport="MUC")
    fr = {"attribute": "nationality_code", "lookup": "exact", "value": "FR"}
    cdg = {"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}
    gb = {"attribute": "nationality_code", "lookup": "exact", "value": "GB"}
    # then all = and, any = or, and groups nest
    assert ids({"all": [fr, cdg]}) == {fr_cdg.pk}
    assert ids({"any": [fr, cdg]}) == {fr_cdg.pk, fr_nce.pk, gb_cdg.pk}
    assert ids({"all": [cdg, {"any": [fr, gb]}]}) == {fr_cdg.pk, gb_cdg.pk}
    assert ids({"any": [{"all": [fr, cdg]}, {"all": [gb, cdg]}]}) == {fr_cdg.pk, gb_cdg.pk}


def test_consent_and_erasure_are_applied_at_compile_time():
    # given a customer who agreed then withdrew, one who agrees, one who never answered, one on sms only, one erased
    withdrew = reachable(home_airport="CDG")
    consent(withdrew, granted=False, minutes_ago=1)
    agrees = reachable(home_airport="CDG")
    silent = CustomerFactory(home_airport="CDG")
    sms_only = CustomerFactory(home_airport="CDG")
    consent(sms_only, channel="sms")
    erased = reachable(home_airport="CDG")
    erased.anonymized_at = timezone.now()
    erased.save()
    rule = {"all": [{"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}]}
    # then on e-mail only the customer who still agrees is in, and on sms only the sms one
    assert ids(rule) == {agrees.pk}
    assert ids(rule, channel="sms") == {sms_only.pk}
    assert silent.pk not in ids(rule) | ids(rule, "sms") | ids(rule, "push")


def test_attributes_from_crm_reservations_and_loyalty_in_one_query(django_assert_num_queries):
    # given a gold member over 30 who flew to CDG recently, and others missing one of these
    wanted = reachable(date_of_birth=years_ago(35), home_airport="LHR")
    gold = Tier.objects.get(code="gold")
    m = member(wanted)
    Member.objects.filter(pk=m.pk).update(tier=gold)
    credit(m, 5000)
    flown(wanted, days_ago=20, origin="LHR", destination="CDG")
    blue = reachable(date_of_birth=years_ago(35), home_airport="LHR")
    credit(member(blue), 5000)
    flown(blue, days_ago=20, origin="LHR", destination="CDG")
    rules = {
        "all": [
            {"attribute": "age", "lookup": "gt", "value": 30},
            {"attribute": "tier", "lookup": "in", "value": ["gold", "platinum"]},
            {"attribute": "miles_balance", "lookup": "gte", "value": 1000},
            {"attribute": "flights_in_last_months", "lookup": "gte", "value": 1, "params": {"months": 6}},
            {"attribute": "routes_flown", "lookup": "contains", "value": ["LHR-CDG"]},
            {
                "any": [
                    {"attribute": "home_airport_code", "lookup": "exact", "value": "LHR"},
                    {"attribute": "email_marketing_consent", "lookup": "exact", "value": True},
                ]
            },
        ]
    }
    customers = services.segment_compile(rules=rules, channel="email")
    # then counting is one query, and fetching the ids is one query
    with django_assert_num_queries(1):
        assert customers.count() == 1
    with django_assert_num_queries(1):
        assert list(customers.values_list("pk", flat=True)) == [wanted.pk]


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"all": [{"attribute": "nope", "lookup": "exact", "value": 1}]}, "rules.all.0.attribute"),
        ({"all": [{"attribute": "age", "lookup": "icontains", "value": 1}]}, "rules.all.0.lookup"),
        (
            {"any": [{"attribute": "age", "lookup": "gt", "value": 1}, {"attribute": "age", "lookup": "gt", "value": "old"}]},
            "rules.any.1.value",
        ),
        ({"all": [{"attribute": "birthday", "lookup": "gt", "value": "31/12/1990"}]}, "rules.all.0.value"),
        ({"all": [{"attribute": "nationality_code", "lookup": "exact", "value": "XX"}]}, "rules.all.0.value"),
        ({"all": [{"attribute": "email_marketing_consent", "lookup": "exact", "value": 3}]}, "rules.all.0.value"),
        (
            {"all": [{"attribute": "flights_in_last_months", "lookup": "gte", "value": 1, "params": {"months": 999}}]},
            "rules.all.0.params.months",
        ),
        ({"all": [{"any": []}]}, "rules.all.0.any"),
        ({"both": []}, "rules.both"),
        ([], "rules"),
        ({"all": [{"list": 999999}]}, "rules.all.0.list"),
    ],
)
def test_bad_rules_name_their_path_and_save_nothing(rules, path):
    with pytest.raises(ApplicationError) as refused:
        services.segment_create(name="Bad", rules=rules)
    assert path in refused.value.fields
    assert path in refused.value.message
    assert not Segment.objects.exists()


def test_create_stores_normalised_rules_and_count(marketer):
    in_it = reachable(home_airport="CDG", date_of_birth=None)
    segment = services.segment_create(
        name="Paris", rules={"all": [{"attribute": "age", "lookup": "isnull", "value": "true"}, {"attribute": "home_airport_code", "lookup": "exact", "value": " CDG "}]},
        by=marketer,
    )  # fmt: skip
    assert segment.rules == {
        "all": [
            {"attribute": "age", "lookup": "isnull", "value": True},
            {"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"},
        ]
    }
    assert segment.last_count == 1 and segment.created_by == marketer
    preview = services.segment_preview(rules=segment.rules, channel="email")
    assert preview.count == 1 and preview.sample == [in_it]
    # and a second segment with the same name is refused
    with pytest.raises(ApplicationError) as refused:
        services.segment_create(name="paris", rules=segment.rules)
    assert refused.value.code == "segment_name_taken"
