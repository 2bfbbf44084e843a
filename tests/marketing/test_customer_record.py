"""Static list places are the customer's data: exported, erased with them, moved by a merge."""

import pytest

from crm import registry
from marketing import services
from marketing.models import StaticListMember
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_merge_moves_list_places_once_and_leaves_nothing_behind():
    survivor, loser = CustomerFactory(), CustomerFactory()
    both = services.static_list_import(name="Both", content=f"{survivor.customer_number}\n{loser.customer_number}\n".encode())
    only_loser = services.static_list_import(name="Loser", content=f"{loser.customer_number}\n".encode())
    moved = registry.merge(survivor, loser)
    assert moved["marketing"] == {"static_list_members": 1}
    assert set(StaticListMember.objects.values_list("static_list_id", "customer_id")) == {
        (both.pk, survivor.pk),
        (only_loser.pk, survivor.pk),
    }
    both.refresh_from_db()
    assert both.size == 1
    assert registry.references(loser) == {}


def test_export_and_erase():
    customer = CustomerFactory()
    static_list = services.static_list_import(name="VIP", content=f"{customer.customer_number}\n".encode())
    assert registry.export(customer)["marketing"] == {
        "static_lists": [{"name": "VIP", "since": static_list.created_at.isoformat()}]
    }
    next(e for e in registry.extensions() if e.label == "marketing").eraser(customer)
    assert not StaticListMember.objects.exists()
    static_list.refresh_from_db()
    assert static_list.size == 0
