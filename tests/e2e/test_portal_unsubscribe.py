"""The unsubscribe link of a campaign e-mail and the marketing preferences page on a 390px phone: no sideways scroll."""

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


def test_choosing_marketing_channels_from_a_phone(transactional_db, browser, live_server, assert_accessible, make_passenger):
    # given a signed-in passenger who agreed to marketing e-mails only
    from django.utils import timezone

    from tests.crm.factories import DEMO_PASSWORD
    from tests.marketing.support import consent

    user, customer = make_passenger("choices@example.com")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    consent(customer, True)
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto("/accounts/login/?next=/preferences/marketing/")
        page.get_by_label("E-mail address").fill("choices@example.com")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/preferences/marketing/")
        # when the preferences page opens on the phone, it fits and shows the e-mail choice ticked
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(page)
        assert page.get_by_label("E-mail", exact=True).is_checked()
        assert not page.get_by_label("SMS", exact=True).is_checked()
        # and when she adds SMS, drops e-mail and saves
        page.get_by_label("SMS", exact=True).check()
        page.get_by_label("E-mail", exact=True).uncheck()
        page.get_by_role("button", name="Save my preferences").click()
        page.wait_for_load_state()
        # then her consent follows her choice, and the page still fits
        assert page.get_by_label("SMS", exact=True).is_checked()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert consent_is_granted(customer=customer, channel="sms", purpose="marketing")
        assert not consent_is_granted(customer=customer, channel="email", purpose="marketing")
    finally:
        context.close()
