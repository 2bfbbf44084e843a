"""An agent finds a customer and opens the 360, in a real browser."""

import re

from playwright.sync_api import expect

from crm.models import CustomerAccess
from crm.permissions import AGENT
from crm.services import customer_create
from tests.crm.factories import DEMO_PASSWORD, StaffFactory


def test_agent_logs_in_searches_with_a_typo_and_opens_the_customer_360(transactional_db, page, assert_accessible):
    # given an agent and a customer on file
    agent = StaffFactory(username="agent.e2e", roles=[AGENT])
    john = customer_create(data={"given_name": "John", "family_name": "Smith", "email": "john.smith@example.com"})
    customer_create(data={"given_name": "Maria", "family_name": "Garcia"})

    # when the agent logs in at the back-office
    page.goto("/office/")
    expect(page).to_have_url(re.compile(r"/office/login/"))
    assert_accessible(page)
    page.get_by_label("Username").fill("agent.e2e")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("search").first).to_be_visible()
    assert_accessible(page)

    # and searches with a typo in the name
    search = page.get_by_role("search").first
    search.get_by_role("searchbox").fill("Jonh Smiht")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=re.compile("John Smith"))).to_be_visible()
    assert_accessible(page)

    # and opens the customer's 360
    page.get_by_role("link", name=re.compile("John Smith")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("John Smith")
    expect(page.get_by_text(john.customer_number).first).to_be_visible()
    assert_accessible(page)

    # then the view is in the audit trail
    assert CustomerAccess.objects.filter(customer=john, user=agent, surface="office").exists()
