"""``GET /api/v1/loyalty/partner-statements/{month}/``: a partner reads its own monthly clearing statement
with its key, as the office draws it; nobody else reads it, and a bad month is a 400 or 404, never a 500."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.permissions import ANALYST
from loyalty import selectors, services
from loyalty.models import EntryKind, MilesEntry, Partner
from tests.loyalty.factories import member

pytestmark = pytest.mark.usefixtures("generous_throttles")

MARCH = "2026-03"


def url(month: str) -> str:
    return f"/api/v1/loyalty/partner-statements/{month}/"


def as_partner(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Partner {key}")
    return client


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def _credit(partner: Partner, m, reference: str, miles: int, when: datetime, **details) -> MilesEntry:  # noqa: ANN001, ANN003
    return services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.PARTNER, reason="partner", key=f"partner:{partner.code}:{reference}", award=miles,
            details={"partner": partner.code, "reference": reference, **details}, partner_id=partner.pk, at=when,
        )
    )  # fmt: skip


@pytest.fixture
def hotel(db):
    return services.partner_create(
        code="harbour", name="Harbour Hotels", kind="hotel", price_per_mile=Decimal("0.01500"), daily_miles_alert=10**6
    )


@pytest.fixture
def cars(db):
    return services.partner_create(code="swift", name="Swift Cars", kind="car", price_per_mile=Decimal("0.02000"))


@pytest.fixture
def keys(hotel, cars):
    return {"harbour": services.partner_key_issue(partner=hotel), "swift": services.partner_key_issue(partner=cars)}


@pytest.fixture
def march(hotel, cars):
    """In March: three hotel credits (the second reversed this month, through the API); one in April; one car credit."""
    a, b = member(), member()
    credits = {
        "M-1": _credit(hotel, a, "M-1", 1000, _at(date(2026, 3, 1), 0), description="Harbour Hotel, 1 night"),
        "M-2": _credit(hotel, b, "M-2", 400, _at(date(2026, 3, 15)), occurred_on="2026-03-14"),
        "M-3": _credit(hotel, a, "M-3", 2500, _at(date(2026, 3, 31), 23)),
        "A-1": _credit(hotel, a, "A-1", 7000, _at(date(2026, 4, 1), 0)),
        "C-1": _credit(cars, a, "C-1", 300, _at(date(2026, 3, 10))),
    }
    reversal = services.partner_accrual_reverse(partner=hotel, transaction_reference="M-2").entry
    return {"a": a, "b": b, "credits": credits, "reversal": reversal}


# --- What the partner reads ----------------------------------------------------------------------------------


def test_a_partner_reads_its_months_totals_and_entries_as_the_office_draws_them(hotel, keys, march):
    # When the hotel asks for March's statement
    response = as_partner(keys["harbour"]).get(url(MARCH))

    # Then the totals are the office's (3 credits, 3,900 miles at 0.015: 58.50 EUR) and the entries oldest first
    assert response.status_code == 200, response.json()
    body = response.json()
    office = selectors.partner_statement(partner=hotel, month=date(2026, 3, 1)).totals
    assert body["partner"] == "harbour" and body["month"] == MARCH
    assert body["totals"] == {
        "transactions": 3, "issued": 3900, "reversed": 0, "net": 3900, "price_per_mile": "0.01500", "amount_due": "58.50",
        "currency": "EUR",
    }  # fmt: skip
    assert (office.issued, office.amount) == (3900, Decimal("58.50"))
    assert body["count"] == 3 and body["next"] is None and body["previous"] is None
    first, second, _third = body["results"]
    assert [e["transaction_reference"] for e in body["results"]] == ["M-1", "M-2", "M-3"]
    assert first == {
        "id": march["credits"]["M-1"].pk, "kind": "issued", "member_number": march["a"].number,
        "transaction_reference": "M-1", "miles": 1000, "posted_at": first["posted_at"], "occurred_on": None,
        "description": "Harbour Hotel, 1 night", "reverses": None,
    }  # fmt: skip
    assert datetime.fromisoformat(first["posted_at"]) == _at(date(2026, 3, 1), 0)
    assert second["occurred_on"] == "2026-03-14" and second["member_number"] == march["b"].number


def test_a_reversal_counts_in_its_own_month_and_names_the_credit_it_takes_back(hotel, keys, march):
    # When the hotel asks for this month's statement (the March credit M-2 was reversed now)
    response = as_partner(keys["harbour"]).get(url(f"{timezone.localdate():%Y-%m}"))

    # Then the reversal is there, with the credit's reference, id, stay date and a negative amount due
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["totals"]["issued"] == 0 and body["totals"]["reversed"] == 400 and body["totals"]["net"] == -400
    assert body["totals"]["amount_due"] == "-6.00"
    (reversal,) = body["results"]
    assert reversal["id"] == march["reversal"].pk and reversal["kind"] == "reversed"
    assert (reversal["transaction_reference"], reversal["miles"], reversal["reverses"]) == (
        "M-2",
        -400,
        march["credits"]["M-2"].pk,
    )
    assert reversal["occurred_on"] == "2026-03-14" and reversal["member_number"] == march["b"].number


def test_a_reversal_posted_without_a_reference_of_its_own_still_names_the_credits(hotel, keys):
    # Given a credit reversed by the programme (not through the partner API: no reference on the reversal)
    credit = _credit(hotel, member(), "H-77", 900, timezone.now() - timedelta(minutes=5))
    services.miles_reverse(entry=credit, reason="partner_cancelled")

    response = as_partner(keys["harbour"]).get(url(f"{timezone.localdate():%Y-%m}"))

    assert [(e["kind"], e["transaction_reference"]) for e in response.json()["results"]] == [
        ("issued", "H-77"),
        ("reversed", "H-77"),
    ]


def test_the_entries_are_paginated_as_every_list_of_the_api_with_the_totals_on_each_page(keys, march):
    client = as_partner(keys["harbour"])

    first = client.get(url(MARCH), {"page_size": 2})
    second = client.get(url(MARCH), {"page_size": 2, "page": 2})
    past = client.get(url(MARCH), {"page_size": 2, "page": 3})

    assert [e["transaction_reference"] for e in first.json()["results"]] == ["M-1", "M-2"]
    assert [e["transaction_reference"] for e in second.json()["results"]] == ["M-3"]
    assert first.json()["count"] == 3 and "page=2" in first.json()["next"]
    assert second.json()["totals"] == first.json()["totals"]
    assert past.status_code == 404 and set(past.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("query", [{"page": "x"}, {"page": ""}, {"page_size": "2.5"}, {"page_size": "\x00"}])
def test_a_page_that_is_not_a_whole_number_is_a_400(keys, march, query):
    response = as_partner(keys["harbour"]).get(url(MARCH), query)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == list(query)


def test_a_month_with_nothing_posted_is_an_empty_statement(keys, hotel):
    response = as_partner(keys["harbour"]).get(url("2001-01"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 0 and body["results"] == []
    assert body["totals"]["issued"] == 0 and body["totals"]["amount_due"] == "0.00"


def test_the_current_month_is_answered_while_it_runs(keys, hotel):
    _credit(hotel, member(), "NOW-1", 250, timezone.now() - timedelta(minutes=1))
    response = as_partner(keys["harbour"]).get(url(f"{timezone.localdate():%Y-%m}"))
    assert response.status_code == 200 and response.json()["totals"]["issued"] == 250


# --- Only its own ------------------------------------------------------------------------------------------------


def test_a_partner_sees_only_its_own_credits(keys, march):
    # When the car rental asks for March (also naming the hotel in the query, which nothing reads)
    response = as_partner(keys["swift"]).get(url(MARCH), {"partner": "harbour", "code": "harbour"})

    # Then only its own credit: nothing of the hotel's, and its own price
    body = response.json()
    assert body["partner"] == "swift"
    assert [e["transaction_reference"] for e in body["results"]] == ["C-1"]
    assert body["totals"] == {
        "transactions": 1, "issued": 300, "reversed": 0, "net": 300, "price_per_mile": "0.02000", "amount_due": "6.00",
        "currency": "EUR",
    }  # fmt: skip
    # And the hotel's March does not show the car rental's credit either
    hotel_refs = {e["transaction_reference"] for e in as_partner(keys["harbour"]).get(url(MARCH)).json()["results"]}
    assert "C-1" not in hotel_refs


def test_the_x_partner_key_header_works_too(keys, march):
    response = APIClient().get(url(MARCH), HTTP_X_PARTNER_KEY=keys["swift"])
    assert response.status_code == 200 and response.json()["partner"] == "swift"


# --- Who may not -------------------------------------------------------------------------------------------------


def test_without_a_key_or_with_a_wrong_replaced_or_inactive_one_the_answer_is_401(hotel, cars, keys, march):
    replaced = keys["harbour"]
    services.partner_key_issue(partner=hotel)  # a new key: the old one stops working
    Partner.objects.filter(pk=cars.pk).update(active=False)
    answers = {
        "no key": APIClient().get(url(MARCH)),
        "wrong key": as_partner(keys["swift"][:-2] + "zz").get(url(MARCH)),
        "replaced key": as_partner(replaced).get(url(MARCH)),
        "inactive partner": as_partner(keys["swift"]).get(url(MARCH)),
    }
    for what, response in answers.items():
        assert response.status_code == 401, what
        assert set(response.json()["error"]) == {"code", "message", "fields"}, what
        assert "results" not in response.json(), what
    assert answers["no key"]["WWW-Authenticate"].startswith("Partner")


def test_a_logins_token_does_not_open_a_partners_statement(march, make_staff, supervisor, agent, passenger, api_as):
    # Given staff who may see partners' statements at the office, staff who may not, and a passenger
    analyst = make_staff(ANALYST, username="analyst-statement")
    for login in (supervisor, analyst, agent, passenger[0]):
        # When they ask with their token, or their session
        by_token = api_as(login).get(url(MARCH))
        by_session = APIClient()
        by_session.force_login(login)
        # Then 401: the statement opens to a partner's key only
        for response in (by_token, by_session.get(url(MARCH))):
            assert response.status_code == 401, (login, response.content)
            assert "results" not in response.json()


# --- Bad months -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "month",
    [
        "2026-13", "2026-00", "2026-3", "26-03", "March", "2026-03-01", "202603", "1999-12", "2100-01",
        "２０２６-０３", "2026-0３", "2026-03 ", " 2026-03", "2026-03%00", "%00", "-2026-03", "9" * 300, "2026-03.json",
    ],
)  # fmt: skip
def test_a_month_not_written_yyyy_mm_is_a_400_naming_the_month(keys, month):
    response = as_partner(keys["harbour"]).get(url(month))
    assert response.status_code == 400, (month, response.content)
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["month"]


def test_a_month_not_begun_yet_is_a_404(keys):
    today = timezone.localdate()
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    for month in (f"{next_month:%Y-%m}", "2099-12"):
        response = as_partner(keys["harbour"]).get(url(month))
        assert response.status_code == 404, month
        assert response.json()["error"]["code"] == "statement_not_found"


def test_a_month_with_a_slash_is_another_path_a_404_in_the_error_shape(keys):
    response = as_partner(keys["harbour"]).get(url("2026/03"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_bad_month_is_refused_only_after_the_key_is_checked(keys):
    assert APIClient().get(url("2026-13")).status_code == 401


# --- Cost --------------------------------------------------------------------------------------------------------


def test_the_statement_costs_the_same_queries_for_three_entries_or_thirty(hotel, keys, django_assert_max_num_queries):
    # Given this month's statement with three credits, one of them reversed
    client, month = as_partner(keys["harbour"]), f"{timezone.localdate():%Y-%m}"

    def credits(count: int, prefix: str) -> None:
        for n in range(count):
            credit = _credit(hotel, member(), f"{prefix}-{n}", 100, timezone.now())
            if n % 3 == 0:
                services.miles_reverse(entry=credit, reason="partner_cancelled")

    credits(3, "Q")
    with django_assert_max_num_queries(6) as few:
        client.get(url(month))
    credits(27, "R")

    # When it is read again with ten times the entries
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url(month), {"page_size": 200})

    # Then no more queries: members and reversed credits come with the entries
    assert response.json()["count"] == 40 and len(response.json()["results"]) == 40


def test_malformed_query_strings_never_cause_a_500(keys, march):
    from tests.crm.test_api_errors import QUERIES, _fire, assert_error_shape

    client = as_partner(keys["harbour"])
    for query in [*QUERIES, "month=%00", "page_size=0", "page_size=201", "partner=%00"]:
        response = _fire(client, "get", f"{url(MARCH)}?{query}")
        assert_error_shape(response, f"GET {url(MARCH)}?{query[:40]}")
