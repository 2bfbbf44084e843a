"""/healthz: can this deployment serve? Database, Redis and at least one Celery worker."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return exc.__class__.__name__


def _redis() -> str | None:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return exc.__class__.__name__


def _celery() -> str | None:
    from crm.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001
        return exc.__class__.__name__
    return None if replies else "no worker answered"


@never_cache
@require_GET
def healthz(request):  # noqa: ANN001, ANN201
    checks = {"database": _database(), "redis": _redis()}
    checks["celery"] = _celery() if checks["redis"] is None else "broker unreachable"
    down = [name for name, problem in checks.items() if problem]
    body = {
        "status": "ok" if not down else "down",
        "checks": {name: ("ok" if problem is None else f"down: {problem}") for name, problem in checks.items()},
        "down": down,
    }
    return JsonResponse(body, status=200 if not down else 503)
