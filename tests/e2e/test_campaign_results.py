"""A marketer reads a campaign's results in a real browser: the funnel, uplift and chart render and are accessible."""

import re

from playwright.sync_api import expect

from crm.permissions import MARKETER
from tests.crm.factories import DEMO_PASSWORD, StaffFactory
from tests.marketing.test_results import constructed


def test_a_marketer_opens_the_results_overview_and_a_campaigns_dashboard(transactional_db, page, assert_accessible):
    # given a marketer and a campaign that sent, converted and held customers back
    StaffFactory(username="marketer.e2e", roles=[MARKETER])
    constructed()

    # when the marketer logs in and opens the results overview
    page.goto("/office/marketing/results/")
    expect(page).to_have_url(re.compile(r"/office/login/"))
    page.get_by_label("Username").fill("marketer.e2e")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign results")
    assert_accessible(page)

    # and opens the campaign's dashboard, at a phone's width too
    page.get_by_role("link", name="Constructed").click()
    expect(page.get_by_role("heading", name="Uplift over the control group")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Funnel"))).to_be_visible()
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
