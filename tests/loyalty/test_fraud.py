"""Fraud signals raised for review: awards for others soon after a login change, and partner velocity;
the supervisors' review queue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.events import send_after_commit
from crm.models import TimelineEntry
from loyalty import services
from loyalty.models import EntryKind, FraudFlag, FraudSignal, Member, ReviewStatus
from reservations import events as reservations_events
from reservations.models import Booking, Payment
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import credit, member
from tests.reservations.factories import BookingFactory, BookingPassengerFactory

PARTNER_URL = "/api/v1/loyalty/partner-accruals/"


@pytest.fixture
def taken_over(make_passenger, django_capture_on_commit_callbacks):
    """A member with 50,000 miles whose password has just been changed."""
    user, customer = make_passenger("owner@example.com", given_name="Olive", family_name="Owner")
    m = member(customer)
    credit(m, 50000)
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("A-completely-new-password-1")
        user.save()
    m.refresh_from_db()
    return m


def award_booking(m: Member, *travellers, miles: int = 20000) -> Booking:  # noqa: ANN002
    """A booking for ``travellers`` (customers, or names as (given, family)) paid with the member's miles."""
    booking = BookingFactory(customer=m.customer)
    for n, traveller in enumerate(travellers, start=1):
        if isinstance(traveller, tuple):
            BookingPassengerFactory(booking=booking, sequence=n, given_name=traveller[0], family_name=traveller[1])
        else:
            BookingPassengerFactory(
                booking=booking,
                sequence=n,
                customer=traveller,
                given_name=traveller.given_name,
                family_name=traveller.family_name,
            )
    services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.REDEMPTION, reason="award", key=f"test-award:{booking.pk}", award=-miles,
            booking_id=booking.pk,
        )
    )  # fmt: skip
    return booking


def ticketed(booking: Booking, capture) -> None:  # noqa: ANN001
    with capture(execute=True):
        send_after_commit(
            reservations_events.booking_ticketed, sender=Booking, booking_id=booking.pk, record_locator=booking.record_locator,
            ticket_ids=[],
        )  # fmt: skip


# --- Login changes ------------------------------------------------------------------------------------


def test_a_password_change_is_remembered_on_the_membership(taken_over):
    assert taken_over.login_change == "password"
    assert timezone.now() - taken_over.login_changed_at < timedelta(minutes=1)


def test_an_award_for_a_stranger_soon_after_a_password_change_is_flagged_once(taken_over, django_capture_on_commit_callbacks):
    # Given an award booking for two strangers, paid with the member's miles
    booking = award_booking(taken_over, CustomerFactory(), ("Sam", "Stranger"))

    # When the booking is ticketed (and the event is delivered twice)
    ticketed(booking, django_capture_on_commit_callbacks)
    ticketed(booking, django_capture_on_commit_callbacks)

    # Then one flag for review, naming the booking and the change
    flag = FraudFlag.objects.get()
    assert (flag.member_id, flag.signal, flag.status) == (taken_over.pk, FraudSignal.THIRD_PARTY_AFTER_LOGIN_CHANGE, "open")
    assert flag.details["record_locator"] == booking.record_locator
    assert flag.details["login_change"] == "password" and flag.details["travellers"] == 2


def test_the_redemption_code_may_check_first_and_the_receiver_then_adds_nothing(taken_over, django_capture_on_commit_callbacks):
    booking = award_booking(taken_over, CustomerFactory())
    flag = services.fraud_check_redemption(member=taken_over, booking=booking)
    ticketed(booking, django_capture_on_commit_callbacks)
    assert flag is not None and list(FraudFlag.objects.all()) == [flag]


@pytest.mark.parametrize("with_record", [True, False])
def test_an_award_the_member_flies_on_is_not_flagged(taken_over, django_capture_on_commit_callbacks, with_record):
    # Given the member travels on the award (by their record, or typed in by name), with a companion
    own = taken_over.customer if with_record else ("olive", "OWNER")
    booking = award_booking(taken_over, own, CustomerFactory())

    ticketed(booking, django_capture_on_commit_callbacks)

    assert not FraudFlag.objects.exists()


def test_an_award_for_others_long_after_the_change_is_not_flagged(taken_over, django_capture_on_commit_callbacks):
    Member.objects.filter(pk=taken_over.pk).update(login_changed_at=timezone.now() - timedelta(hours=73))
    booking = award_booking(taken_over, CustomerFactory())
    ticketed(booking, django_capture_on_commit_callbacks)
    assert not FraudFlag.objects.exists()


def test_an_award_for_others_without_any_login_change_is_not_flagged(db, django_capture_on_commit_callbacks):
    m = member()
    credit(m, 30000)
    booking = award_booking(m, CustomerFactory())
    ticketed(booking, django_capture_on_commit_callbacks)
    assert not FraudFlag.objects.exists()


def test_a_miles_payment_without_ledger_entries_checks_the_bookers_membership(taken_over, django_capture_on_commit_callbacks):
    # Given a booking for a stranger paid with miles, whose redemption entry does not name the booking
    booking = BookingFactory(customer=taken_over.customer)
    BookingPassengerFactory(booking=booking, sequence=1, given_name="Sam", family_name="Stranger")
    Payment.objects.create(
        booking=booking, idempotency_key="p1", method="miles", status="succeeded", amount=Decimal("100.00"), currency="EUR",
        miles=10000,
    )  # fmt: skip

    ticketed(booking, django_capture_on_commit_callbacks)

    assert FraudFlag.objects.get().member_id == taken_over.pk


