"""Partners: their API keys, idempotent credits by their own reference, and monthly clearing statements."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty import selectors, services
from loyalty.models import EntryKind, MilesEntry, Partner
from tests.loyalty.factories import member

URL = "/api/v1/loyalty/partner-accruals/"


@pytest.fixture
def hotel(db):
    return services.partner_create(
        code="harbour", name="Harbour Hotels", kind="hotel", price_per_mile=Decimal("0.01500"), daily_miles_alert=20000
    )


@pytest.fixture
def hotel_key(hotel):
    return services.partner_key_issue(partner=hotel)


def as_partner(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Partner {key}")
    return client


def accrual(number: str, reference: str = "H-1", miles: int = 500, **extra) -> dict:
    return {"member_number": number, "transaction_reference": reference, "miles": miles, **extra}


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# --- Keys -----------------------------------------------------------------------------------------------


def test_an_issued_key_authenticates_its_partner_and_only_its_hash_is_stored(hotel):
    # When a key is issued
    key = services.partner_key_issue(partner=hotel)

    # Then it authenticates the partner, and the database holds its prefix and a hash, never the key
    stored = Partner.objects.get(pk=hotel.pk)
    assert services.partner_authenticate(key=key) == hotel
    assert key.startswith(stored.api_key_prefix + ".")
    assert key.split(".", 1)[1] not in stored.api_key_hash and len(stored.api_key_hash) == 64


def test_a_wrong_or_malformed_key_authenticates_nobody(hotel_key):
    prefix, secret = hotel_key.split(".", 1)
    for attempt in (f"{prefix}.{secret[:-1]}x", f"{prefix}.", "", "nonsense", f"{prefix}.{secret}\x00", "x" * 5000):
        assert services.partner_authenticate(key=attempt) is None, attempt


def test_issuing_a_new_key_withdraws_the_old_one(hotel, hotel_key):
    # When the key is rotated
    new_key = services.partner_key_issue(partner=hotel)

    # Then only the new key works
    assert services.partner_authenticate(key=hotel_key) is None
    assert services.partner_authenticate(key=new_key) == hotel


def test_an_inactive_partners_key_is_refused(hotel, hotel_key):
    Partner.objects.filter(pk=hotel.pk).update(active=False)
    assert services.partner_authenticate(key=hotel_key) is None


def test_the_management_command_creates_a_partner_and_prints_a_working_key(db):
    out = io.StringIO()
    call_command("partner_create", "swift-cars", "Swift Cars", "--kind", "car", "--price-per-mile", "0.02", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    partner = Partner.objects.get(code="swift-cars")
    assert partner.price_per_mile == Decimal("0.02") and partner.kind == "car"
    assert services.partner_authenticate(key=key) == partner


# --- The accrual endpoint: who may call it ---------------------------------------------------------------


def test_without_a_key_or_with_a_wrong_one_the_answer_is_401_in_the_error_shape(hotel_key):
    m = member()
    anonymous = APIClient().post(URL, accrual(m.number), format="json")
    wrong = as_partner(hotel_key[:-2] + "zz").post(URL, accrual(m.number), format="json")
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert anonymous["WWW-Authenticate"].startswith("Partner")
    assert not MilesEntry.objects.exists()


def test_a_logins_token_does_not_open_the_partner_endpoint(hotel, supervisor, api_as):
    m = member()
    response = api_as(supervisor).post(URL, accrual(m.number), format="json")
    assert response.status_code == 401
    assert not MilesEntry.objects.exists()


def test_the_x_partner_key_header_works_too(hotel, hotel_key):
    m = member()
    response = APIClient().post(URL, accrual(m.number), format="json", HTTP_X_PARTNER_KEY=hotel_key)
    assert response.status_code == 201, response.json()


# --- Crediting -----------------------------------------------------------------------------------------------


def test_a_partner_credit_lands_on_the_members_statement(hotel, hotel_key):
    # Given a member
    m = member()

    # When the hotel credits a stay
    response = as_partner(hotel_key).post(
        URL, accrual(m.number, "H-2026-1", 750, description="Harbour Hotel, 2 nights", occurred_on="2026-05-01"), format="json"
    )

    # Then 201 with the credit, and one partner entry with the partner on it
    assert response.status_code == 201, response.json()
    body = response.json()
    entry = MilesEntry.objects.get()
    assert body == {
        "id": entry.pk, "member_number": m.number, "transaction_reference": "H-2026-1", "miles": 750,
        "description": "Harbour Hotel, 2 nights", "occurred_on": "2026-05-01", "credited_at": body["credited_at"],
    }  # fmt: skip
    assert (entry.kind, entry.reason, entry.partner_id, entry.award_miles) == (EntryKind.PARTNER, "partner", hotel.pk, 750)
    assert entry.idempotency_key == "partner:harbour:H-2026-1"
    assert entry.details["partner"] == "harbour" and entry.details["reference"] == "H-2026-1"
    m.refresh_from_db()
    assert m.award_balance == 750 and m.qualifying_miles == 0


def test_the_same_reference_again_answers_200_with_the_first_credit(hotel, hotel_key):
    m = member()
    client = as_partner(hotel_key)
    first = client.post(URL, accrual(m.number, "H-9", 500), format="json")

    # When the partner retries
    again = client.post(URL, accrual(m.number, "H-9", 500), format="json")

    # Then the same entry, credited once
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    m.refresh_from_db()
    assert m.award_balance == 500 and MilesEntry.objects.count() == 1


def test_the_same_reference_with_other_miles_or_another_member_is_a_conflict(hotel, hotel_key):
    m, other = member(), member()
    client = as_partner(hotel_key)
    client.post(URL, accrual(m.number, "H-9", 500), format="json")

    more = client.post(URL, accrual(m.number, "H-9", 900), format="json")
    elsewhere = client.post(URL, accrual(other.number, "H-9", 500), format="json")

    for response in (more, elsewhere):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "partner_reference_conflict"
    m.refresh_from_db(), other.refresh_from_db()
    assert (m.award_balance, other.award_balance) == (500, 0)


def test_two_partners_may_use_the_same_reference(hotel, hotel_key):
    cars = services.partner_create(code="swift", name="Swift Cars", kind="car")
    m = member()
    as_partner(hotel_key).post(URL, accrual(m.number, "R-1", 100), format="json")
    response = as_partner(services.partner_key_issue(partner=cars)).post(URL, accrual(m.number, "R-1", 100), format="json")
    assert response.status_code == 201
    m.refresh_from_db()
    assert m.award_balance == 200


def test_a_mistyped_frequent_flyer_number_is_a_400_naming_the_field(hotel_key):
    m = member()
    response = as_partner(hotel_key).post(URL, accrual(wrong_check_digit(m.number)), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_frequent_flyer_number" and list(error["fields"]) == ["member_number"]
    assert not MilesEntry.objects.exists()


def test_an_unknown_but_well_formed_number_is_a_400_too(hotel_key):
    response = as_partner(hotel_key).post(URL, accrual("1234567897"), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"].keys() == {"member_number"}


@pytest.mark.parametrize("miles", [0, -5, services.MAX_MILES_PER_TRANSACTION + 1, "500", 1.5])
def test_miles_must_be_a_sane_whole_positive_number(hotel_key, miles):
    m = member()
    response = as_partner(hotel_key).post(URL, accrual(m.number, miles=miles), format="json")
    assert response.status_code == 400
    assert "miles" in response.json()["error"]["fields"]
    assert not MilesEntry.objects.exists()


def test_bad_reference_future_date_and_unknown_fields_are_refused(hotel_key):
    m = member()
    client = as_partner(hotel_key)
    future = (timezone.localdate() + timedelta(days=5)).isoformat()
    cases = {
        "transaction_reference": accrual(m.number, "has space"),
        "occurred_on": accrual(m.number, occurred_on=future),
        "bonus": accrual(m.number, bonus=True),
    }
    for field, body in cases.items():
        response = client.post(URL, body, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (field, response.json())
    assert not MilesEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_credit_posted_by_many_threads_at_once_is_credited_once():
    # Given a member and a partner's key
    hotel = services.partner_create(code="harbour", name="Harbour Hotels", kind="hotel")
    key = services.partner_key_issue(partner=hotel)
    m = member()
    threads_count = 8
    barrier = threading.Barrier(threads_count, timeout=60)
    answers: list[tuple[int, int | None]] = []

    def post() -> None:
        try:
            client = as_partner(key)
            barrier.wait()
            response = client.post(URL, accrual(m.number, "RACE-1", 1000), format="json")
            answers.append((response.status_code, response.json().get("id")))
        finally:
            connection.close()

    # When they all send the same transaction at the same moment
    threads = [threading.Thread(target=post) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then one credit; one 201 and the rest 200, all naming that entry
    entry = MilesEntry.objects.get()
    assert sorted(status for status, _ in answers) == [200] * (threads_count - 1) + [201]
    assert {entry_id for _, entry_id in answers} == {entry.pk}
    m.refresh_from_db()
    assert m.award_balance == 1000


# --- Statements -------------------------------------------------------------------------------------------


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def _credit(partner: Partner, m, reference: str, miles: int, when: datetime) -> MilesEntry:  # noqa: ANN001
    return services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.PARTNER, reason="partner", key=f"partner:{partner.code}:{reference}", award=miles,
            details={"partner": partner.code, "reference": reference}, partner_id=partner.pk, at=when,
        )
    )  # fmt: skip


@pytest.fixture
def march(hotel):
    """In March: three credits (one reversed) for the hotel; one in April; one for another partner."""
    cars = services.partner_create(code="swift", name="Swift Cars", kind="car")
    a, b = member(), member()
    month = date(2026, 3, 1)
    _credit(hotel, a, "M-1", 1000, _at(date(2026, 3, 1), 0))
    reversed_one = _credit(hotel, b, "M-2", 400, _at(date(2026, 3, 15)))
    _credit(hotel, a, "M-3", 2500, _at(date(2026, 3, 31), 23))
    _credit(hotel, a, "A-1", 7000, _at(date(2026, 4, 1), 0))
    _credit(cars, a, "M-1", 300, _at(date(2026, 3, 10)))
    services.miles_reverse(entry=reversed_one, reason="partner_cancelled")
    return month


def test_the_months_statement_nets_reversals_and_prices_the_miles(hotel, march, settings):
    # When March's statement is drawn (the reversal was posted now, so it counts in this month instead)
    statement = selectors.partner_statement(partner=hotel, month=march)
    now_statement = selectors.partner_statement(partner=hotel, month=timezone.localdate())

    # Then March: 3 credits, 3,900 miles issued, nothing reversed in March
    assert (statement.totals.transactions, statement.totals.issued, statement.totals.reversed) == (3, 3900, 0)
    assert statement.totals.amount == Decimal("58.50") and statement.totals.currency == "EUR"
    assert [e.details["reference"] for e in statement.entries] == ["M-1", "M-2", "M-3"]
    # And the month the reversal was posted takes it off: 400 miles back, -6.00 EUR
    assert (now_statement.totals.issued, now_statement.totals.reversed, now_statement.totals.net) == (0, 400, -400)
    assert now_statement.totals.amount == Decimal("-6.00")


def test_the_partner_list_shows_last_months_figures_in_a_constant_number_of_queries(
    hotel, analyst, django_assert_max_num_queries
):
    # Given credits last month for the hotel
    last_month = selectors.previous_month()
    m = member()
    for n in range(3):
        _credit(hotel, m, f"L-{n}", 1000, _at(last_month.replace(day=2 + n)))
    client = Client()
    client.force_login(analyst)

    # When an analyst opens the partner list
    with django_assert_max_num_queries(8):
        response = client.get(reverse("loyalty_office:partner_list"))

    # Then the hotel shows 3,000 miles and 45.00 EUR due
    assert response.status_code == 200
    ((partner, totals),) = [row for row in response.context["rows"] if row[0].pk == hotel.pk]
    assert (totals.issued, totals.net, totals.amount) == (3000, 3000, Decimal("45.00"))
    assert "45.00" in response.content.decode()


def test_the_statement_page_and_its_csv(hotel, march, analyst, django_assert_max_num_queries):
    client = Client()
    client.force_login(analyst)
    page_url = reverse("loyalty_office:partner_statement", args=["harbour", "2026-03"])

    with django_assert_max_num_queries(10):
        page = client.get(page_url)
    csv_response = client.get(reverse("loyalty_office:partner_statement_csv", args=["harbour", "2026-03"]))

    assert page.status_code == 200 and "58.50" in page.content.decode()
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
    assert [r[4] for r in rows[1:4]] == ["M-1", "M-2", "M-3"]
    assert ["amount_due", "58.50", "EUR"] in rows


def test_a_bad_month_or_partner_is_a_404(hotel, analyst):
    client = Client()
    client.force_login(analyst)
    for code, month in (("harbour", "2026-13"), ("harbour", "March"), ("harbour", "9999-12"), ("nobody", "2026-03")):
        assert client.get(reverse("loyalty_office:partner_statement", args=[code, month])).status_code == 404


def test_partner_pages_need_view_partner(hotel, marketer_client, passenger_client):
    url = reverse("loyalty_office:partner_list")
    assert marketer_client.get(url).status_code == 403
    assert passenger_client.get(url).status_code == 403


# --- Issuing a key at the office ----------------------------------------------------------------------------


def test_a_supervisor_issues_a_new_key_shown_once(hotel, hotel_key, supervisor_client):
    # When a supervisor issues a new key
    response = supervisor_client.post(reverse("loyalty_office:partner_key_issue", args=["harbour"]))

    # Then the page shows it (not cached), it works, and the old key does not
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new_key = response.context["key"]
    assert new_key in response.content.decode()
    assert services.partner_authenticate(key=new_key) == hotel
    assert services.partner_authenticate(key=hotel_key) is None


def test_an_agent_or_analyst_may_not_issue_keys(hotel, hotel_key, agent_client, analyst):
    analyst_client = Client()
    analyst_client.force_login(analyst)
    url = reverse("loyalty_office:partner_key_issue", args=["harbour"])
    assert agent_client.post(url).status_code == 403
    assert analyst_client.post(url).status_code == 403
    assert services.partner_authenticate(key=hotel_key) == hotel


# --- Reversals -----------------------------------------------------------------------------------------------

REVERSALS = "/api/v1/loyalty/partner-reversals/"


def test_a_partner_takes_back_a_cancelled_stay_once(hotel, hotel_key):
    # Given a credit of 800 miles
    m = member()
    client = as_partner(hotel_key)
    client.post(URL, accrual(m.number, "H-5", 800), format="json")

    # When the hotel reverses it, twice
    first = client.post(REVERSALS, {"transaction_reference": "H-5"}, format="json")
    again = client.post(REVERSALS, {"transaction_reference": "H-5"}, format="json")

    # Then the miles are taken back once, and the month's statement shows them reversed
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and first.json()["miles"] == -800
    assert first.json()["transaction_reference"] == "H-5"
    m.refresh_from_db()
    assert m.award_balance == 0
    totals = selectors.partner_statement(partner=hotel, month=timezone.localdate()).totals
    assert (totals.issued, totals.reversed, totals.net) == (800, 800, 0)


def test_a_reference_unknown_to_this_partner_is_a_404(hotel, hotel_key):
    cars = services.partner_create(code="swift", name="Swift Cars", kind="car")
    m = member()
    as_partner(hotel_key).post(URL, accrual(m.number, "H-6", 800), format="json")
    response = as_partner(services.partner_key_issue(partner=cars)).post(
        REVERSALS, {"transaction_reference": "H-6"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "partner_transaction_not_found"
    m.refresh_from_db()
    assert m.award_balance == 800


def test_miles_already_spent_cannot_be_taken_back(hotel, hotel_key):
    m = member()
    as_partner(hotel_key).post(URL, accrual(m.number, "H-7", 800), format="json")
    services.miles_post(
        posting=services.Posting(member_id=m.pk, kind=EntryKind.REDEMPTION, reason="award", key="spend", award=-500)
    )
    response = as_partner(hotel_key).post(REVERSALS, {"transaction_reference": "H-7"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "insufficient_miles"
    m.refresh_from_db()
    assert m.award_balance == 300


def test_a_reversal_in_the_csv_names_the_partners_reference(hotel, march, analyst):
    client = Client()
    client.force_login(analyst)
    month = f"{timezone.localdate():%Y-%m}"
    response = client.get(reverse("loyalty_office:partner_statement_csv", args=["harbour", month]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r[2], r[4], r[5]) for r in rows[1:2]] == [("reversed", "M-2", "-400")]
    assert ["amount_due", "-6.00", "EUR"] in rows
    page = client.get(reverse("loyalty_office:partner_statement", args=["harbour", month]))
    assert "M-2" in page.content.decode()


def test_a_description_with_control_characters_is_refused(hotel_key):
    m = member()
    response = as_partner(hotel_key).post(URL, accrual(m.number, description="Stay\x1b[31m"), format="json")
    assert response.status_code == 400 and "description" in response.json()["error"]["fields"]
