"""Roles come from migrations; a transactional test (real worker, live server) must not lose them."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import User
from crm.permissions import PASSENGER, STAFF_ROLES, is_staff_member, roles_of


def test_a_transactional_test_sees_the_roles(transactional_db):
    assert Group.objects.filter(name="Supervisor").exists()


def test_roles_and_their_permissions_exist_after_a_transactional_test(db):
    assert Group.objects.get(name="Supervisor").permissions.filter(codename="merge_customer").exists()
    assert Group.objects.get(name="Agent").permissions.filter(codename="add_booking").exists()


@pytest.mark.parametrize("role", [*STAFF_ROLES, PASSENGER])
def test_one_query_learns_the_roles_and_exactly_the_permissions_django_would_grant(make_staff, role):
    user = make_staff(role)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))  # a permission of its own too
    expected = ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))

    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as captured:
        assert roles_of(fresh) == {role}
        assert fresh.get_all_permissions() == expected
        assert fresh.has_perms(sorted(expected)) and not fresh.has_perm("crm.no_such_permission")
    assert len(captured) == 1
    assert is_staff_member(fresh) == (role in STAFF_ROLES)


def test_a_role_taken_away_is_gone_on_the_next_request(agent, api_as):
    client = api_as(agent)
    assert client.get("/api/v1/customers/").status_code == 200
    agent.groups.clear()
    assert client.get("/api/v1/customers/").status_code == 403
