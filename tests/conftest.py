"""Shared fixtures: staff in each role, passengers with their own customer record, API clients."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from crm.permissions import AGENT, ANALYST, MARKETER, PASSENGER, SUPERVISOR
from tests.crm.factories import CustomerFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test gets its own cache namespace (throttles, lockouts) in the real Redis."""
    import uuid

    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    }


# Migrations that create the roles; a transactional test's flush empties auth_group, so they are
# re-applied from the same tables of permissions after such a test.
ROLE_MIGRATIONS = (
    ("crm", "crm.migrations.0003_roles"),
    ("reservations", "reservations.migrations.0002_roles"),
    ("reservations", "reservations.migrations.0004_passenger_name_search"),
    ("loyalty", "loyalty.migrations.0002_programme_tiers_roles"),
    ("loyalty", "loyalty.migrations.0005_partners_fraud_liability"),
    ("marketing", "marketing.migrations.0002_offer_roles"),
    ("marketing", "marketing.migrations.0004_segment_roles"),
    ("marketing", "marketing.migrations.0007_campaign_roles"),
)


def restore_roles() -> None:
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    importlib.import_module("loyalty.migrations.0002_programme_tiers_roles").seed_reference(apps)
    importlib.import_module("loyalty.migrations.0006_award_chart").seed_chart(apps, None)
    for app_label, module_name in ROLE_MIGRATIONS:
        roles = importlib.import_module(module_name).ROLES
        for name, codes in roles.items():
            group, _ = Group.objects.get_or_create(name=name)
            if codes == "*":
                group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label))
                continue
            for code in codes:
                label, codename = code.split(".")
                group.permissions.add(Permission.objects.get(content_type__app_label=label, codename=codename))


@pytest.fixture(autouse=True)
def _roles_survive_flush(request):
    """Before each database test, put the roles back if an earlier transactional test flushed them."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        names.add("transactional_db")
    elif marker is not None:
        names.add("db")
    if {"db", "transactional_db", "live_server"} & names:
        from django.contrib.auth.models import Group

        request.getfixturevalue("transactional_db" if {"transactional_db", "live_server"} & names else "db")

        if not Group.objects.filter(name=PASSENGER).exists():
            restore_roles()


@pytest.fixture
def roles(db):
    """For fixtures that reach the database only when a test asks for them inside its body."""
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name=PASSENGER).exists():
        restore_roles()


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in-process unless a test starts a real worker (see tests/crm/test_worker.py).

    Celery marks "inside a task, never wait for a result" in one flag for the whole process while an eager
    task runs; eager tasks run from several threads at once (the concurrency tests) can leave it set, and a
    later real-worker test would then be refused its ``.get()``. Each test starts with it cleared.
    """
    from celery._state import _set_task_join_will_block

    from crm.celery import app

    _set_task_join_will_block(False)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _site_language():
    """Each test starts in the site's language, whatever an earlier test's request (a language switch
    activates the chosen one for the rest of the thread) left active."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def make_staff(roles):
    def make(role: str, **kwargs):
        return StaffFactory(roles=[role], **kwargs)

    return make


@pytest.fixture
def agent(make_staff):
    return make_staff(AGENT, username="agent1")


@pytest.fixture
def supervisor(make_staff):
    return make_staff(SUPERVISOR, username="supervisor1")


@pytest.fixture
def marketer(make_staff):
    return make_staff(MARKETER, username="marketer1")


@pytest.fixture
def analyst(make_staff):
    return make_staff(ANALYST, username="analyst1")


@pytest.fixture
def make_passenger(roles):
    """A portal login with its own customer record."""

    def make(email: str | None = None, **customer_kwargs):
        user = UserFactory(**({"username": email} if email else {}), roles=[PASSENGER])
        customer = CustomerFactory(user=user, email=user.email, **customer_kwargs)
        return user, customer

    return make


@pytest.fixture
def passenger(make_passenger):
    return make_passenger("passenger1@example.com")


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def agent_client(agent):
    return _logged_in(agent)


@pytest.fixture
def supervisor_client(supervisor):
    return _logged_in(supervisor)


@pytest.fixture
def marketer_client(marketer):
    return _logged_in(marketer)


@pytest.fixture
def passenger_client(passenger):
    return _logged_in(passenger[0])


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as():
    """APIClient authenticated as the given user (token auth, like other systems use)."""
    from rest_framework.authtoken.models import Token

    def make(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def api_clients(supervisor, passenger, api_as):
    """A staff member's, a passenger's and an anonymous API client: what the malformed-input sweeps use."""
    return {"staff": api_as(supervisor), "passenger": api_as(passenger[0]), "anonymous": APIClient()}


@pytest.fixture
def generous_throttles(monkeypatch):
    """Hundreds of requests per test: raise the rates so each request reaches the view."""
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"anon": "100000/minute", "user": "100000/minute", "token": "100000/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
