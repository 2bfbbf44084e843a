"""The household and transfer pages on a 390px phone: no sideways scroll, nothing serious for axe."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from loyalty import services
from tests.loyalty.factories import credit, member


@pytest.mark.parametrize("path", ["/miles/household/", "/miles/transfer/"])
def test_household_and_transfer_pages_fit_a_phone(
    transactional_db, make_passenger, browser, live_server, assert_accessible, path
):
    # given a member heading a household of two, with an invitation out and one waiting for a third member
    user, customer = make_passenger("head@example.com", family_name="Featherstonehaugh-Cholmondeley")
    head = member(customer)
    credit(head, 123456)
    services.household_create(member=head)
    other = member(family_name="Montgomery-Wyndham-Smythe")
    invitation = services.household_invite(head=head, number=other.number, family_name=other.customer.family_name)
    services.household_invitation_accept(invitation_id=invitation.pk, member=other)
    pending = member()
    services.household_invite(head=head, number=pending.number, family_name=pending.customer.family_name)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 390, "height": 844})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    try:
        # when the page is opened on a phone
        page.goto(path)
        # then it is the member's page, it does not scroll sideways, and axe finds nothing serious
        assert page.locator("h1").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(page)
    finally:
        context.close()
