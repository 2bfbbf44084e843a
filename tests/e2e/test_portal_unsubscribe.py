"""The unsubscribe link of a campaign e-mail on a 390px phone: confirm, then done; no sideways scroll."""

from __future__ import annotations

from crm.selectors import consent_is_granted
from marketing.services import unsubscribe_token
from tests.marketing.support import reachable


def test_unsubscribing_from_a_phone(transactional_db, browser, live_server, assert_accessible):
    # given a customer who agreed to marketing e-mails and the link from one of them
    customer = reachable(email="phone@example.com")
    path = f"/unsubscribe/{unsubscribe_token(customer_id=customer.pk, email=customer.email)}/"
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        # when the link is opened, the page asks first and fits the phone
        page.goto(path)
        assert page.locator("h1").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(page)
        assert consent_is_granted(customer=customer, channel="email", purpose="marketing")
        # and when the button is pressed, the customer is unsubscribed
        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_load_state()
        assert page.get_by_role("status").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(page)
        assert not consent_is_granted(customer=customer, channel="email", purpose="marketing")
    finally:
        context.close()
