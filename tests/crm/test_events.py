"""Customer events: sent once per real change, after commit, with ids and codes only.

A rolled-back change sends nothing; a receiver that raises is logged and never fails the registration.
"""

from __future__ import annotations

import logging

import pytest
from django.db import connection, transaction

from crm import events, services
from crm.events import send_after_commit
from crm.models import ConsentChannel, ConsentPurpose, Customer, CustomerMerge, User
from tests.crm.factories import CustomerFactory, LeadFactory
from tests.events_support import capture_events, events_of

EVENTS = events_of(events)
PASSWORD = "correct horse battery"


class Boom(Exception):
    pass


@pytest.fixture
def received():
    """Every customer event delivered during the test, as (name, payload), checked to be plain JSON."""
    with capture_events(events, sender=Customer) as seen:
        yield seen


def register(email: str = "ada@example.com") -> User:
    return services.passenger_register(email=email, password=PASSWORD, given_name="Ada", family_name="Lovelace")


# --- Registration and verification ----------------------------------------------------------------------


def test_signing_up_sends_customer_registered_once(roles, received, django_capture_on_commit_callbacks):
    # When a person signs up for the portal
    with django_capture_on_commit_callbacks(execute=True):
        user = register()

    # Then one customer_registered names their new record and login
    customer = Customer.objects.get(user=user)
    assert received == [("customer_registered", {"customer_id": customer.pk, "user_id": user.pk})]


def test_a_record_made_by_an_agent_or_from_a_lead_is_not_a_registration(
    roles, agent, received, django_capture_on_commit_callbacks
):
    # When an agent creates a customer, and converts a lead into another
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_create(data={"given_name": "Bo", "family_name": "Ng", "email": "bo@example.com"}, by=agent)
        services.lead_convert(lead=LeadFactory(), by=agent)

    # Then no one registered: those people have no login and asked for nothing
    assert Customer.objects.count() == 2
    assert received == []


def test_verifying_the_address_sends_customer_verified_once(roles, received, django_capture_on_commit_callbacks):
    # Given a new sign-up
    user = register()
    customer = Customer.objects.get(user=user)

    # When the address is verified, and the link is followed again
    with django_capture_on_commit_callbacks(execute=True):
        services.passenger_verify_email(user=user)
        services.passenger_verify_email(user=user)

    # Then one customer_verified
    assert received == [("customer_verified", {"customer_id": customer.pk, "user_id": user.pk})]


def test_verifying_adopts_the_agents_record_and_says_so_before_it_says_verified(
    roles, received, django_capture_on_commit_callbacks
):
    # Given a record an agent made for the address, and a sign-up with the same address
    known = CustomerFactory(email="ada@example.com")
    user = register("ada@example.com")
    own = Customer.objects.get(user=user)

    # When the address is verified
    with django_capture_on_commit_callbacks(execute=True):
        services.passenger_verify_email(user=user)

    # Then the sign-up's record merged into the agent's, which is the one verified
    merge = CustomerMerge.objects.get()
    assert received == [
        ("customer_merged", {"survivor_id": known.pk, "loser_id": own.pk, "merge_id": merge.pk}),
        ("customer_verified", {"customer_id": known.pk, "user_id": user.pk}),
    ]
    assert Customer.objects.get(user=user).pk == known.pk


# --- Merge and erasure -------------------------------------------------------------------------------------


def test_a_merge_sends_customer_merged_with_survivor_and_loser(db, agent, received, django_capture_on_commit_callbacks):
    # Given two records of the same person
    survivor, loser = CustomerFactory(), CustomerFactory()
    loser_id = loser.pk

    # When an agent merges them
    with django_capture_on_commit_callbacks(execute=True):
        record = services.customer_merge(survivor=survivor, loser=loser, by=agent)

    # Then one customer_merged names both, though the loser is gone
    assert received == [("customer_merged", {"survivor_id": survivor.pk, "loser_id": loser_id, "merge_id": record.pk})]
    assert not Customer.objects.filter(pk=loser_id).exists()


def test_an_erasure_sends_customer_erased_once(db, received, django_capture_on_commit_callbacks):
    # Given a customer
    customer = CustomerFactory()

    # When they are erased, and the request is repeated
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_erase(customer=customer)
        services.customer_erase(customer=customer)

    # Then one customer_erased
    assert received == [("customer_erased", {"customer_id": customer.pk})]
    customer.refresh_from_db()
    assert customer.is_anonymized


# --- Consent -----------------------------------------------------------------------------------------------


