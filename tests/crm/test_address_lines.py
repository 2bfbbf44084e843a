"""A stored address with a line break survives an edit: both lines are shown and saved apart, in the office
and in the portal, instead of the browser's one-line input joining them."""

import re

import pytest
from django.urls import reverse

from crm.models import Customer
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _as_a_browser_posts(client, url) -> dict:
    """The form's values as a browser sends them back: a one-line input drops line breaks from its value."""
    form = client.get(url).context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list) else re.sub(r"[\r\n]", "", str(value))
    return data


def _input_value(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
    match = re.search(r'value="([^"]*)"', tag)
    return match.group(1) if match else ""


@pytest.fixture
def two_line_address(db):
    customer = CustomerFactory(given_name="Olivia", family_name="Hart", city="Leeds", postal_code="LS1 4AP")
    # written before addresses were one line each (an import does not pass through the form's validation)
    Customer.objects.filter(pk=customer.pk).update(address_line1="Studio 97h\nDominic Track", address_line2="")
    customer.refresh_from_db()
    return customer


def test_office_edit_keeps_both_lines_of_a_two_line_address(agent_client, two_line_address):
    customer = two_line_address
    edit = reverse("office:customer_edit", args=[customer.customer_number])
    # Given the edit form of a record whose address line holds two lines
    html = agent_client.get(edit).content.decode()
    # Then each line shows in its own one-line field
    assert _input_value(html, "address_line1") == "Studio 97h"
    assert _input_value(html, "address_line2") == "Dominic Track"
    # When the agent changes only the phone and saves what the browser sends
    data = _as_a_browser_posts(agent_client, edit) | {"phone": "+442079460958"}
    response = agent_client.post(edit, data)
    # Then the lines are stored apart, not joined
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.address_line1, customer.address_line2) == ("Studio 97h", "Dominic Track")
    # And re-opening the form shows both lines, and the 360 shows them on separate lines
    html = agent_client.get(edit).content.decode()
    assert (_input_value(html, "address_line1"), _input_value(html, "address_line2")) == ("Studio 97h", "Dominic Track")
    detail = agent_client.get(reverse("office:customer_detail", args=[customer.customer_number])).content.decode()
    assert re.search(r"Studio 97h<br>\s*Dominic Track<br>", detail)


def test_the_360_breaks_a_stored_two_line_address_into_lines(agent_client, two_line_address):
    # Given a record never edited since its two-line address was stored
    # When an agent opens the 360
    html = agent_client.get(reverse("office:customer_detail", args=[two_line_address.customer_number])).content.decode()
    # Then the lines are shown apart, not run together
    assert "Studio 97h<br>Dominic Track" in html
    assert "Studio 97hDominic Track" not in html


def test_existing_second_line_follows_the_split_one(agent_client):
    # Given a record with line breaks in line 1 and a second line already
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(address_line1="Flat 2\n14 Mill Lane", address_line2="Old Town")
    # When the edit form opens
    html = agent_client.get(reverse("office:customer_edit", args=[customer.customer_number])).content.decode()
    # Then nothing is lost: the rest of line 1 goes before line 2
    assert _input_value(html, "address_line1") == "Flat 2"
    assert _input_value(html, "address_line2") == "14 Mill Lane, Old Town"


def test_portal_profile_keeps_both_lines(passenger_client, passenger):
    # Given a passenger whose stored address line holds two lines
    _user, customer = passenger
    Customer.objects.filter(pk=customer.pk).update(address_line1="Studio 97h\nDominic Track", address_line2="")
    url = reverse("portal:profile")
    # When they save their profile as the browser sends it
    data = _as_a_browser_posts(passenger_client, url)
    response = passenger_client.post(url, data)
    # Then the two lines are kept apart
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.address_line1, customer.address_line2) == ("Studio 97h", "Dominic Track")