def test_a_booking_paid_by_card_is_not_checked(taken_over, django_capture_on_commit_callbacks):
    booking = BookingFactory(customer=taken_over.customer)
    BookingPassengerFactory(booking=booking, sequence=1, given_name="Sam", family_name="Stranger")
    Payment.objects.create(
        booking=booking, idempotency_key="p1", method="card", status="succeeded", amount=Decimal("100.00"), currency="EUR"
    )
    ticketed(booking, django_capture_on_commit_callbacks)
    assert not FraudFlag.objects.exists()


# --- Partner velocity -------------------------------------------------------------------------------------


@pytest.fixture
def hotel(db):
    partner = services.partner_create(code="harbour", name="Harbour Hotels", kind="hotel", daily_miles_alert=2000)
    return partner, services.partner_key_issue(partner=partner)


def post_accrual(key: str, number: str, reference: str, miles: int):  # noqa: ANN201
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Partner {key}")
    return client.post(PARTNER_URL, {"member_number": number, "transaction_reference": reference, "miles": miles}, format="json")


def test_partner_miles_past_the_daily_alert_are_flagged_once_a_day(hotel):
    partner, key = hotel
    m = member()

    # When the hotel credits 1,500 then 1,000 then 900 miles within a day
    statuses = [post_accrual(key, m.number, f"V-{n}", miles).status_code for n, miles in enumerate((1500, 1000, 900))]

    # Then the second crossed the alert (2,000): one flag, not one per credit
    assert statuses == [201, 201, 201]
    flag = FraudFlag.objects.get()
    assert (flag.signal, flag.member_id) == (FraudSignal.PARTNER_VELOCITY, m.pk)
    assert flag.details["partner"] == "harbour" and flag.details["miles_24h"] == 2500


def test_miles_older_than_a_day_do_not_count_towards_the_alert(hotel):
    partner, key = hotel
    m = member()
    services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.PARTNER, reason="partner", key="partner:harbour:OLD", award=1900,
            partner_id=partner.pk, at=timezone.now() - timedelta(hours=25),
        )
    )  # fmt: skip
    assert post_accrual(key, m.number, "NEW", 1000).status_code == 201
    assert not FraudFlag.objects.exists()


def test_another_partners_miles_do_not_count(hotel):
    partner, key = hotel
    cars = services.partner_create(code="swift", name="Swift Cars", kind="car")
    m = member()
    post_accrual(services.partner_key_issue(partner=cars), m.number, "C-1", 1900)
    post_accrual(key, m.number, "H-1", 1000)
    assert not FraudFlag.objects.exists()


# --- The review queue ------------------------------------------------------------------------------------


def flags(n: int) -> list[FraudFlag]:
    made = []
    for i in range(n):
        m = member()
        made.append(
            FraudFlag.objects.create(
                member=m, signal=FraudSignal.PARTNER_VELOCITY, key=f"test:{m.pk}:{i}",
                details={"partner": "harbour", "partner_name": "Harbour Hotels", "miles_24h": 25000, "alert": 20000},
            )
        )  # fmt: skip
    return made


def test_supervisors_see_the_open_flags_in_a_constant_number_of_queries(supervisor_client, django_assert_max_num_queries):
    url = reverse("loyalty_office:fraud_queue")
    flags(2)
    with django_assert_max_num_queries(12) as few:
        supervisor_client.get(url)
    flags(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = supervisor_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('id="flag-') == 12
    assert "25,000 miles from Harbour Hotels within 24 hours" in body


def test_only_supervisors_reach_the_queue(db, agent_client, marketer_client, analyst, passenger_client):
    analyst_client = Client()
    analyst_client.force_login(analyst)
    url = reverse("loyalty_office:fraud_queue")
    for client in (agent_client, marketer_client, analyst_client, passenger_client):
        assert client.get(url).status_code == 403


def test_a_supervisor_clears_a_flag_with_a_note_on_the_customers_timeline(supervisor, supervisor_client):
    (flag,) = flags(1)

    response = supervisor_client.post(
        reverse("loyalty_office:fraud_review", args=[flag.pk]), {"decision": "cleared", "note": "Called the member: genuine."}
    )

    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by, flag.review_note) == (ReviewStatus.CLEARED, supervisor, "Called the member: genuine.")
    entry = TimelineEntry.objects.get(customer=flag.member.customer, kind="loyalty.fraud_reviewed")
    assert entry.actor == supervisor and entry.data["decision"] == "cleared"
    # And it has left the open queue
    assert 'id="flag-' not in supervisor_client.get(reverse("loyalty_office:fraud_queue")).content.decode()


def test_confirming_needs_a_reason_and_a_flag_is_reviewed_once(supervisor_client):
    (flag,) = flags(1)
    url = reverse("loyalty_office:fraud_review", args=[flag.pk])

    without_reason = supervisor_client.post(url, {"decision": "confirmed", "note": "  "}, follow=True)
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN and "Nothing was changed" in without_reason.content.decode()

    supervisor_client.post(url, {"decision": "confirmed", "note": "Card used elsewhere too."})
    again = supervisor_client.post(url, {"decision": "cleared", "note": "Changed my mind."}, follow=True)
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.CONFIRMED and "already reviewed" in again.content.decode()


def test_an_agent_may_not_review(agent_client):
    (flag,) = flags(1)
    response = agent_client.post(reverse("loyalty_office:fraud_review", args=[flag.pk]), {"decision": "cleared", "note": "x"})
    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.status == ReviewStatus.OPEN
