"""``/api/v1/marketing/segments/``: list, create, read, replace and preview, in the project's error shape."""

import pytest

from marketing.models import Segment
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
URL = "/api/v1/marketing/segments/"
CDG = {"all": [{"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}]}


@pytest.fixture
def marketer_api(marketer, api_as):
    return api_as(marketer)


def test_create_read_replace_and_list(marketer_api):
    reachable(home_airport="CDG")
    created = marketer_api.post(URL, {"name": "Paris", "rules": CDG}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["last_count"] == 1 and body["consent_channel"] == "email" and body["created_by"] == "marketer1"
    read = marketer_api.get(f"{URL}{body['id']}/")
    assert read.status_code == 200 and read.json()["rules"] == CDG
    lhr = {"any": [{"attribute": "home_airport_code", "lookup": "exact", "value": "LHR"}]}
    replaced = marketer_api.put(f"{URL}{body['id']}/", {"name": "London", "rules": lhr, "consent_channel": "sms"}, format="json")
    assert replaced.status_code == 200 and replaced.json()["last_count"] == 0 and replaced.json()["consent_channel"] == "sms"
    listed = marketer_api.get(URL).json()
    assert [s["name"] for s in listed["results"]] == ["London"]


def test_bad_rules_answer_400_with_the_path_and_save_nothing(marketer_api):
    rules = {"all": [CDG["all"][0], {"attribute": "miles_balance", "lookup": "gte", "value": "lots"}]}
    response = marketer_api.post(URL, {"name": "Bad", "rules": rules}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_rules" and "rules.all.1.value" in error["fields"]
    assert not Segment.objects.exists()


def test_preview_counts_without_saving(marketer_api):
    customer = reachable(home_airport="CDG")
    response = marketer_api.post(f"{URL}preview/", {"rules": CDG}, format="json")
    assert response.status_code == 200
    assert response.json() == {"count": 1, "sample": [{"customer_number": customer.customer_number, "name": customer.full_name}]}
    assert not Segment.objects.exists()


def test_agents_and_passengers_are_refused(agent, passenger, api_as):
    segment = Segment.objects.create(name="S", rules=CDG)
    for user in (agent, passenger[0]):
        client = api_as(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"name": "X", "rules": CDG}, format="json").status_code == 403
        assert client.post(f"{URL}preview/", {"rules": CDG}, format="json").status_code == 403
    assert api_as(passenger[0]).get(f"{URL}{segment.pk}/").status_code == 404
    assert api_as(agent).get(f"{URL}{segment.pk}/").status_code == 403


def test_analyst_reads_but_cannot_write(analyst, api_as):
    segment = Segment.objects.create(name="S", rules=CDG)
    client = api_as(analyst)
    assert client.get(f"{URL}{segment.pk}/").status_code == 200
    assert client.put(f"{URL}{segment.pk}/", {"name": "T", "rules": CDG}, format="json").status_code == 403
    assert Segment.objects.get().name == "S"
