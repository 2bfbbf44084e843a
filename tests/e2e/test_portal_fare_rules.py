"""The fare rules on the portal's search results, read on a phone before choosing a fare."""

from urllib.parse import urlencode

from playwright.sync_api import expect

from reservations import services
from tests.reservations.portal_support import departure_in, make_flight, search_params

PHONE = {"width": 390, "height": 844}


def test_each_fares_rules_open_on_a_phone_within_the_screen(transactional_db, browser, live_server, assert_accessible):
    # Given the airline's fares and a flight to Paris in five days
    services.fares_ensure()
    flight = make_flight("LHR", "CDG", at=departure_in(5, hour=9))
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport=PHONE)
    page = context.new_page()
    try:
        # When a passenger on a 390px phone searches and opens each fare's rules
        page.goto("/flights/?" + urlencode(search_params(flight)))
        rules = page.locator(".fare-rules")
        for name in ("Light", "Standard", "Flex"):
            rules.locator("summary", has_text=name).click()

        # Then every rule is readable before choosing, within the width of the screen
        expect(rules).to_contain_text("Hand baggage only; checked bags are charged")
        expect(rules).to_contain_text("Changes allowed for a fee of €60.00 plus any fare difference")
        expect(rules).to_contain_text("Fully refundable")
        expect(rules.locator("li").first).to_be_visible()
        # (the rules themselves fit the 390px screen: the flights table beside them scrolls in its own box)
        overflowing = page.evaluate(
            """[...document.querySelectorAll('.fare-rules, .fare-rules *')]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth || e.getBoundingClientRect().left < 0)
                 .map(e => e.tagName + ' ' + e.textContent.slice(0, 40))"""
        )
        assert overflowing == []
        assert_accessible(page)
    finally:
        context.close()
