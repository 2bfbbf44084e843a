"""The member's own pages in the portal: joining, the miles home with its progress bar, the statement and
its CSV, and the membership card."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import TimelineEntry
from loyalty import account, services
from loyalty.models import EntryKind, Member
from tests.loyalty.factories import member

MILES = reverse("loyalty_portal:miles")
STATEMENT = reverse("loyalty_portal:miles_statement")
CSV = reverse("loyalty_portal:miles_statement_csv")
CARD = reverse("loyalty_portal:miles_card")


@pytest.fixture
def own(passenger):
    """The logged-in passenger as a member."""
    return member(customer=passenger[1])


def _post(
    m: Member, award: int, *, kind: str = EntryKind.BONUS, days_ago: int = 0, qualifying: int = 0, segments: int = 0, **details
):  # noqa: ANN003, ANN202
    at = timezone.now() - timedelta(days=days_ago)
    return services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=kind, reason={"accrual": "flight", "partner": "partner"}.get(kind, "welcome_bonus"), key=f"t:{m.pk}:{award}:{kind}:{days_ago}:{qualifying}",
            award=award, qualifying=qualifying, segments=segments, details=details, at=at,
        )
    )  # fmt: skip


# --- Joining ----------------------------------------------------------------------------------


def test_a_passenger_who_is_not_a_member_sees_the_join_page_with_the_tiers(passenger_client):
    response = passenger_client.get(MILES)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Join Aurora Miles" in html and reverse("loyalty_portal:miles_join") in html
    assert all(tier in html for tier in ("Blue", "Silver", "Gold", "Platinum"))
    assert "Lounge access" in html


def test_joining_from_the_portal_makes_a_member_and_shows_the_home(passenger, passenger_client):
    # when the passenger presses join
    response = passenger_client.post(reverse("loyalty_portal:miles_join"))
    # then they are a member through the portal, noted on their timeline, and land on their miles home
    assert response.status_code == 302 and response["Location"] == MILES
    m = Member.objects.get(customer=passenger[1])
    assert m.enrolment_channel == "portal"
    assert TimelineEntry.objects.filter(customer=passenger[1], kind="loyalty.enrolled").exists()
    html = passenger_client.get(MILES).content.decode()
    assert account.grouped_number(m.number) in html and "Blue" in html


def test_join_needs_a_login_and_a_post(client, passenger_client):
    assert client.get(MILES).status_code == 302
    assert client.post(reverse("loyalty_portal:miles_join")).status_code == 302
    assert not Member.objects.exists()
    assert passenger_client.get(reverse("loyalty_portal:miles_join")).status_code == 405


# --- Home and progress ------------------------------------------------------------------------


def test_the_progress_bar_shows_the_closer_of_miles_and_flights_to_the_next_tier(own, passenger_client):
    # given 20,000 qualifying miles and 10 flights: Silver needs 25,000 miles or 30 flights
    _post(own, 20000, kind=EntryKind.ACCRUAL, qualifying=20000, segments=10)
    # when the member opens their miles
    html = passenger_client.get(MILES).content.decode()
    # then the bar is at 80% (the miles are closer) and says what is left
    assert 'max="100" value="80"' in html
    assert "5,000 miles or 20 flights to Silver" in html
    assert "20,000" in html  # award balance


def test_progress_follows_the_flights_when_they_are_closer():
    from loyalty.models import Tier

    blue, silver = (
        Tier(rank=0, qualifying_miles=0, qualifying_segments=0),
        Tier(rank=1, qualifying_miles=25000, qualifying_segments=30),
    )
    m = Member(qualifying_miles=5000, qualifying_segments=27, tier=blue)
    progress = account.tier_progress(member=m, tiers=[blue, silver])
    assert (progress.percent, progress.closer, progress.miles_needed, progress.segments_needed) == (90, "segments", 20000, 3)
    m.tier = silver
    assert account.tier_progress(member=m, tiers=[blue, silver]) is None


def test_progress_to_a_flights_only_tier_counts_the_flights_alone():
    from loyalty.models import Tier

    # given Silver reached by 30 flights, with no miles threshold (0 in the admin)
    blue, silver = (
        Tier(rank=0, qualifying_miles=0, qualifying_segments=0),
        Tier(rank=1, qualifying_miles=0, qualifying_segments=30),
    )
    m = Member(qualifying_miles=5000, qualifying_segments=0, tier=blue)
    # then a member with miles but no flight has made no progress, and no miles are said to be needed
    progress = account.tier_progress(member=m, tiers=[blue, silver])
    assert (progress.percent, progress.closer, progress.miles_needed, progress.segments_needed) == (0, "segments", None, 30)
    # and the flights count up to the threshold
    m.qualifying_segments = 29
    assert account.tier_progress(member=m, tiers=[blue, silver]).percent == 96
    m.qualifying_segments = 30
    progress = account.tier_progress(member=m, tiers=[blue, silver])
    assert (progress.percent, progress.segments_needed) == (100, 0)


def test_progress_to_a_miles_only_tier_counts_the_miles_alone():
    from loyalty.models import Tier

    blue, silver = (
        Tier(rank=0, qualifying_miles=0, qualifying_segments=0),
        Tier(rank=1, qualifying_miles=25000, qualifying_segments=0),
    )
    m = Member(qualifying_miles=24999, qualifying_segments=40, tier=blue)
    progress = account.tier_progress(member=m, tiers=[blue, silver])
    assert (progress.percent, progress.closer, progress.miles_needed, progress.segments_needed) == (99, "miles", 1, None)


def test_a_tier_without_thresholds_is_skipped_for_the_next_reachable_one():
    from loyalty.models import Tier

    blue, invited, gold = (
        Tier(rank=0, qualifying_miles=0, qualifying_segments=0),
        Tier(rank=1, qualifying_miles=0, qualifying_segments=0),
        Tier(rank=2, qualifying_miles=50000, qualifying_segments=60),
    )
    m = Member(qualifying_miles=25000, qualifying_segments=0, tier=blue)
    progress = account.tier_progress(member=m, tiers=[blue, invited, gold])
    assert (progress.next_tier, progress.percent) == (gold, 50)
    m.tier = gold
    assert account.tier_progress(member=m, tiers=[blue, invited, gold]) is None


def test_the_home_says_only_the_flights_a_flights_only_tier_needs(own, passenger_client):
    from loyalty.models import Tier

    Tier.objects.filter(code="silver").update(qualifying_miles=0, qualifying_segments=30)
    _post(own, 20000, kind=EntryKind.ACCRUAL, qualifying=20000, segments=27)
    html = passenger_client.get(MILES).content.decode()
    assert 'max="100" value="90"' in html
    assert "3 flights to Silver" in html and "miles or 3 flights" not in html


def test_the_home_links_only_to_pages_that_exist(own, passenger_client):
    html = passenger_client.get(MILES).content.decode()
    assert STATEMENT in html and CARD in html
    # a page not built yet is left out instead of breaking the page
    assert account.links([("loyalty_portal:no_such_page", "Nowhere"), ("loyalty_portal:miles_card", "Card")]) == [(CARD, "Card")]


# --- Statement --------------------------------------------------------------------------------


def test_the_statement_pages_25_lines_at_a_time_newest_first(own, passenger_client):
    for i in range(30):
        _post(own, 10 + i, days_ago=30 - i)
    first = passenger_client.get(STATEMENT).content.decode()
    second = passenger_client.get(STATEMENT, {"page": 2}).content.decode()
    assert first.count('class="entry"') == 25 and second.count('class="entry"') == 5
    assert first.index("+39") < first.index("+38")  # newest first
    assert "Page 2 of 2" in second


def test_the_statement_filters_by_kind_and_dates(own, passenger_client):
    _post(own, 111, kind=EntryKind.BONUS, days_ago=40)
    _post(
        own, 222, kind=EntryKind.ACCRUAL, days_ago=10, qualifying=222, segments=1, flight="AU101", origin="LHR", destination="CDG"
    )
    _post(own, 333, kind=EntryKind.PARTNER, days_ago=2, partner_name="Harbour Hotels")
    only_flights = passenger_client.get(STATEMENT, {"kind": "accrual"}).content.decode()
    assert "+222" in only_flights and "+111" not in only_flights and "+333" not in only_flights
    assert "AU101" in only_flights and "LHR–CDG" in only_flights
    day = (timezone.localdate() - timedelta(days=20)).isoformat()
    recent = passenger_client.get(STATEMENT, {"date_from": day}).content.decode()
    assert "+222" in recent and "+333" in recent and "+111" not in recent
    older = passenger_client.get(STATEMENT, {"date_to": day}).content.decode()
    assert "+111" in older and "+222" not in older
    # a filter that matches nothing says so; a bad one is shown as an error and filters nothing
    assert "Nothing matches" in passenger_client.get(STATEMENT, {"kind": "expiry"}).content.decode()
    bad = passenger_client.get(STATEMENT, {"date_from": "2026-13-45", "kind": "nonsense"})
    assert bad.status_code == 200 and bad.content.decode().count('class="entry"') == 3


def test_an_empty_statement_says_so(own, passenger_client):
    assert "No miles yet" in passenger_client.get(STATEMENT).content.decode()


def test_the_statement_reads_as_many_rows_whatever_the_history(own, passenger_client):
    _post(own, 5)
    passenger_client.get(STATEMENT)
    with CaptureQueriesContext(connection) as few:
        passenger_client.get(STATEMENT)
    for i in range(40):
        _post(own, 100 + i, kind=EntryKind.ACCRUAL, qualifying=10, segments=1)
    with CaptureQueriesContext(connection) as many:
        assert passenger_client.get(STATEMENT).status_code == 200
    assert len(many) == len(few)
    with CaptureQueriesContext(connection) as home:
        passenger_client.get(MILES)
    assert len(home) <= len(few)


def _csv(response) -> list[list[str]]:  # noqa: ANN001
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_has_the_filtered_statement(own, passenger_client):
    _post(own, 111, kind=EntryKind.BONUS)
    _post(own, 222, kind=EntryKind.ACCRUAL, qualifying=222, segments=1, flight="AU101")
    response = passenger_client.get(CSV, {"kind": "accrual"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert own.number in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:3] == ["Posted at", "Kind", "Description"]
    assert [r[3] for r in rows[1:]] == ["222"]
    assert rows[1][2].startswith("Flight") and "AU101" in rows[1][2]


def test_the_csv_defuses_text_a_spreadsheet_would_run_as_a_formula(own, passenger_client, monkeypatch):
    # given a line whose description starts like a formula (as a partner's own name could, once rendered first)
    _post(own, 50, kind=EntryKind.PARTNER, text='=HYPERLINK("http://evil.example","click")')
    monkeypatch.setattr(account, "entry_description", lambda entry: entry.details.get("text", ""))
    # when it is downloaded
    rows = _csv(passenger_client.get(CSV))
    # then the cell starts with an apostrophe, and numbers (negative ones too) stay numbers
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[1][3] == "50"
    assert account.csv_safe(-50) == -50 and account.csv_safe("@SUM(A1)") == "'@SUM(A1)" and account.csv_safe("+1") == "'+1"


# --- Card -------------------------------------------------------------------------------------


def test_the_card_shows_name_grouped_number_tier_colour_and_a_qr_code(own, passenger, passenger_client):
    response = passenger_client.get(CARD)
    html = response.content.decode()
    assert response.status_code == 200
    assert passenger[1].full_name in html
    assert account.grouped_number(own.number) in html
    assert f'fill="{own.tier.colour}"' in html
    assert "style=" not in html.split('<article class="member-card"')[1].split("</article>")[0]  # the CSP allows no inline style
    assert "<svg" in html and "<path d=" in html


def test_the_qr_code_reads_back_as_the_number(own):
    import re

    import zxingcpp
    from PIL import Image, ImageDraw

    svg = account.qr_svg(own.number, module=6)
    # draw the SVG's squares onto a bitmap and read it as a desk scanner would
    size = int(re.search(r'width="(\d+)"', svg).group(1))
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for x, y in re.findall(r"M(\d+),(\d+)h", svg):
        draw.rectangle([int(x), int(y), int(x) + 5, int(y) + 5], fill=0)
    found = zxingcpp.read_barcodes(image)
    assert [b.text for b in found] == [own.number]


# --- Only one's own ---------------------------------------------------------------------------


def test_pages_of_a_non_member_send_them_to_join(passenger_client):
    for url in (STATEMENT, CSV, CARD):
        response = passenger_client.get(url)
        assert response.status_code == 302 and response["Location"] == MILES


def test_a_passenger_sees_only_their_own_miles(own, make_passenger, passenger_client):
    # given another passenger who is a member with miles
    other_user, other_customer = make_passenger("someone.else@example.com")
    theirs = member(customer=other_customer)
    _post(theirs, 987654)
    _post(own, 12)
    # when our passenger opens every page, then nothing of the other member shows
    for url in (MILES, STATEMENT, CARD):
        html = passenger_client.get(url).content.decode()
        assert theirs.number not in html and account.grouped_number(theirs.number) not in html
        assert "987,654" not in html and "987654" not in html
    assert "987654" not in b"".join(passenger_client.get(CSV).streaming_content).decode()


def test_a_closed_membership_is_treated_as_none(own, passenger_client):
    Member.objects.filter(pk=own.pk).update(status="closed")
    assert "Join Aurora Miles" in passenger_client.get(MILES).content.decode()
    assert passenger_client.get(STATEMENT).status_code == 302
