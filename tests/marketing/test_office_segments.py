"""The segment pages: marketers build segments from rows without code, see counts, upload lists; others are refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketing import services
from marketing.models import Segment, StaticList, StaticListMember
from tests.crm.factories import CustomerFactory
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db


def _form(name="Paris", combine="all", rows=(), **extra):
    data = {
        "name": name, "description": "", "consent_channel": "email", "combine": combine, "static_list": "", "rules_json": "",
        "rule-TOTAL_FORMS": str(len(rows)), "rule-INITIAL_FORMS": "0", "rule-MIN_NUM_FORMS": "0", "rule-MAX_NUM_FORMS": "40",
    }  # fmt: skip
    for i, (attribute, lookup, value, param) in enumerate(rows):
        data.update(
            {f"rule-{i}-attribute": attribute, f"rule-{i}-lookup": lookup, f"rule-{i}-value": value, f"rule-{i}-param": param}
        )
    data.update(extra)
    return data


def test_marketer_builds_a_segment_from_rows(marketer_client):
    # given two reachable customers at different airports
    paris = reachable(home_airport="CDG")
    reachable(home_airport="LHR")
    assert marketer_client.get(reverse("marketing_office:segment_new")).status_code == 200
    # when a marketer submits a row "home airport is CDG" and a blank row
    response = marketer_client.post(
        reverse("marketing_office:segment_new"), _form(rows=[("home_airport_code", "exact", "CDG", ""), ("", "", "", "")])
    )
    # then the segment is saved with its count, and its page shows the customer
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("marketing_office:segment_detail", args=[segment.pk])
    assert segment.rules == {"all": [{"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}]}
    assert segment.last_count == 1
    page = marketer_client.get(response["Location"])
    assert page.status_code == 200 and paris.customer_number in page.content.decode()
    listing = marketer_client.get(reverse("marketing_office:segment_list")).content.decode()
    assert "Paris" in listing
    # and editing shows the row again, and saving it changes the rules
    edit = marketer_client.get(reverse("marketing_office:segment_edit", args=[segment.pk])).content.decode()
    assert 'value="CDG"' in edit
    marketer_client.post(
        reverse("marketing_office:segment_edit", args=[segment.pk]),
        _form(name="London", rows=[("home_airport_code", "exact", "LHR", "")]),
    )
    segment.refresh_from_db()
    assert segment.name == "London" and segment.rules["all"][0]["value"] == "LHR"


def test_rows_in_groups_build_and_or_without_code(marketer_client):
    # given French and British customers in Paris and London
    fr_cdg = reachable(nationality="FR", home_airport="CDG")
    gb_lhr = reachable(nationality="GB", home_airport="LHR")
    reachable(nationality="FR", home_airport="LHR")
    rows = [
        ("nationality_code", "exact", "FR", ""), ("home_airport_code", "exact", "CDG", ""),
        ("nationality_code", "exact", "GB", ""), ("home_airport_code", "exact", "LHR", ""),
    ]  # fmt: skip
    groups = {"rule-0-group": "1", "rule-1-group": "1", "rule-2-group": "2", "rule-3-group": "2"}
    # when a marketer asks for (French AND Paris) OR (British AND London) with two groups of rows
    response = marketer_client.post(
        reverse("marketing_office:segment_new"), _form(combine="all", rows=rows, combine_groups="any", **groups)
    )
    # then the segment nests the groups and holds exactly those two customers
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert segment.rules == {
        "any": [{"all": [{"attribute": "nationality_code", "lookup": "exact", "value": "FR"},
                         {"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}]},
                {"all": [{"attribute": "nationality_code", "lookup": "exact", "value": "GB"},
                         {"attribute": "home_airport_code", "lookup": "exact", "value": "LHR"}]}],
    }  # fmt: skip
    assert set(services.segment_compile(rules=segment.rules, channel="email").values_list("pk", flat=True)) == {
        fr_cdg.pk, gb_lhr.pk,
    }  # fmt: skip
    # and the edit page shows the rows in their groups again, not as JSON
    edit = marketer_client.get(reverse("marketing_office:segment_edit", args=[segment.pk]))
    conditions = edit.context["conditions"]
    assert [f.initial.get("group") for f in conditions.forms[:4]] == [1, 1, 2, 2]
    assert not edit.context["form"].initial.get("rules_json")
    # and a comparison the attribute does not have, in the second group, shows beside its own row
    response = marketer_client.post(
        reverse("marketing_office:segment_new"),
        _form(name="Bad", rows=[*rows[:3], ("age", "overlap", "5", "")], combine_groups="any", **groups),
    )
    assert response.status_code == 400 and Segment.objects.count() == 1
    assert "lookup" in response.context["conditions"].forms[3].errors


def test_a_bad_row_shows_beside_that_row_and_saves_nothing(marketer_client):
    response = marketer_client.post(
        reverse("marketing_office:segment_new"),
        _form(rows=[("", "", "", ""), ("home_airport_code", "exact", "CDG", ""), ("age", "gte", "old", "")]),
    )
    assert response.status_code == 400
    conditions = response.context["conditions"]
    assert conditions.forms[2].errors["value"] == ["Enter a whole number."]
    assert not Segment.objects.exists()


def test_live_count_endpoint(marketer_client):
    reachable(home_airport="CDG")
    CustomerFactory(home_airport="CDG")  # never agreed to marketing
    url = reverse("marketing_office:segment_preview")
    assert marketer_client.post(url, _form(rows=[("home_airport_code", "exact", "CDG", "")])).json() == {"count": 1}
    refused = marketer_client.post(url, _form(rows=[("age", "icontains", "3", "")]))
    assert refused.status_code == 400 and "rules.all.0.lookup" in refused.json()["error"]["fields"]
    assert not Segment.objects.exists()


@pytest.mark.parametrize("name", ["segment_list", "segment_new", "static_list_list", "static_list_upload"])
def test_agents_and_passengers_are_refused(agent_client, passenger_client, name):
    url = reverse(f"marketing_office:{name}")
    assert agent_client.get(url).status_code == 403
    assert passenger_client.get(url).status_code == 403


def test_analyst_reads_but_cannot_create(analyst, client):
    client.force_login(analyst, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("marketing_office:segment_list")).status_code == 200
    assert client.get(reverse("marketing_office:segment_new")).status_code == 403
    assert (
        client.post(reverse("marketing_office:segment_new"), _form(rows=[("home_airport_code", "exact", "CDG", "")])).status_code
        == 403
    )
    assert not Segment.objects.exists()


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("list.csv", text.encode(), content_type="text/csv")


def test_csv_import_is_all_or_nothing_with_a_row_report(marketer_client):
    # given two customers, one erased
    anna = CustomerFactory(email="anna@example.com")
    ben = CustomerFactory()
    gone = CustomerFactory()
    gone.anonymized_at = gone.created_at
    gone.save()
    url = reverse("marketing_office:static_list_upload")
    # when the file has good rows and bad ones
    body = f"customer\n{ben.customer_number}\nANNA@example.com\nnobody@example.com\n{gone.customer_number}\n{ben.customer_number}\nnot-a-number\n"
    response = marketer_client.post(url, {"name": "VIP", "description": "", "file": _csv(body)})
    # then nothing is imported and every bad row is reported with its number, value and reason
    assert response.status_code == 400
    assert not StaticList.objects.exists() and not StaticListMember.objects.exists()
    report = [(e.row, e.value) for e in response.context["report"]]
    assert report == [(4, "nobody@example.com"), (5, gone.customer_number), (6, ben.customer_number), (7, "not-a-number")]
    html = response.content.decode()
    assert "No customer has this e-mail address." in html and "The same customer as row 2." in html
    # when the file is corrected, everything is imported
    response = marketer_client.post(
        url, {"name": "VIP", "description": "", "file": _csv(f"{ben.customer_number}\nanna@example.com\n")}
    )
    assert response.status_code == 302
    static_list = StaticList.objects.get()
    assert static_list.size == 2
    assert set(static_list.members.values_list("customer_id", flat=True)) == {anna.pk, ben.pk}


def test_a_segment_rule_can_name_a_static_list():
    listed, other = reachable(), reachable()
    static_list = services.static_list_import(name="L", content=f"{listed.customer_number}\n".encode())
    rules = {"all": [{"list": static_list.pk}]}
    assert list(services.segment_compile(rules=rules, channel="email").values_list("pk", flat=True)) == [listed.pk]
    assert other.pk not in set(
        services.segment_compile(rules={"any": [{"list": static_list.pk}]}, channel="email").values_list("pk", flat=True)
    )


def test_too_many_rows_are_refused(monkeypatch):
    monkeypatch.setattr(services.lists, "MAX_ROWS", 2)
    customers = [CustomerFactory() for _ in range(3)]
    with pytest.raises(services.lists.ApplicationError) as refused:
        services.static_list_import(name="Big", content="\n".join(c.customer_number for c in customers).encode())
    assert refused.value.code == "file_too_large" and not StaticList.objects.exists()


def test_recount_updates_the_figure_for_marketers_only(marketer_client, analyst, client):
    segment = services.segment_create(
        name="Paris", rules={"all": [{"attribute": "home_airport_code", "lookup": "exact", "value": "CDG"}]}
    )
    assert segment.last_count == 0
    reachable(home_airport="CDG")
    client.force_login(analyst, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("marketing_office:segment_recount", args=[segment.pk])
    assert client.post(url).status_code == 403
    assert "Count again" not in client.get(reverse("marketing_office:segment_list")).content.decode()
    assert marketer_client.post(url).status_code == 302
    segment.refresh_from_db()
    assert segment.last_count == 1


def test_a_segment_whose_list_is_gone_says_so_instead_of_failing(marketer_client):
    customer = reachable()
    static_list = services.static_list_import(name="L", content=f"{customer.customer_number}\n".encode())
    segment = services.segment_create(name="From a list", rules={"all": [{"list": static_list.pk}]})
    static_list.delete()
    page = marketer_client.get(reverse("marketing_office:segment_detail", args=[segment.pk]))
    assert page.status_code == 200 and "There is no such static list." in page.content.decode()
    assert marketer_client.post(reverse("marketing_office:segment_recount", args=[segment.pk])).status_code == 302


def test_importing_one_customer_says_so_in_the_singular(marketer_client):
    # Given a file with one customer
    one = CustomerFactory()
    url = reverse("marketing_office:static_list_upload")
    # When it is imported
    response = marketer_client.post(
        url, {"name": "One", "description": "", "file": _csv(f"{one.customer_number}\n")}, follow=True
    )
    # Then the message counts one customer, not "1 customers"
    html = response.content.decode()
    assert "1 customer imported." in html and "1 customers" not in html