def test_consent_changed_is_sent_only_when_the_current_consent_turns(db, agent, received, django_capture_on_commit_callbacks):
    # Given a customer who never answered about marketing e-mail
    customer = CustomerFactory()
    email, marketing = ConsentChannel.EMAIL, ConsentPurpose.MARKETING

    def record(granted: bool) -> int:
        event = services.consent_record(
            customer=customer, channel=email, purpose=marketing, granted=granted, source="office", by=agent
        )
        return event.pk

    # When they say no (nothing turns), yes, yes again, then no
    with django_capture_on_commit_callbacks(execute=True):
        ids = [record(False), record(True), record(True), record(False)]

    # Then only the two real turns are announced, with codes only
    common = {"customer_id": customer.pk, "channel": email, "purpose": marketing, "source": "office"}
    assert received == [
        ("consent_changed", {**common, "granted": True, "consent_event_id": ids[1]}),
        ("consent_changed", {**common, "granted": False, "consent_event_id": ids[3]}),
    ]


def test_the_preferences_form_announces_each_answer_that_changed(db, received, django_capture_on_commit_callbacks):
    # Given a customer who granted marketing e-mail only
    customer = CustomerFactory()
    email, sms = ConsentChannel.EMAIL, ConsentChannel.SMS
    services.consent_record(customer=customer, channel=email, purpose="marketing", granted=True, source="portal")

    # When they submit the form keeping e-mail and adding SMS
    with django_capture_on_commit_callbacks(execute=True):
        services.consent_record_changes(
            customer=customer, wanted={(email, "marketing"): True, (sms, "marketing"): True}, source="portal"
        )

    # Then only SMS is announced
    assert [(p["channel"], p["granted"]) for _name, p in received] == [(sms, True)]


# --- After commit, and robust ------------------------------------------------------------------------------


def test_a_rolled_back_registration_merge_or_erasure_sends_nothing(roles, agent, received, django_capture_on_commit_callbacks):
    # Given two records of the same person
    survivor, loser = CustomerFactory(), CustomerFactory()
    changes = (
        lambda: register(),
        lambda: services.customer_merge(survivor=survivor, loser=loser, by=agent),
        lambda: services.customer_erase(customer=survivor),
        lambda: services.consent_record(customer=survivor, channel="email", purpose="marketing", granted=True, source="api"),
    )

    # When each happens inside a transaction that then fails
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for change in changes:
            with pytest.raises(Boom), transaction.atomic():
                change()
                raise Boom

    # Then no receiver heard of any, and the records are as they were
    assert callbacks == [] and received == []
    assert set(Customer.objects.values_list("pk", flat=True)) == {survivor.pk, loser.pk}
    assert not User.objects.filter(username="ada@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_a_registration_is_announced_after_its_commit_and_a_failing_receiver_does_not_undo_it(received, caplog):
    # Given a customer_registered receiver that raises, and one that notes whether it runs inside a transaction
    inside = []

    def explode(sender, **payload):  # noqa: ANN001, ANN202
        raise Boom("receiver bug")

    events.customer_registered.connect(explode, weak=False, dispatch_uid="t-boom")
    events.customer_registered.connect(
        lambda sender, **kw: inside.append(connection.in_atomic_block), weak=False, dispatch_uid="t-inside"
    )
    try:
        # When a person signs up, for real
        with caplog.at_level(logging.ERROR, logger="crm.events"):
            user = register()
    finally:
        events.customer_registered.disconnect(dispatch_uid="t-boom")
        events.customer_registered.disconnect(dispatch_uid="t-inside")

    # Then the account exists, the others heard of it after the commit, and the failure is logged with its error
    customer = Customer.objects.get(user=user)
    assert received == [("customer_registered", {"customer_id": customer.pk, "user_id": user.pk})]
    assert inside == [False]
    [failure] = [r for r in caplog.records if r.name == "crm.events"]
    assert "customer_registered" in failure.getMessage() and "explode" in failure.getMessage()
    assert isinstance(failure.exc_info[1], Boom)


def test_a_payload_must_be_ids_and_codes_and_is_frozen_when_queued(db, received, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    # A model instance is refused when the event is queued, in the sender's own tests
    with pytest.raises(TypeError):
        send_after_commit(events.customer_erased, sender=Customer, customer=customer)

    # And a list the sender changes after queueing does not change what receivers get
    ids = [customer.pk]
    with django_capture_on_commit_callbacks(execute=True):
        send_after_commit(events.customer_erased, sender=Customer, customer_id=customer.pk, also=ids)
        ids.append(0)
    assert received == [("customer_erased", {"customer_id": customer.pk, "also": [customer.pk]})]
