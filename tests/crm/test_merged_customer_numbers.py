"""A customer number that was merged away still leads somewhere: the office opens the surviving record,
and the API answers a permanent redirect to the same endpoint of the survivor."""

import pytest
from django.urls import reverse

from crm.models import Customer
from crm.services import customer_create, customer_merge

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(supervisor):
    """Ann's second record (the loser) was merged into her first; then the first into a third (a chain)."""
    first = customer_create(data={"given_name": "Ann", "family_name": "Lee", "email": "ann@example.com"})
    second = customer_create(data={"given_name": "Anne", "family_name": "Lee", "phone": "+442079460958"})
    customer_merge(survivor=first, loser=second, by=supervisor)
    return first, second.customer_number


def test_office_360_of_a_merged_away_number_redirects_to_the_survivor(supervisor_client, merged):
    survivor, gone = merged
    # When an agent opens the merged-away number's 360
    response = supervisor_client.get(reverse("office:customer_detail", args=[gone]), follow=True)
    # Then they land on the survivor's 360, told why
    assert response.redirect_chain == [(reverse("office:customer_detail", args=[survivor.customer_number]), 302)]
    html = response.content.decode()
    assert survivor.customer_number in html
    assert f"Customer {gone} was merged into {survivor.customer_number}" in html


def test_office_sub_pages_keep_the_page_and_its_query(supervisor_client, merged):
    survivor, gone = merged
    # When the timeline of the merged-away number is opened at page 2
    response = supervisor_client.get(reverse("office:customer_timeline", args=[gone]) + "?page=2")
    # Then the same page of the survivor's timeline opens
    assert response.status_code == 302
    assert response["Location"] == reverse("office:customer_timeline", args=[survivor.customer_number]) + "?page=2"


def test_a_form_sent_to_a_merged_away_number_saves_nothing(supervisor_client, merged):
    survivor, gone = merged
    # When an edit form opened before the merge is sent
    response = supervisor_client.post(
        reverse("office:customer_edit", args=[gone]), {"given_name": "Changed", "family_name": "Lee"}, follow=True
    )
    # Then the agent sees the survivor's 360, told that nothing was saved, and the survivor is unchanged
    assert response.redirect_chain[-1][0] == reverse("office:customer_detail", args=[survivor.customer_number])
    assert "nothing was saved" in response.content.decode()
    assert Customer.objects.get(pk=survivor.pk).given_name == "Ann"


def test_a_chain_of_merges_leads_to_the_last_survivor(supervisor, supervisor_client, merged):
    first, gone = merged
    # Given the survivor itself merged into a third record later
    third = customer_create(data={"given_name": "Ann", "family_name": "Lee-Wong"})
    customer_merge(survivor=third, loser=first, by=supervisor)
    # When the first merged-away number is opened
    response = supervisor_client.get(reverse("office:customer_detail", args=[gone]))
    # Then it leads to the record that holds everything now
    assert response["Location"] == reverse("office:customer_detail", args=[third.customer_number])


def test_a_never_used_number_is_still_a_404(supervisor_client, db):
    assert supervisor_client.get(reverse("office:customer_detail", args=["ZZZZZZZZ"])).status_code == 404


def test_api_read_of_a_merged_away_number_is_a_301_to_the_survivor(supervisor, api_as, merged):
    survivor, gone = merged
    # When another system reads the merged-away customer's 360
    response = api_as(supervisor).get(f"/api/v1/customers/{gone}/360/")
    # Then it is told, permanently, where the record lives now, with the survivor's number in the body
    assert response.status_code == 301
    assert response["Location"] == f"http://testserver/api/v1/customers/{survivor.customer_number}/360/"
    body = response.json()["error"]
    assert body["code"] == "customer_merged"
    assert body["fields"] == {"customer_number": [survivor.customer_number]}


def test_api_write_to_a_merged_away_number_is_a_308_and_changes_nothing(supervisor, api_as, merged):
    survivor, gone = merged
    # When another system changes the merged-away record
    response = api_as(supervisor).patch(f"/api/v1/customers/{gone}/", {"given_name": "Changed"}, format="json")
    # Then it is sent to the survivor with a redirect that keeps the method, and nothing changed
    assert response.status_code == 308
    assert response["Location"].endswith(f"/api/v1/customers/{survivor.customer_number}/")
    assert Customer.objects.get(pk=survivor.pk).given_name == "Ann"


def test_api_input_to_a_merged_away_number_is_redirected_before_it_is_read(supervisor, api_as, merged):
    survivor, gone = merged
    client = api_as(supervisor)
    # When another system sends the merged-away number a change with a key the schema does not list,
    # a consent with no body, and a timeline page size that is not a number
    answers = [
        client.patch(f"/api/v1/customers/{gone}/", {"given_name": "Changed", "no_such_key": 1}, format="json"),
        client.post(f"/api/v1/customers/{gone}/consents/", format="json"),
        client.get(f"/api/v1/customers/{gone}/timeline/", {"page_size": "null"}),
    ]
    # Then each is sent to the survivor first, where its input is checked (as schemathesis.toml expects),
    # and nothing changed
    assert [r.status_code for r in answers] == [308, 308, 301]
    assert [r["Location"].rsplit("/api/v1/customers/", 1)[1] for r in answers] == [
        f"{survivor.customer_number}/",
        f"{survivor.customer_number}/consents/",
        f"{survivor.customer_number}/timeline/?page_size=null",
    ]
    assert Customer.objects.get(pk=survivor.pk).given_name == "Ann"


def test_api_redirect_tells_a_passenger_nothing(passenger, api_as, merged):
    _survivor, gone = merged
    # A passenger asking for someone else's merged-away number learns nothing: a 404, no Location
    response = api_as(passenger[0]).get(f"/api/v1/customers/{gone}/")
    assert response.status_code == 404 and not response.has_header("Location")
