"""A passenger registers, verifies the e-mail, logs in, edits the profile, reads Chinese, downloads data."""

import json
import re
from email import message_from_bytes
from urllib.parse import urlparse

from django.core import mail
from playwright.sync_api import expect

from crm.models import Customer

PASSWORD = "Tr4vel-far-away"  # noqa: S105


def verification_path() -> str:
    """The link from the plain-text part, read as a mail client would."""
    assert len(mail.outbox) == 1
    parsed = message_from_bytes(mail.outbox[0].message().as_bytes())
    text = next(
        p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
        for p in parsed.walk()
        if p.get_content_type() == "text/plain"
    )
    url = re.search(r"https?://\S+/accounts/verify/\S+/", text).group(0)
    return urlparse(url).path


def test_passenger_registers_verifies_logs_in_edits_profile_reads_chinese_and_downloads_data(
    transactional_db, page, assert_accessible, tmp_path
):
    # given the portal's home page
    page.goto("/")
    assert_accessible(page)

    # when a passenger registers
    page.get_by_role("link", name="Register").first.click()
    assert_accessible(page)
    page.get_by_label("E-mail address").fill("mei.chen@example.com")
    page.get_by_label("Given name").fill("Mei")
    page.get_by_label("Family name").fill("Chen")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    # and confirms the address from the e-mail, with the password
    page.goto(verification_path())
    assert_accessible(page)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("confirmed")

    # and logs in afresh
    page.get_by_role("button", name="Log out").click()
    page.goto("/accounts/login/")
    assert_accessible(page)
    page.get_by_label("E-mail address").fill("mei.chen@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # and edits the profile
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My profile").click()
    assert_accessible(page)
    page.get_by_label("Phone").first.fill("+8613800138000")
    page.get_by_label("Home airport").fill("PVG")
    page.get_by_role("button", name="Save my profile").click()
    expect(page.locator(".message-success")).to_be_visible()
    customer = Customer.objects.get(email="mei.chen@example.com")
    assert (str(customer.phone), customer.home_airport) == ("+8613800138000", "PVG")

    # and switches the portal to Chinese
    page.get_by_label("Language", exact=True).select_option("zh-hans")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("navigation").get_by_role("link", name="我的资料")).to_be_visible()
    assert_accessible(page)

    # and downloads their data
    page.get_by_role("link", name=re.compile("我的数据")).first.click()
    assert_accessible(page)
    with page.expect_download() as download_info:
        page.locator("a[download]").first.click()
    path = tmp_path / "my-data.json"
    download_info.value.save_as(path)

    # then the file is their own record, from every app that holds something about them
    data = json.loads(path.read_text())
    assert data["customer_number"] == customer.customer_number
    assert data["crm"]["profile"]["email"] == "mei.chen@example.com"
