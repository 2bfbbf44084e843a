"""Member-to-member transfers: a fee in miles, a yearly cap (also under concurrency), never below zero."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from crm.errors import ApplicationError
from crm.models import TimelineEntry
from loyalty import selectors, services
from loyalty.models import EntryKind, Member, MilesEntry
from tests.loyalty.factories import credit, member
from tests.loyalty.test_ledger import assert_balance_is_sum

pytestmark = pytest.mark.django_db


def send(sender, recipient, miles, **kwargs):  # noqa: ANN001, ANN003, ANN201
    return services.miles_transfer(
        sender=sender, recipient_number=recipient.number, recipient_family_name=recipient.customer.family_name,
        miles=miles, by=None, **kwargs,
    )  # fmt: skip


def test_a_transfer_moves_the_miles_and_charges_the_fee_in_miles():
    # given a sender with 20,000 miles and a 10% fee
    sender, recipient = member(), member()
    credit(sender, 20000)
    # when they send 5,000 miles
    transfer = send(sender, recipient, 5000)
    # then 5,500 leave the sender, 5,000 reach the recipient, each under the transfer's key family
    assert (transfer.miles, transfer.fee) == (5000, 500)
    sender.refresh_from_db()
    recipient.refresh_from_db()
    assert (sender.award_balance, recipient.award_balance) == (14500, 5000)
    entries = {e.idempotency_key: e for e in MilesEntry.objects.filter(kind=EntryKind.TRANSFER)}
    key = f"transfer:{transfer.transfer_id}"
    assert entries[f"{key}:out"].award_miles == -5000
    assert entries[f"{key}:out"].counterpart_id == recipient.pk
    assert entries[f"{key}:fee"].award_miles == -500
    assert entries[f"{key}:in"].award_miles == 5000
    assert entries[f"{key}:in"].counterpart_id == sender.pk
    assert_balance_is_sum(sender)
    assert_balance_is_sum(recipient)
    assert TimelineEntry.objects.filter(customer=sender.customer, kind="miles.transfer_sent").exists()
    assert TimelineEntry.objects.filter(customer=recipient.customer, kind="miles.transfer_received").exists()
    # and transfers are not earnings: lifetime miles stay as they were
    assert recipient.lifetime_miles == 0


def test_the_fee_is_rounded_up_to_a_whole_mile():
    assert services.transfer_fee(miles=1001, percent=10) == 101
    assert services.transfer_fee(miles=1000, percent=0) == 0


def test_a_transfer_the_balance_cannot_cover_with_its_fee_is_refused():
    sender, recipient = member(), member()
    credit(sender, 5499)
    with pytest.raises(services.InsufficientMiles) as refused:
        send(sender, recipient, 5000)
    assert "miles" in refused.value.fields
    sender.refresh_from_db()
    assert sender.award_balance == 5499
    assert not MilesEntry.objects.filter(kind=EntryKind.TRANSFER).exists()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("self", "transfer_to_self"),
        ("small", "transfer_too_small"),
        ("name", "frequent_flyer_name_mismatch"),
        ("bool", "invalid_miles"),
    ],
)
def test_bad_transfers_are_refused_and_post_nothing(case, code):
    sender, recipient = member(), member(family_name="Hopper")
    credit(sender, 10000)
    with pytest.raises(ApplicationError) as refused:
        if case == "self":
            send(sender, sender, 1000)
        elif case == "small":
            send(sender, recipient, selectors.programme().transfer_minimum_miles - 1)
        elif case == "name":
            services.miles_transfer(
                sender=sender, recipient_number=recipient.number, recipient_family_name="Lovelace", miles=1000, by=None
            )
        else:
            send(sender, recipient, True)
    assert refused.value.code == code
    assert not MilesEntry.objects.filter(kind=EntryKind.TRANSFER).exists()


def test_the_yearly_cap_counts_the_miles_sent_this_year():
    programme = selectors.programme()
    programme.transfer_yearly_cap = 3000
    programme.save(update_fields=["transfer_yearly_cap"])
    sender, recipient = member(), member()
    credit(sender, 100000)
    send(sender, recipient, 2000)
    assert services.transfer_quote(member=sender, miles=1000).remaining == 1000
    with pytest.raises(ApplicationError) as refused:
        send(sender, recipient, 1001)
    assert (refused.value.status, refused.value.code) == (409, "transfer_cap_reached")
    send(sender, recipient, 1000)
    assert services.transfer_sent_this_year(member=sender) == 3000


def test_the_same_transfer_id_posts_once():
    sender, recipient = member(), member()
    credit(sender, 10000)
    transfer_id = uuid.uuid4()
    first = send(sender, recipient, 1000, transfer_id=transfer_id)
    again = send(sender, recipient, 1000, transfer_id=transfer_id)
    assert (first.created, again.created) == (True, False)
    assert (again.miles, again.fee, again.recipient_id) == (1000, 100, recipient.pk)
    sender.refresh_from_db()
    assert sender.award_balance == 8900


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_never_exceed_the_cap_nor_the_balance():
    # given a cap of 5,000 a year, a sender with plenty of miles and six threads each sending 2,000
    programme = selectors.programme()
    programme.transfer_yearly_cap = 5000
    programme.save(update_fields=["transfer_yearly_cap"])
    sender, recipient = member(), member()
    credit(sender, 100000)
    family_name = recipient.customer.family_name
    barrier = threading.Barrier(6, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            services.miles_transfer(
                sender=Member.objects.get(pk=sender.pk), recipient_number=recipient.number,
                recipient_family_name=family_name, miles=2000, by=None,
            )  # fmt: skip
            outcome = "sent"
        except ApplicationError as error:
            outcome = error.code
        except Exception as error:  # noqa: BLE001 - a crash is an outcome the assertions must see
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(6)]
    # when they all send at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then two fit under the cap and four are refused
    assert sorted(outcomes) == ["sent"] * 2 + ["transfer_cap_reached"] * 4
    assert services.transfer_sent_this_year(member=sender) == 4000
    recipient.refresh_from_db()
    assert recipient.award_balance == 4000
    assert_balance_is_sum(sender)


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_never_overdraw():
    # given a sender with miles for exactly two transfers of 1,000 (+100 fee each)
    sender, recipient = member(), member()
    credit(sender, 2200)
    family_name = recipient.customer.family_name
    barrier = threading.Barrier(5, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            services.miles_transfer(
                sender=Member.objects.get(pk=sender.pk), recipient_number=recipient.number,
                recipient_family_name=family_name, miles=1000, by=None,
            )  # fmt: skip
            outcome = "sent"
        except ApplicationError as error:
            outcome = error.code
        except Exception as error:  # noqa: BLE001
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["insufficient_miles"] * 3 + ["sent"] * 2
    sender.refresh_from_db()
    assert sender.award_balance == 0
    assert_balance_is_sum(sender)
    assert_balance_is_sum(recipient)


# --- API -------------------------------------------------------------------------------------


def test_api_quote_and_send(make_passenger, api_as):
    user, customer = make_passenger("sender@example.com")
    sender, recipient = member(customer), member()
    credit(sender, 3000)
    client = api_as(user)
    quote = client.get("/api/v1/loyalty/transfers/quote/?miles=2000").json()
    assert (quote["fee"], quote["total"], quote["award_balance"]) == (200, 2200, 3000)
    assert quote["remaining_this_year"] == quote["yearly_cap"]
    body = {
        "frequent_flyer_number": recipient.number,
        "family_name": recipient.customer.family_name,
        "miles": 2000,
        "transfer_id": str(uuid.uuid4()),
    }
    sent = client.post("/api/v1/loyalty/transfers/", body, format="json")
    assert sent.status_code == 201, sent.json()
    assert (sent.json()["fee"], sent.json()["award_balance"]) == (200, 800)
    again = client.post("/api/v1/loyalty/transfers/", body, format="json")
    assert again.status_code == 200
    too_much = client.post("/api/v1/loyalty/transfers/", {**body, "transfer_id": str(uuid.uuid4())}, format="json")
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (409, "insufficient_miles")
    recipient.refresh_from_db()
    assert recipient.award_balance == 2000


# --- Portal page -----------------------------------------------------------------------------


def test_portal_transfer_previews_the_fee_then_sends_once(make_passenger):
    from django.test import Client

    user, customer = make_passenger("sender@example.com")
    sender, recipient = member(customer), member()
    credit(sender, 5000)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get("/miles/transfer/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "10% of the miles sent" in html
    form = {
        "frequent_flyer_number": recipient.number,
        "family_name": recipient.customer.family_name,
        "miles": "2000",
        "transfer_id": str(uuid.uuid4()),
    }
    preview = client.post("/miles/transfer/", {**form, "preview": "1"})
    assert preview.status_code == 200
    assert "2,200" in preview.content.decode()
    assert not MilesEntry.objects.filter(kind=EntryKind.TRANSFER).exists()
    assert client.post("/miles/transfer/", {**form, "send": "1"}).status_code == 302
    assert client.post("/miles/transfer/", {**form, "send": "1"}).status_code == 302  # the same form again
    sender.refresh_from_db()
    assert sender.award_balance == 2800
    refused = client.post("/miles/transfer/", {**form, "miles": "5000", "transfer_id": str(uuid.uuid4()), "send": "1"})
    assert refused.status_code == 409
    assert "this transfer needs" in refused.content.decode()
