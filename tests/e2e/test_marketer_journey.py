"""A marketer builds a segment, writes a birthday campaign with an offer in English and Chinese, previews it in
Chinese and schedules it, in a real browser; the campaign's beat entry is then in django-celery-beat."""

import json
import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from crm.permissions import MARKETER
from marketing.models import Campaign, Segment
from marketing.services import offer_create
from tests.crm.factories import DEMO_PASSWORD, StaffFactory
from tests.marketing.support import reachable


def test_marketer_builds_a_segment_and_schedules_a_birthday_campaign(transactional_db, page, assert_accessible, settings):
    # given a marketer, customers who read Chinese and agreed to marketing e-mails, and a current offer
    settings.MARKETING_APPROVAL_AUDIENCE = 100
    StaffFactory(username="marketer.e2e", email="marketer.e2e@example.com", roles=[MARKETER])
    for name in ("Li", "Wang"):
        reachable(given_name=name, preferred_language="zh-hans")
    reachable(given_name="Ann", preferred_language="en")
    now = timezone.now()
    offer_create(
        name="Birthday 20% off", kind="percentage", value=Decimal("20"), valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=90),
    )  # fmt: skip

    # when the marketer logs in at the back-office, they land on the campaigns
    page.goto("/office/")
    page.get_by_label("Username").fill("marketer.e2e")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/office/marketing/campaigns/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    assert_accessible(page)

    # and builds a segment of the customers who read Chinese
    page.goto("/office/marketing/segments/new/")
    page.get_by_label("Name").fill("Chinese readers")
    page.locator("#id_rule-0-attribute").select_option("language")
    page.locator("#id_rule-0-lookup").select_option("exact")
    page.locator("#id_rule-0-value").fill("zh-hans")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chinese readers")
    assert Segment.objects.get(name="Chinese readers").last_count == 2

    # and writes a birthday campaign for it, at 09:00 local time, with the offer, in English and Chinese
    page.goto("/office/marketing/campaigns/")
    page.get_by_role("link", name="New campaign").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    assert_accessible(page)
    page.get_by_label("Name").fill("Happy birthday")
    page.get_by_label("Segment").select_option(label="Chinese readers")
    page.get_by_label("Kind").select_option("birthday")
    expect(page.get_by_label("Send at")).to_be_hidden()
    expect(page.locator("#id_trigger")).to_be_hidden()
    page.get_by_label("Local send time").fill("09:00")
    page.get_by_label("Subject (English)").fill("Happy birthday, {{ name }}!")
    page.get_by_label("Text (English)").fill("Dear {{ name }}, here is {{ offer_name }}: {{ offer_code }}.")
    page.get_by_label("Subject (Chinese)").fill("{{ name }}，生日快乐！")
    page.get_by_label("Text (Chinese)").fill("{{ name }}，送您{{ offer_name }}：{{ offer_code }}。")
    page.locator("#id_offer").select_option(label="Birthday 20% off")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Happy birthday")
    expect(page.get_by_text("Every day at 09:00 in each customer's time zone")).to_be_visible()
    assert_accessible(page)
    campaign = Campaign.objects.get(name="Happy birthday")
    assert campaign.status == "draft" and campaign.offer.name == "Birthday 20% off"

    # and previews it in Chinese
    page.get_by_role("link", name="Preview").click()
    page.get_by_label("Language").select_option(label="中文")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#preview-subject")).to_have_text("Alex，生日快乐！")
    expect(page.frame_locator("iframe.preview-frame").locator("body")).to_contain_text("Birthday 20% off")
    assert_accessible(page)

    # and schedules it
    page.get_by_role("link", name="Back to the campaign").click()
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_text("Campaign scheduled.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Scheduled")

    # then the campaign is scheduled and its beat entry is enabled, naming the campaign
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    entry = PeriodicTask.objects.get(name=f"marketing-campaign-{campaign.pk}")
    assert entry.enabled
    assert json.loads(entry.kwargs)["campaign_id"] == campaign.pk

    # and the calendar shows it today
    page.get_by_role("link", name="Calendar").first.click()
    today = page.locator(f'td[data-day="{timezone.localdate():%Y-%m-%d}"]')
    expect(today.get_by_role("link", name="Happy birthday")).to_be_visible()
    assert_accessible(page)
