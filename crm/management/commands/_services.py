"""Reachability of PostgreSQL and Redis, as plain sentences a developer can act on (no tracebacks)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

COMPOSE_HINT = "or run `docker compose up -d postgres redis`"


def _postgres_start_hint() -> str:
    clusters = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.is_dir())
    if clusters and shutil.which("pg_ctlcluster"):
        return f"start it with `pg_ctlcluster {clusters[-1]} main start` (or `sudo service postgresql start`) {COMPOSE_HINT}"
    return f"start it (e.g. `sudo service postgresql start` or `brew services start postgresql`) {COMPOSE_HINT}"


def _redis_start_hint() -> str:
    if shutil.which("redis-server"):
        return f"start it with `redis-server --daemonize yes` {COMPOSE_HINT}"
    return f"start it (e.g. `sudo service redis-server start` or `brew services start redis`) {COMPOSE_HINT}"


def database_params(database: dict[str, Any] | None = None, *, dbname: str | None = None) -> dict[str, Any]:
    db = database or settings.DATABASES["default"]
    params = {
        "dbname": dbname or db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "connect_timeout": 3,
    }
    return {k: v for k, v in params.items() if v is not None}


def _where(db: dict[str, Any]) -> str:
    return f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"


def postgres_problem() -> str | None:
    """None when the PostgreSQL server answers (a missing database is fine: ensure_database creates it)."""
    import psycopg2

    db = settings.DATABASES["default"]
    try:
        psycopg2.connect(**database_params(db)).close()
        return None
    except psycopg2.OperationalError as exc:
        message = " ".join(str(exc).split())
        if "does not exist" in message and "database" in message:
            return None
        if "authentication" in message or "password" in message or "role" in message:
            return (
                f"PostgreSQL at {_where(db)} refused user {db.get('USER') or '(default)'!r} ({message}); "
                "fix DATABASE_URL or the server's access rules."
            )
        return f"PostgreSQL is not reachable at {_where(db)} (DATABASE_URL); {_postgres_start_hint()}."


def _redis_problem(url: str, name: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        return None
    except redis.exceptions.AuthenticationError:
        return f"Redis at {_redis_where(url)} refused the credentials in {name}; fix {name}."
    except (redis.exceptions.RedisError, OSError, ValueError):
        return f"Redis is not reachable at {_redis_where(url)} ({name}); {_redis_start_hint()}."


def _redis_where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def redis_problems() -> list[str]:
    problems = []
    urls = {settings.REDIS_URL: "REDIS_URL"}
    broker = getattr(settings, "CELERY_BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://")) and _redis_where(broker) != _redis_where(settings.REDIS_URL):
        urls.setdefault(broker, "CELERY_BROKER_URL")
    for url, name in urls.items():
        problem = _redis_problem(url, name)
        if problem:
            problems.append(problem)
    return problems


def service_problems() -> list[str]:
    return [p for p in [postgres_problem(), *redis_problems()] if p]
