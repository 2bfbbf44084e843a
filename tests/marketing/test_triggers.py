"""Triggered campaigns: an event (or the daily scan) sends the campaign to the customers it happened to, once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from crm.events import customer_verified, send_after_commit
from crm.models import Customer
from loyalty.events import miles_expiring, tier_changed
from loyalty.models import Member
from marketing import services
from marketing.models import Campaign, Delivery, DeliveryStatus, Segment
from reservations.events import booking_ticketed, flight_arrived
from reservations.models import Booking
from tests.crm.factories import CustomerFactory
from tests.loyalty.factories import member
from tests.loyalty.flights import checked_in_booking, coupons_of, flown_booking, land, long_haul_flight, traveller
from tests.marketing.campaign_support import campaign
from tests.marketing.support import consent, reachable
from tests.reservations.factories import BookingFactory

pytestmark = pytest.mark.django_db


def triggered(trigger: str, *, days: int | None = None, status: str = "scheduled", **overrides) -> Campaign:
    """A triggered campaign (made one-off, then turned triggered: the constraint wants the trigger with the kind)."""
    c = campaign(name=f"On {trigger}", status=status, **overrides)
    Campaign.objects.filter(pk=c.pk).update(kind="triggered", trigger=trigger, trigger_days=days)
    c.refresh_from_db()
    return c


def sent_to(c: Campaign) -> list[int]:
    return sorted(Delivery.objects.filter(run__campaign=c, status=DeliveryStatus.SENT).values_list("customer_id", flat=True))


def deliveries(c: Campaign) -> int:
    return Delivery.objects.filter(run__campaign=c).count()


def fire(event, sender, capture, **payload) -> None:  # noqa: ANN001
    """Send the event as its app does (after commit), running the queued work as a worker would."""
    with capture(execute=True):
        send_after_commit(event, sender=sender, **payload)


# --- Events ----------------------------------------------------------------------------------------


def test_the_welcome_goes_once_when_the_email_is_verified_and_only_to_consenting_customers(
    django_capture_on_commit_callbacks,
):
    # Given a welcome campaign, a consenting customer and one who refused marketing
    welcome = triggered("registered")
    ada = reachable(email="ada@example.com")
    refused = CustomerFactory(email="refused@example.com")
    consent(refused, granted=False)

    # When each proves their e-mail address
    for customer in (ada, refused):
        fire(customer_verified, Customer, django_capture_on_commit_callbacks, customer_id=customer.pk, user_id=1)

    # Then only the consenting customer is welcomed, by one e-mail
    assert sent_to(welcome) == [ada.pk]
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]

    # And the event replayed (a day later even) welcomes nobody again
    fire(customer_verified, Customer, django_capture_on_commit_callbacks, customer_id=ada.pk, user_id=1)
    services.campaign_triggers_fire(trigger="registered", customer_ids=[ada.pk], on=timezone.localdate() + timedelta(days=1))
    assert deliveries(welcome) == 1 and len(mail.outbox) == 1


def test_a_customer_outside_the_segment_gets_nothing(django_capture_on_commit_callbacks):
    # Given a welcome campaign for customers whose home airport is LHR
    lhr = Segment.objects.create(
        name="London",
        rules={"all": [{"attribute": "home_airport_code", "lookup": "exact", "value": "LHR"}]},
        consent_channel="email",
    )
    welcome = triggered("registered", segment=lhr)
    londoner, parisian = reachable(home_airport="LHR"), reachable(home_airport="CDG")

    # When both verify their address
    for customer in (londoner, parisian):
        fire(customer_verified, Customer, django_capture_on_commit_callbacks, customer_id=customer.pk, user_id=1)

    # Then only the Londoner is welcomed
    assert sent_to(welcome) == [londoner.pk]


@pytest.mark.parametrize("status", ["draft", "paused", "approval", "completed"])
def test_a_campaign_that_is_not_scheduled_or_running_sends_nothing(django_capture_on_commit_callbacks, status):
    # Given a welcome campaign that is not live
    welcome = triggered("registered", status=status)
    ada = reachable()
    # When the trigger fires
    fire(customer_verified, Customer, django_capture_on_commit_callbacks, customer_id=ada.pk, user_id=1)
    # Then nothing is recorded or sent
    assert deliveries(welcome) == 0 and mail.outbox == []


def test_one_firing_starts_each_listening_campaign_once_for_all_its_customers(django_capture_on_commit_callbacks):
    # Given two live campaigns on the same trigger and one on another
    first, second = triggered("tier_changed"), triggered("tier_changed")
    other = triggered("miles_expiring")
    customers = [reachable() for _i in range(3)]
    # When the trigger fires for the three customers together
    with django_capture_on_commit_callbacks(execute=False):
        started = services.campaign_triggers_fire(trigger="tier_changed", customer_ids=[c.pk for c in customers])
    # Then both campaigns of that trigger have one run with the three, and the other none
    assert started == 2
    assert deliveries(first) == deliveries(second) == 3 and first.runs.count() == second.runs.count() == 1
    assert deliveries(other) == 0


def test_a_ticketed_booking_brings_its_customer_the_cross_sell_once(django_capture_on_commit_callbacks):
    # Given a hotel partner offer's campaign and a consenting customer's booking
    from tests.marketing.offers_support import offer

    hotel = offer(name="Hotel deal", is_partner_offer=True, partner_name="Hotels Co", partner_url="https://hotels.example/deal")
    cross_sell = triggered("booking_ticketed", offer=hotel, text_en="{{ offer_name }}: {{ partner_link }}")
    ada = reachable(email="ada@example.com")
    booking = BookingFactory(customer=ada)
    guest_booking = BookingFactory(customer=None)

    # When the booking (and a guest's) is ticketed, and the event is replayed
    for _time in range(2):
        fire(booking_ticketed, Booking, django_capture_on_commit_callbacks, booking_id=booking.pk,
             record_locator=booking.record_locator, ticket_ids=[])  # fmt: skip
    fire(booking_ticketed, Booking, django_capture_on_commit_callbacks, booking_id=guest_booking.pk,
         record_locator=guest_booking.record_locator, ticket_ids=[])  # fmt: skip

    # Then the booker receives the partner offer once, with its link
    assert sent_to(cross_sell) == [ada.pk]
    assert len(mail.outbox) == 1 and mail.outbox[0].body.startswith("Hotel deal: ")
    # and the partner link, tracked, leads to the partner's page
    tracked = urlsplit(mail.outbox[0].body.removeprefix("Hotel deal: ").strip()).path
    assert Client().get(tracked)["Location"] == "https://hotels.example/deal"


def test_everyone_flown_on_a_flight_gets_the_flown_campaign_once(django_capture_on_commit_callbacks):
    # Given a flown campaign and a flight with two bookers who agreed to marketing and one who did not
    flown_campaign = triggered("flight_flown")
    ada, grace, refused = reachable(), reachable(), CustomerFactory()
    flight = long_haul_flight()
    bookings = [checked_in_booking(flight=flight, customer=c, passengers=[traveller(customer=c)]) for c in (ada, grace, refused)]
    land(flight)
    coupons = [c.pk for b in bookings for c in coupons_of(b)]

    # When the flight's arrival is announced (twice)
    for _time in range(2):
        fire(flight_arrived, type(flight), django_capture_on_commit_callbacks, flight_id=flight.pk, coupon_ids=coupons)

    # Then the two consenting travellers receive it once each, in one run
    assert sent_to(flown_campaign) == sorted([ada.pk, grace.pk])
    assert flown_campaign.runs.count() == 1


def test_tier_changes_and_expiring_miles_reach_the_member(django_capture_on_commit_callbacks):
    # Given campaigns for both loyalty events and a consenting member
    tier_campaign, expiring_campaign = triggered("tier_changed"), triggered("miles_expiring")
    m = member(reachable())
    # When loyalty announces each (twice)
    for _time in range(2):
        fire(tier_changed, Member, django_capture_on_commit_callbacks, member_id=m.pk, customer_id=m.customer_id,
             old_tier="BLUE", new_tier="SILVER", reason="qualified")  # fmt: skip
        fire(miles_expiring, Member, django_capture_on_commit_callbacks, member_id=m.pk, customer_id=m.customer_id,
             miles=500, expires_on="2030-01-01")  # fmt: skip
    # Then the member receives each once
    assert sent_to(tier_campaign) == sent_to(expiring_campaign) == [m.customer_id]


# --- Daily scans -----------------------------------------------------------------------------------


def scan(capture, on: date) -> None:  # noqa: ANN001
    with capture(execute=True):
        services.triggered_scans_run(on=on)


def test_a_passport_expiring_within_the_days_is_reminded_once_per_expiry_date(django_capture_on_commit_callbacks):
    # Given a reminder 60 days ahead, and passports expiring in 30, 60, 61 days and last week
    today = timezone.localdate()
    reminder = triggered("passport_expiring", days=60)
    soon = reachable(passport_expiry=today + timedelta(days=30))
    exactly = reachable(passport_expiry=today + timedelta(days=60))
    later = reachable(passport_expiry=today + timedelta(days=61))
    expired = reachable(passport_expiry=today - timedelta(days=7))
    refused = CustomerFactory(passport_expiry=today + timedelta(days=30))

    # When the scan runs today, again today, and tomorrow
    scan(django_capture_on_commit_callbacks, today)
    scan(django_capture_on_commit_callbacks, today)
    scan(django_capture_on_commit_callbacks, today + timedelta(days=1))

    # Then the two passports within 60 days got one reminder each; tomorrow added the 61-day one only
    assert sent_to(reminder) == sorted([soon.pk, exactly.pk, later.pk])
    assert deliveries(reminder) == 3
    assert expired.pk not in sent_to(reminder) and refused.pk not in sent_to(reminder)

    # And a renewed passport (a new expiry) is reminded again when its own window opens
    Customer.objects.filter(pk=soon.pk).update(passport_expiry=today + timedelta(days=3650))
    scan(django_capture_on_commit_callbacks, today + timedelta(days=3650 - 59))
    assert Delivery.objects.filter(run__campaign=reminder, customer=soon).count() == 2


def _flew(customer: Customer, days_ago: int) -> None:
    flown_booking(
        customer=customer,
        passengers=[traveller(customer=customer)],
        departure=(timezone.now() - timedelta(days=days_ago)).replace(second=0, microsecond=0),
    )


def test_a_customer_without_a_flight_for_longer_than_the_days_is_won_back_once_per_spell(
    django_capture_on_commit_callbacks,
):
    # Given a win-back after 180 days, a customer who last flew 200 days ago and one who flew 20 days ago
    today = timezone.localdate()
    win_back = triggered("inactive", days=180)
    quiet, active, never = reachable(), reachable(), reachable()
    _flew(quiet, 200)
    _flew(active, 20)

    # When the scan runs today and the next day
    scan(django_capture_on_commit_callbacks, today)
    scan(django_capture_on_commit_callbacks, today + timedelta(days=1))

    # Then only the quiet customer is written to, once (somebody who never flew is not "inactive")
    assert sent_to(win_back) == [quiet.pk] and deliveries(win_back) == 1
    assert never.pk not in sent_to(win_back)

    # And once the spell's days have passed without a flight, they may be written to again
    scan(django_capture_on_commit_callbacks, today + timedelta(days=181))
    assert Delivery.objects.filter(run__campaign=win_back, customer=quiet).count() == 2


@pytest.mark.parametrize(
    ("today", "joined", "wished"),
    [
        (date(2027, 5, 10), date(2024, 5, 10), True),
        (date(2027, 5, 10), date(2024, 5, 11), False),
        (date(2027, 2, 28), date(2024, 2, 29), True),  # common year: 29 February kept on the 28th
        (date(2028, 2, 28), date(2024, 2, 29), False),  # leap year: on its own day
        (date(2027, 5, 10), date(2027, 5, 10), False),  # joined today: no anniversary yet
    ],
)
def test_the_membership_anniversary_is_wished_on_the_day_once_a_year(django_capture_on_commit_callbacks, today, joined, wished):
    # Given an anniversary campaign and a consenting member who joined on ``joined``
    anniversary = triggered("membership_anniversary")
    m = member(reachable())
    Member.objects.filter(pk=m.pk).update(enrolled_at=timezone.make_aware(datetime(joined.year, joined.month, joined.day, 12)))

    # When the scan runs on ``today`` twice
    scan(django_capture_on_commit_callbacks, today)
    scan(django_capture_on_commit_callbacks, today)

    # Then the member is wished once, or not at all
    assert sent_to(anniversary) == ([m.customer_id] if wished else [])
