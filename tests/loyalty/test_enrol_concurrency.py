"""Joining twice at once (the portal's button and an agent on the phone) makes one member, noted once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from crm.models import TimelineEntry
from loyalty import services
from loyalty.models import Member
from tests.crm.factories import CustomerFactory

THREADS = 6


@pytest.mark.django_db(transaction=True)
def test_simultaneous_enrolments_make_one_member_and_one_timeline_entry():
    # given a customer who is not a member
    customer = CustomerFactory()
    barrier = threading.Barrier(THREADS, timeout=60)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def join(channel: str) -> None:
        try:
            barrier.wait()
            member, created = services.member_join(customer=customer, channel=channel)
            results.append((member.pk, created))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # when several requests join at the same moment, each on its own connection
    threads = [threading.Thread(target=join, args=("portal" if n % 2 else "office",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one created the membership, everyone got the same one, and the timeline notes it once
    assert errors == []
    assert len({pk for pk, _created in results}) == 1
    assert sum(created for _pk, created in results) == 1
    assert Member.objects.filter(customer=customer).count() == 1
    assert TimelineEntry.objects.filter(customer=customer, kind="loyalty.enrolled").count() == 1
