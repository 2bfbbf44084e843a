"""The membership on the one customer record: the 360 panel and API section, "download my data",
erasure, merge, the office search box and the customer attributes, reached through crm's registry."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Sum
from django.urls import reverse

from crm import registry
from crm.models import Customer, CustomerAccess, TimelineEntry
from crm.selectors import customer_search
from crm.services import customer_erase, customer_export, customer_merge
from loyalty import services
from loyalty.models import EntryKind, Member, MemberStatus, MilesEntry, StatusMatch, Tier
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import credit, member
from tests.reservations.office_support import logged_in


def _balance_matches_ledger(m: Member) -> None:
    m.refresh_from_db()
    total = MilesEntry.objects.filter(member=m).aggregate(s=Sum("award_miles"))["s"] or 0
    assert m.award_balance == total


def test_the_loyalty_extension_and_attributes_are_registered_at_start_up():
    ext = next(e for e in registry.extensions() if e.label == "loyalty")
    assert all([ext.panel, ext.api_section, ext.api_serializer, ext.exporter, ext.eraser, ext.merger, ext.searcher])
    keys = {a.key for a in registry.attributes()}
    assert {"tier", "miles_balance", "tier_expiry", "member_since"} <= keys


# --- 360 panel --------------------------------------------------------------------------------


def test_the_360_shows_the_membership_with_balance_tier_progress_and_latest_entries(agent, db):
    # given a member with a few postings
    m = member(given_name="Ines", family_name="Arroyo")
    for award in (100, 200, 300, 400, 500, 600):
        credit(m, award, qualifying=award, segments=1)
    # when an agent opens the customer 360
    response = logged_in(agent).get(reverse("office:customer_detail", args=[m.customer.customer_number]))
    # then the loyalty panel shows the number, tier, balance, progress and the latest five entries
    html = response.content.decode()
    assert response.status_code == 200
    assert m.number in html and "Blue" in html
    assert "2,100" in html  # award balance
    assert "to Silver" in html
    assert html.count("Welcome bonus") == 5
    assert reverse("loyalty_office:member", args=[m.number]) in html


def test_the_360_offers_a_non_member_the_enrol_button_and_the_post_enrols_on_the_timeline(agent, db):
    # given a customer who is not a member
    customer = CustomerFactory()
    client = logged_in(agent)
    url = reverse("office:customer_detail", args=[customer.customer_number])
    enrol = reverse("loyalty_office:customer_enrol", args=[customer.customer_number])
    # when the agent opens the 360, then the enrol button is there
    assert f'action="{enrol}"' in client.get(url).content.decode()
    # when the agent presses it
    response = client.post(enrol)
    # then the customer is a member enrolled by the agent through the office, and the timeline says so
    assert response.status_code == 302 and response["Location"] == url
    m = Member.objects.get(customer=customer)
    assert m.enrolment_channel == "office" and m.enrolled_by == agent
    entry = TimelineEntry.objects.get(customer=customer, kind="loyalty.enrolled")
    assert entry.actor == agent and m.number in entry.summary
    # and pressing it twice changes nothing
    client.post(enrol)
    assert Member.objects.filter(customer=customer).count() == 1
    assert TimelineEntry.objects.filter(customer=customer, kind="loyalty.enrolled").count() == 1


def test_the_panel_and_the_enrol_are_refused_without_the_loyalty_permissions(make_staff, db):
    # given an agent whose role lost the right to see and add members
    group = Group.objects.get(name="Agent")
    group.permissions.remove(
        *Permission.objects.filter(content_type__app_label="loyalty", codename__in=["view_member", "add_member"])
    )
    agent = make_staff("Agent", username="agent-no-loyalty")
    m = member()
    client = logged_in(agent)
    # when they open the 360, then the page works without the panel
    response = client.get(reverse("office:customer_detail", args=[m.customer.customer_number]))
    assert response.status_code == 200 and m.number not in response.content.decode()
    # and enrolling another customer is forbidden and enrols no one
    other = CustomerFactory()
    assert client.post(reverse("loyalty_office:customer_enrol", args=[other.customer_number])).status_code == 403
    assert not Member.objects.filter(customer=other).exists()


def test_the_360_api_section_has_the_membership_for_staff(supervisor, api_as, db):
    # given a member with a posting
    m = member()
    credit(m, 1500, qualifying=1500, segments=2)
    # when staff read the customer 360 API
    body = api_as(supervisor).get(f"/api/v1/customers/{m.customer.customer_number}/360/").json()
    # then the loyalty section has the membership and its latest entries
    section = body["sections"]["loyalty"]
    assert section["member"]["number"] == m.number and section["member"]["award_balance"] == 1500
    assert section["member"]["progress"]["next_tier"] == "silver"
    assert [e["award_miles"] for e in section["latest_entries"]] == [1500]


# --- Download my data and erasure ---------------------------------------------------------


def test_export_has_the_membership_every_entry_claims_adjustments_and_status_matches(supervisor, db):
    # given a member with entries, an adjustment and a status match
    m = member()
    for award in (10, 20, 30, 40, 50, 60, 70):
        credit(m, award)
    m.adjustments.create(kind="goodwill", award_miles=500, reason="Delayed bag", requested_by=supervisor)
    StatusMatch.objects.create(
        member=m, tier=Tier.objects.get(code="gold"), competitor_airline="Other Air", competitor_tier="Gold",
        competitor_number="OA123", competitor_valid_until="2030-01-01", requested_by=supervisor,
    )  # fmt: skip
    # when the customer's data is exported
    data = customer_export(customer=m.customer)["loyalty"]
    # then everything is there, every entry included
    assert data["member"]["number"] == m.number
    assert [e["award_miles"] for e in data["entries"]] == [10, 20, 30, 40, 50, 60, 70]
    assert data["adjustments"][0]["reason"] == "Delayed bag"
    assert data["status_matches"][0]["competitor_number"] == "OA123"
    assert data["claims"] == []


def test_erasure_closes_the_membership_keeps_the_ledger_and_blanks_the_personal(supervisor, db):
    # given a member with miles and a status match naming another airline's card
    m = member()
    credit(m, 800)
    match = StatusMatch.objects.create(
        member=m, tier=Tier.objects.get(code="gold"), competitor_airline="Other Air", competitor_tier="Gold",
        competitor_number="OA123", competitor_valid_until="2030-01-01", note="Called from home", requested_by=supervisor,
    )  # fmt: skip
    entries_before = MilesEntry.objects.filter(member=m).count()
    # when the customer is erased
    customer_erase(customer=m.customer, by=supervisor)
    # then the membership is closed, still on the (anonymised) customer row, its ledger kept and balanced
    m.refresh_from_db()
    assert m.status == MemberStatus.CLOSED and m.customer_id is not None
    assert MilesEntry.objects.filter(member=m).count() == entries_before + 1
    assert m.award_balance == 0
    _balance_matches_ledger(m)
    match.refresh_from_db()
    assert match.competitor_number == "" and match.note == ""
    # and the closed membership no longer counts as a member for the search box
    assert m.customer_id not in registry.search(m.number)


# --- Merge --------------------------------------------------------------------------------


def test_merge_moves_a_duplicates_membership_to_a_survivor_who_has_none(supervisor, db):
    # given a survivor who is not a member and a duplicate who is
    survivor, loser = CustomerFactory(), CustomerFactory()
    m = member(customer=loser)
    credit(m, 700, qualifying=700, segments=1)
    # when crm merges them
    customer_merge(survivor=survivor, loser=loser, by=supervisor)
    # then the membership, balance and ledger now belong to the survivor
    m.refresh_from_db()
    assert m.customer_id == survivor.pk and m.award_balance == 700
    assert not Customer.objects.filter(pk=loser.pk).exists()
    _balance_matches_ledger(m)


def test_merge_of_two_members_moves_the_miles_keeps_the_higher_tier_and_closes_the_duplicate(supervisor, db):
    # given two members: the survivor in Blue with 1,000 miles, the duplicate in Gold with 3,000
    survivor, loser = CustomerFactory(), CustomerFactory()
    kept, gone = member(customer=survivor), member(customer=loser)
    credit(kept, 1000)
    credit(gone, 3000)
    gold = Tier.objects.get(code="gold")
    Member.objects.filter(pk=gone.pk).update(tier=gold, tier_valid_until="2031-12-31")
    total_before = MilesEntry.objects.filter(member__in=[kept, gone]).aggregate(s=Sum("award_miles"))["s"]
    # when crm merges them (crm then proves nothing points at the duplicate)
    record = customer_merge(survivor=survivor, loser=loser, by=supervisor)
    # then the survivor has both balances and the higher tier, the duplicate is closed and unlinked
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.award_balance == 4000 and kept.tier == gold and str(kept.tier_valid_until) == "2031-12-31"
    assert gone.status == MemberStatus.CLOSED and gone.customer_id is None and gone.merged_into_id == kept.pk
    assert gone.award_balance == 0
    keys = set(MilesEntry.objects.filter(kind=EntryKind.TRANSFER).values_list("idempotency_key", flat=True))
    assert keys == {f"merge:{gone.pk}:out", f"merge:{gone.pk}:in"}
    # and the miles in the two ledgers add up to what they did, each balance equal to its entries
    assert MilesEntry.objects.filter(member__in=[kept, gone]).aggregate(s=Sum("award_miles"))["s"] == total_before
    _balance_matches_ledger(kept)
    _balance_matches_ledger(gone)
    assert record.moved["loyalty"] == {
        "members": 1, "miles": 3000, "qualifying_miles": 0, "qualifying_segments": 0, "travellers": 0,
    }  # fmt: skip
    # and the duplicate's history is exported with the survivor's data
    exported = customer_export(customer=survivor)["loyalty"]
    assert exported["merged_memberships"] == [gone.number]


def test_merge_of_two_members_where_the_duplicate_has_no_miles_posts_nothing(supervisor, db):
    survivor, loser = CustomerFactory(), CustomerFactory()
    member(customer=survivor)
    gone = member(customer=loser)
    customer_merge(survivor=survivor, loser=loser, by=supervisor)
    gone.refresh_from_db()
    assert gone.status == MemberStatus.CLOSED and not MilesEntry.objects.exists()


def _counters_match_ledger(m: Member) -> None:
    m.refresh_from_db()
    sums = MilesEntry.objects.filter(member=m).aggregate(q=Sum("qualifying_miles"), s=Sum("qualifying_segments"))
    assert (m.qualifying_miles, m.qualifying_segments) == (sums["q"] or 0, sums["s"] or 0)


def test_merge_moves_qualifying_miles_segments_and_lifetime_miles_and_the_survivor_may_reach_a_tier(supervisor, db):
    # given two Blue members in their current period: the survivor with 15,000 qualifying miles and
    # 20 segments, the duplicate with 12,000 and 8 (neither reaches Silver's 25,000 or 30 alone)
    survivor, loser = CustomerFactory(), CustomerFactory()
    kept, gone = member(customer=survivor), member(customer=loser)
    credit(kept, 15000, qualifying=15000, segments=20)
    credit(gone, 12000, qualifying=12000, segments=8)
    # when crm merges them
    record = customer_merge(survivor=survivor, loser=loser, by=supervisor)
    # then the survivor counts both for its tier, by the same two transfer entries as the award miles
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert (kept.award_balance, kept.qualifying_miles, kept.qualifying_segments) == (27000, 27000, 28)
    assert (gone.award_balance, gone.qualifying_miles, gone.qualifying_segments) == (0, 0, 0)
    merge_in = MilesEntry.objects.get(idempotency_key=f"merge:{gone.pk}:in")
    assert (merge_in.member_id, merge_in.qualifying_miles, merge_in.qualifying_segments) == (kept.pk, 12000, 8)
    for m in (kept, gone):
        _balance_matches_ledger(m)
        _counters_match_ledger(m)
    # and 27,000 qualifying miles reach Silver at once, by the usual upgrade rule
    assert kept.tier.code == "silver" and kept.tier_valid_until is not None
    # and the lifetime miles earned add up
    assert kept.lifetime_miles == 27000
    assert record.moved["loyalty"]["qualifying_miles"] == 12000
    assert record.moved["loyalty"]["qualifying_segments"] == 8


def test_the_duplicates_earlier_merges_follow_it_to_the_survivor(supervisor, db):
    # given a membership A merged into B, then B's customer merged into C's
    a_customer, b_customer, c_customer = CustomerFactory(), CustomerFactory(), CustomerFactory()
    a, b, c = member(customer=a_customer), member(customer=b_customer), member(customer=c_customer)
    customer_merge(survivor=b_customer, loser=a_customer, by=supervisor)
    customer_merge(survivor=c_customer, loser=b_customer, by=supervisor)
    # then A and B both point at C, the membership that lives on
    assert set(Member.objects.filter(merged_into=c).values_list("pk", flat=True)) == {a.pk, b.pk}
    assert customer_export(customer=c_customer)["loyalty"]["merged_memberships"] == [a.number, b.number]


# --- Search and attributes ------------------------------------------------------------------


def test_a_frequent_flyer_number_finds_the_customer_in_the_office_search(supervisor, db):
    # given a member
    m = member(given_name="Quentin", family_name="Zylberstein")
    spaced = f"{m.number[:3]} {m.number[3:6]} {m.number[6:]}"
    # when staff type the number (as printed on the card, with spaces), then the customer is found
    assert m.customer_id in registry.search(spaced)
    assert m.customer_id in {c.pk for c in customer_search(query=m.number, limit=10)}
    # and a number with a wrong check digit finds no one
    wrong = m.number[:-1] + str((int(m.number[-1]) + 1) % 10)
    assert registry.search(wrong) == set()
    # and the search page links to the customer
    response = logged_in(supervisor).get(reverse("office:customer_search"), {"q": m.number})
    assert m.customer.customer_number in response.content.decode()


def test_the_loyalty_attributes_annotate_any_number_of_customers_in_one_query(db, django_assert_num_queries):
    # given a Silver member with miles and a tier end date, a Blue member, and a non-member
    silver_member = member()
    credit(silver_member, 26000, qualifying=26000)
    blue_member = member()
    credit(blue_member, 50)
    outsider = CustomerFactory()
    silver_member.refresh_from_db()
    # when the customers are annotated with every loyalty attribute
    with django_assert_num_queries(1):
        rows = {
            c.pk: c
            for c in registry.annotate(
                Customer.objects.filter(pk__in=[silver_member.customer_id, blue_member.customer_id, outsider.pk]),
                "tier", "miles_balance", "tier_expiry", "member_since",
            )
        }  # fmt: skip
    # then each has its own values, and the non-member none
    assert (rows[silver_member.customer_id].tier, rows[silver_member.customer_id].miles_balance) == ("silver", 26000)
    assert silver_member.tier_valid_until is not None
    assert rows[silver_member.customer_id].tier_expiry == silver_member.tier_valid_until
    assert rows[blue_member.customer_id].tier == "blue" and rows[blue_member.customer_id].miles_balance == 50
    assert rows[blue_member.customer_id].member_since == blue_member.enrolled_at.date()
    assert rows[outsider.pk].tier is None and rows[outsider.pk].miles_balance is None
    # and a segment-style filter works on them
    rich = registry.annotate(Customer.objects.all(), "miles_balance").filter(miles_balance__gte=1000)
    assert list(rich.values_list("pk", flat=True)) == [silver_member.customer_id]
    assert ("silver", "Silver") in list(registry.attribute("tier").choices)


def test_the_member_page_is_audited_as_a_look_at_the_customer(agent, db):
    m = member()
    logged_in(agent).get(reverse("loyalty_office:member", args=[m.number]))
    assert CustomerAccess.objects.filter(customer=m.customer, user=agent, surface="office").exists()


def test_services_member_join_is_idempotent(db):
    customer = CustomerFactory()
    first, created = services.member_join(customer=customer, channel="portal")
    again, created_again = services.member_join(customer=customer, channel="portal")
    assert created and not created_again and first.pk == again.pk


def test_the_360_reads_the_membership_in_as_many_queries_whatever_its_history(agent, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given a member with one posting, and the 360's query count
    m = member()
    credit(m, 10)
    client = logged_in(agent)
    url = reverse("office:customer_detail", args=[m.customer.customer_number])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    # when the member has many more postings
    for i in range(20):
        credit(m, 100 + i, qualifying=100, segments=1)
    # then the 360 reads no more rows-by-row queries than before
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_links_to_member_pages_take_the_number_when_the_page_does_and_skip_pages_not_built():
    from loyalty import account

    links = account.member_links(
        [("loyalty_office:member", "Member"), ("loyalty_portal:miles_card", "Card"), ("loyalty_office:not_built_yet", "Later")],
        "7709425271",
    )
    assert links == [
        (reverse("loyalty_office:member", args=["7709425271"]), "Member"),
        (reverse("loyalty_portal:miles_card"), "Card"),
    ]
