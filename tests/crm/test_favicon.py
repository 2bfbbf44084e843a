"""The airline's own icon: an SVG in the project's static files, linked from the portal's and the office's pages."""

import xml.etree.ElementTree as ET

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

ICON = "crm/favicon.svg"


def icon_link() -> str:
    return f'<link rel="icon" href="{static(ICON)}" type="image/svg+xml">'


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/flights/", "/office/login/"])
def test_portal_and_office_pages_link_the_icon(client, db, path):
    # given a page of the portal or of the office
    # when it is opened
    response = client.get(path)

    # then its head links the SVG icon
    assert response.status_code == 200
    page = response.content.decode()
    assert icon_link() in page[: page.index("</head>")]


def test_signed_in_office_and_portal_pages_link_the_icon(agent_client, passenger_client):
    # given an agent and a passenger, signed in
    # when each opens their home page
    office = agent_client.get("/office/", follow=True).content.decode()
    portal = passenger_client.get("/").content.decode()

    # then both link the icon
    assert icon_link() in office and icon_link() in portal


def test_the_icon_is_an_svg_of_the_project(db):
    # given the icon the pages link
    path = finders.find(ICON)

    # when it is read
    assert path is not None
    root = ET.parse(path).getroot()  # noqa: S314 (the project's own file)

    # then it is a square SVG drawing with a title
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 64 64"
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Aurora Air"
