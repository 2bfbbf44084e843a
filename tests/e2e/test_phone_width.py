"""Every portal page, and the office's main pages, on a 390px phone: none scrolls sideways.

The pages come from the query-count list (tests/query_counts/pages.py), which must name every page of
every URLconf, and the data from its world: a passenger with bookings (held, ticketed, checked in with a
boarding pass), miles, a household and claims; customers, flights, segments and campaigns for the office.
A scroll inside a container (a wide table in its own scroller) is allowed; the page itself must not scroll.
"""

from __future__ import annotations

from django.test import Client

from tests.query_counts import world as worlds
from tests.query_counts.pages import ANONYMOUS, PAGES, Page, url_patterns

PHONE = {"width": 390, "height": 844}
PORTAL = ("portal", "reservations_portal", "loyalty_portal", "support_portal", "marketing_portal")

# Portal URLs that answer GET with something other than a page, and the portal pages that answer
# something else first: a browser opens no page for them.
NOT_PAGES = {
    "portal:download_data": "a JSON download",
    "reservations_portal:receipt_pdf": "a PDF download",
    "reservations_portal:trip_ics": "a calendar file",
    "reservations_portal:boarding_pass_pdf": "a PDF download",
    "reservations_portal:boarding_pass_barcode": "the boarding pass's barcode image",
    "loyalty_portal:miles_statement_csv": "a CSV download",
    "marketing_portal:track_open": "the open pixel of an e-mail",
    "marketing_portal:track_click": "a redirect to the clicked link",
    "marketing_portal:bounce_webhook": "the e-mail provider's webhook",
}

# The office pages an agent, supervisor or marketer opens most: home, finding a customer, the 360,
# a booking, the flights, marketing's lists and the frequent flyer pages.
OFFICE_PAGES = {
    "office:home",
    "office:customer_search",
    "office:customer_detail",
    "reservations_office:booking_search",
    "reservations_office:booking_detail",
    "reservations_office:flight_list",
    "reservations_office:flight_detail",
    "marketing_office:campaign_list",
    "marketing_office:segment_list",
    "loyalty_office:member_list",
    "loyalty_office:member",
    "loyalty_office:adjust",
    "loyalty_office:approvals",
}


def _portal_pages() -> list[Page]:
    return [p for p in PAGES if p.name.split(":")[0] in PORTAL and not p.who.startswith("api:") and p.name not in NOT_PAGES]


def _office_pages() -> list[Page]:
    return [p for p in PAGES if p.name in OFFICE_PAGES]


def test_the_page_list_names_every_portal_page_and_the_main_office_pages(db):
    # given every portal URL pattern that answers GET
    portal = {name for name, gets in url_patterns().items() if gets and name.split(":")[0] in PORTAL}
    # when the pages the phone test opens are listed
    opened = {p.name for p in _portal_pages()}
    # then each portal page is opened, or is named as no page with its reason
    assert portal - opened - set(NOT_PAGES) == set()
    # and each main office page is opened
    assert {p.name for p in _office_pages()} == OFFICE_PAGES


def _cookies_of(client: Client, url: str) -> list[dict]:
    return [{"name": name, "value": morsel.value, "url": url} for name, morsel in client.cookies.items()]


def test_no_portal_or_main_office_page_scrolls_sideways_on_a_phone(transactional_db, browser, live_server):
    # given a passenger with bookings, a boarding pass, miles and a household, and the office's data
    world = worlds.build("small")
    contexts = {}

    def browser_for(page: Page):  # noqa: ANN202
        """A 390px browser signed in as the page's user; a page that needs a step first gets its own."""
        if page.who in contexts and page.prepare is None:
            return contexts[page.who]
        client = Client()
        if page.who != ANONYMOUS:
            user = world.passenger if page.who == "passenger" else world.staff[page.who]
            client.force_login(type(user).objects.get(pk=user.pk), backend="django.contrib.auth.backends.ModelBackend")
        if page.prepare is not None:
            page.prepare(client, world)
        context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport=PHONE)
        context.add_cookies(_cookies_of(client, live_server.url))
        if page.prepare is None:
            contexts[page.who] = context
        else:
            contexts[f"{page.key}-prepared"] = context
        return context

    # when each page is opened on a 390px-wide screen
    too_wide, broken, seen = [], [], 0
    try:
        for page in _portal_pages() + _office_pages():
            tab = browser_for(page).new_page()
            tab.set_default_timeout(15_000)
            url = page.url(world)
            response = tab.goto(url)
            if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
                broken.append(f"{page.key} {url}: {response.status if response else 'no answer'}")
            else:
                seen += 1
                width = tab.evaluate("document.documentElement.scrollWidth")
                if width > PHONE["width"]:
                    too_wide.append(f"{page.key} {url}: {width}px wide")
            tab.close()
    finally:
        for context in contexts.values():
            context.close()

    # then every page opened as a page, and none is wider than the screen
    assert not broken, "pages that did not open:\n" + "\n".join(broken)
    assert seen == len(_portal_pages()) + len(_office_pages())
    assert not too_wide, f"pages wider than {PHONE['width']}px:\n" + "\n".join(too_wide)
