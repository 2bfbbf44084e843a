"""/healthz: a load balancer's view of the deployment (the all-up case runs with a real worker in test_worker.py)."""

import time

import pytest

from tests.crm.test_worker import isolated_broker  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_broker"), pytest.mark.timeout(60)]


def test_healthz_is_503_naming_celery_when_no_worker_answers(client):
    # given PostgreSQL and Redis up, and no worker listening on this broker
    # when the load balancer asks
    started = time.monotonic()
    response = client.get("/healthz")

    # then the answer comes within the ping's timeout and names the missing worker
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["down"] == ["celery"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["celery"].startswith("down")


def test_healthz_is_503_naming_redis_when_redis_is_unreachable(client, settings):
    # given a REDIS_URL nothing listens on
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    # when the load balancer asks
    response = client.get("/healthz")

    # then redis is named, the database is still fine, and no worker is claimed
    assert response.status_code == 503
    body = response.json()
    assert "redis" in body["down"]
    assert body["checks"]["redis"].startswith("down")
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["celery"] != "ok"


def test_healthz_is_never_cached(client):
    response = client.get("/healthz")

    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
