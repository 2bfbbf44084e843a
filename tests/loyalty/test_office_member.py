"""The back-office member page and enrolling from the customer 360."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import CustomerAccess
from crm.services import customer_erase
from loyalty import services
from loyalty.models import EntryKind, Member, Tier
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import member
from tests.reservations.office_support import logged_in


def _post(m: Member, award: int, *, kind: str = EntryKind.BONUS, days_ago: int = 0, note: str = "") -> None:
    services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=kind, reason="welcome_bonus", key=f"o:{m.pk}:{award}:{days_ago}", award=award,
            note=note, at=timezone.now() - timedelta(days=days_ago),
        )
    )  # fmt: skip


def test_the_member_page_shows_the_membership_tier_and_statement(agent, db):
    # given a member with postings, one with an agent's note
    m = member(given_name="Ottilie", family_name="Brennan")
    _post(m, 400, note="Compensation for the broken seat")
    _post(m, 250, days_ago=3)
    # when an agent opens the member page
    response = logged_in(agent).get(reverse("loyalty_office:member", args=[m.number]))
    html = response.content.decode()
    # then it shows the customer, balances, tier and benefits, and the statement with the note
    assert response.status_code == 200
    assert "Ottilie Brennan" in html and reverse("office:customer_detail", args=[m.customer.customer_number]) in html
    assert "650" in html and "Blue" in html and "to Silver" in html
    assert "Compensation for the broken seat" in html
    # and the look is audited as a staff view of the customer
    access = CustomerAccess.objects.get(customer=m.customer, user=agent)
    assert access.surface == "office" and access.view_name == "loyalty_office:member"


def test_the_member_page_says_only_the_flights_a_flights_only_tier_needs(agent, db):
    # given Silver reached by 30 flights alone (0 qualifying miles in the admin), and a member with 27
    Tier.objects.filter(code="silver").update(qualifying_miles=0, qualifying_segments=30)
    m = member()
    services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.ACCRUAL, reason="flight", key=f"o:{m.pk}:flights", award=9000,
            qualifying=9000, segments=27,
        )
    )  # fmt: skip
    # when an agent opens the member page
    html = logged_in(agent).get(reverse("loyalty_office:member", args=[m.number])).content.decode()
    # then the next tier is 3 flights away, 90 % of the way, and no miles are said to be needed
    assert "3 flights to Silver (90%)" in html and "miles or 3 flights" not in html


def test_the_member_page_filters_and_pages_the_statement(agent, db):
    m = member()
    for i in range(30):
        _post(m, 1000 + i, days_ago=i)
    _post(m, 77, kind=EntryKind.PARTNER, days_ago=100)
    client = logged_in(agent)
    url = reverse("loyalty_office:member", args=[m.number])
    first = client.get(url).content.decode()
    assert "Page 1 of 2" in first
    partner_only = client.get(url, {"kind": "partner"}).content.decode()
    assert "Page 1 of" not in partner_only and ">77<" in partner_only and "1,029" not in partner_only
    since = (timezone.localdate() - timedelta(days=4)).isoformat()
    recent = client.get(url, {"date_from": since}).content.decode()
    assert "1,004" in recent and "1,005" not in recent


def test_the_member_page_reads_as_many_rows_whatever_the_history(agent, db):
    m = member()
    _post(m, 1)
    client = logged_in(agent)
    url = reverse("loyalty_office:member", args=[m.number])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(40):
        _post(m, 10 + i, days_ago=i + 1)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_the_member_page_is_404_for_unknown_or_malformed_numbers_and_403_for_passengers(agent, passenger_client, db):
    m = member()
    client = logged_in(agent)
    wrong_digit = m.number[:-1] + str((int(m.number[-1]) + 1) % 10)
    assert client.get(reverse("loyalty_office:member", args=[wrong_digit])).status_code == 404
    assert client.get(reverse("loyalty_office:member", args=["abc"])).status_code == 404
    assert passenger_client.get(reverse("loyalty_office:member", args=[m.number])).status_code in (302, 403)
    assert not CustomerAccess.objects.exists() or not CustomerAccess.objects.exclude(user=agent).exists()


def test_a_merged_membership_page_links_to_the_survivor(supervisor, db):
    from crm.services import customer_merge

    survivor, loser = CustomerFactory(), CustomerFactory()
    kept, gone = member(customer=survivor), member(customer=loser)
    customer_merge(survivor=survivor, loser=loser, by=supervisor)
    html = logged_in(supervisor).get(reverse("loyalty_office:member", args=[gone.number])).content.decode()
    assert reverse("loyalty_office:member", args=[kept.number]) in html and "Closed" in html


def test_enrol_is_404_for_an_erased_or_unknown_customer_and_405_for_a_get(agent, supervisor, db):
    customer = CustomerFactory()
    customer_erase(customer=customer, by=supervisor)
    client = logged_in(agent)
    url = reverse("loyalty_office:customer_enrol", args=[customer.customer_number])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 404
    assert not Member.objects.filter(customer=customer).exists()
    assert client.post(reverse("loyalty_office:customer_enrol", args=["NOPE"])).status_code == 404


def test_the_programme_settings_are_one_row_in_the_admin_with_tiers_and_partners(db, make_staff):
    # given an administrator
    from loyalty.models import Partner, Programme
    from loyalty.selectors import programme

    admin = make_staff("Administrator", username="admin1", is_superuser=True)
    client = logged_in(admin)
    programme()
    # then the settings row opens and can be changed, but not added or deleted
    assert client.get(reverse("admin:loyalty_programme_change", args=[1])).status_code == 200
    assert client.get(reverse("admin:loyalty_programme_add")).status_code == 403
    assert client.get(reverse("admin:loyalty_programme_delete", args=[1])).status_code == 403
    # and tiers and partners are listed; a partner's key hash is never shown
    Partner.objects.create(
        code="harbour", name="Harbour Hotels", kind="hotel", api_key_prefix="hh_123", api_key_hash="secret-hash"
    )
    assert "Gold" in client.get(reverse("admin:loyalty_tier_changelist")).content.decode()
    partner_page = client.get(reverse("admin:loyalty_partner_change", args=[Partner.objects.get().pk])).content.decode()
    assert "hh_123" in partner_page and "secret-hash" not in partner_page
    assert Programme.objects.count() == 1


def test_the_member_list_finds_members_by_number_name_and_tier(agent, db):
    # given members in two tiers
    ines = member(given_name="Ines", family_name="Arroyo-Quintana")
    bob = member(given_name="Bob", family_name="Smithfield")
    Member.objects.filter(pk=bob.pk).update(tier=Tier.objects.get(code="gold"))
    client = logged_in(agent)
    url = reverse("loyalty_office:member_list")
    # when the list opens, both are there, newest first, linked to their pages
    html = client.get(url).content.decode()
    assert html.index(bob.number) < html.index(ines.number)
    assert reverse("loyalty_office:member", args=[ines.number]) in html
    # then a number, a name or a tier narrows it
    assert bob.number not in client.get(url, {"q": ines.number}).content.decode()
    assert bob.number not in client.get(url, {"q": "Arroyo Quintana"}).content.decode()
    gold_only = client.get(url, {"tier": "gold"}).content.decode()
    assert bob.number in gold_only and ines.number not in gold_only
    assert "No member matches" in client.get(url, {"q": "Zzyzx"}).content.decode()
    # and the office menu links to it
    assert f'href="{url}"' in html


def test_the_member_list_reads_as_many_rows_whatever_the_number_of_members(agent, db):
    client = logged_in(agent)
    url = reverse("loyalty_office:member_list")
    member()
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(12):
        member()
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)
