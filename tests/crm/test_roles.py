"""Roles come from migrations; a transactional test (real worker, live server) must not lose them."""

from django.contrib.auth.models import Group


def test_a_transactional_test_sees_the_roles(transactional_db):
    assert Group.objects.filter(name="Supervisor").exists()


def test_roles_and_their_permissions_exist_after_a_transactional_test(db):
    assert Group.objects.get(name="Supervisor").permissions.filter(codename="merge_customer").exists()
    assert Group.objects.get(name="Agent").permissions.filter(codename="add_booking").exists()
