"""`make run` and `make test` start with check_services: one plain sentence per service that is down."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
NOWHERE_DB = "postgres://postgres@127.0.0.1:1/airline_crm"
NOWHERE_REDIS = "redis://127.0.0.1:1/0"

pytestmark = pytest.mark.timeout(180)


def live_database_url(name: str | None = None) -> str:
    db = settings.DATABASES["default"]
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{name or db['NAME']}"


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=150
    )


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], **env)


def test_both_services_down_gives_one_sentence_each_and_fails():
    result = manage("check_services", DATABASE_URL=NOWHERE_DB, REDIS_URL=NOWHERE_REDIS)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("PostgreSQL is not reachable at 127.0.0.1:1")
    assert lines[1].startswith("Redis is not reachable at 127.0.0.1:1")
    for line in lines:
        assert "docker compose up -d postgres redis" in line
        assert line.endswith(".")
    assert "Traceback" not in result.stdout + result.stderr


def test_only_the_service_that_is_down_is_named():
    result = manage("check_services", DATABASE_URL=live_database_url(), REDIS_URL=NOWHERE_REDIS)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Redis is not reachable")
    assert "PostgreSQL" not in result.stderr


def test_services_up_pass_even_before_the_database_exists():
    # a fresh machine: the server answers, the database is created later by ensure_database
    result = manage("check_services", DATABASE_URL=live_database_url(f"not_created_{uuid.uuid4().hex[:8]}"))

    assert result.returncode == 0, result.stderr
    assert "reachable" in result.stdout


def test_ensure_database_creates_a_missing_database_once():
    name = f"ensure_db_{uuid.uuid4().hex[:8]}"
    url = live_database_url(name)
    try:
        first = manage("ensure_database", DATABASE_URL=url)
        second = manage("ensure_database", DATABASE_URL=url)

        assert first.returncode == 0, first.stderr
        assert f"Created database {name}." in first.stdout
        assert second.returncode == 0, second.stderr
        assert "Created" not in second.stdout
    finally:
        db = settings.DATABASES["default"]
        conn = psycopg2.connect(
            dbname="postgres", user=db.get("USER") or None, host=db.get("HOST") or None, port=db.get("PORT") or None
        )
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


def test_ensure_database_with_postgres_down_says_so_without_traceback():
    result = manage("ensure_database", DATABASE_URL=NOWHERE_DB)

    assert result.returncode != 0
    assert result.stderr.startswith("PostgreSQL is not reachable")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_stops_with_the_sentence_when_postgres_is_down():
    installed = run(["make", "--question", ".venv/.installed-stamp"])
    if installed.returncode != 0:
        pytest.skip("the virtualenv was not installed by `make install`; `make run` would install first")

    result = run(["make", "--no-print-directory", "run"], DATABASE_URL=NOWHERE_DB, REDIS_URL=NOWHERE_REDIS)

    assert result.returncode != 0
    assert "PostgreSQL is not reachable at 127.0.0.1:1" in result.stderr
    assert "Redis is not reachable at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "honcho" not in result.stdout
