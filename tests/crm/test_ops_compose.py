"""docker-compose.yml, the Dockerfile and the Procfile describe a stack that can actually start.

No Docker engine is needed: the files are parsed, and every command they run is checked against
the code (the WSGI callable imports, the Celery app exists, the management commands exist).
"""

import importlib
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def command_text(command: str | list[str]) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def assert_runs_real_code(command: str) -> set[str]:
    """Every program the command starts points at something that exists; returns what it starts."""
    started = set()
    for module, attribute in re.findall(r"gunicorn\s+([\w.]+):(\w+)", command):
        assert callable(getattr(importlib.import_module(module), attribute)), command
        started.add("gunicorn")
    for app_name in re.findall(r"celery\s+-A\s+([\w.]+)", command):
        # `celery -A crm` looks for crm.celery.app, as the project defines it
        app = importlib.import_module(f"{app_name}.celery").app
        assert isinstance(app, Celery), command
        kind = re.search(rf"celery\s+-A\s+{re.escape(app_name)}\s+(\w+)", command).group(1)
        assert kind in ("worker", "beat"), command
        started.add(f"celery {kind}")
    for scheduler in re.findall(r"--scheduler\s+([\w.]+):(\w+)", command):
        assert hasattr(importlib.import_module(scheduler[0]), scheduler[1]), command
    commands = get_commands()
    for name in re.findall(r"manage\.py\s+([\w-]+)", command):
        assert name in commands, f"no management command {name!r}: {command}"
        started.add(f"manage.py {name}")
    for queues in re.findall(r"(?:-Q|--queues)[ =]([\w,]+)", command):
        assert set(queues.split(",")) <= {"default", "campaigns"}, command
    assert started, f"command starts nothing known: {command}"
    return started


def test_compose_has_every_service(compose):
    assert {"postgres", "redis", "web", "worker", "beat", "mail"} <= set(compose["services"])


def test_app_services_point_at_postgres_redis_and_the_mail_catcher(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert urlsplit(env["DATABASE_URL"]).hostname == "postgres", name
        assert urlsplit(env["DATABASE_URL"]).scheme in ("postgres", "postgresql", "psql"), name
        assert urlsplit(env["REDIS_URL"]).hostname == "redis", name
        assert urlsplit(env["EMAIL_URL"]).hostname == "mail", name
        assert urlsplit(env["EMAIL_URL"]).port == 1025, name
        assert {"postgres", "redis"} <= set(services[name]["depends_on"]), name
    assert any("1025" in str(port) for port in services["mail"]["ports"])
    assert "mailpit" in services["mail"]["image"]


def test_compose_commands_point_at_real_modules(compose):
    services = compose["services"]
    assert "gunicorn" in assert_runs_real_code(command_text(services["web"]["command"]))
    assert "manage.py migrate" in assert_runs_real_code(command_text(services["web"]["command"]))
    assert "celery worker" in assert_runs_real_code(command_text(services["worker"]["command"]))
    assert "celery worker" in assert_runs_real_code(command_text(services["worker-campaigns"]["command"]))
    assert "celery beat" in assert_runs_real_code(command_text(services["beat"]["command"]))
    # Campaigns have a worker of their own: a million birthday e-mails never wait in front of a booking's.
    assert _queues(command_text(services["worker"]["command"])) == {"default"}
    assert _queues(command_text(services["worker-campaigns"]["command"])) == {"campaigns"}


def _queues(command: str) -> set[str]:
    return {q for found in re.findall(r"(?:-Q|--queues)[ =]([\w,]+)", command) for q in found.split(",")}


def test_app_services_are_built_from_the_dockerfile(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name in APP_SERVICES:
        assert compose["services"][name]["build"] == "."
    assert "requirements.lock" in dockerfile
    cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.M).group(1))
    assert "gunicorn" in assert_runs_real_code(shlex.join(cmd))


def test_procfile_runs_web_worker_and_beat_from_real_modules():
    entries = procfile()

    assert set(entries) == {"web", "worker", "worker-campaigns", "beat"}
    assert "gunicorn" in assert_runs_real_code(entries["web"])
    assert "celery worker" in assert_runs_real_code(entries["worker"])
    assert "celery worker" in assert_runs_real_code(entries["worker-campaigns"])
    assert (_queues(entries["worker"]), _queues(entries["worker-campaigns"])) == ({"default"}, {"campaigns"})
    assert "celery beat" in assert_runs_real_code(entries["beat"])


def test_beat_schedule_names_real_tasks():
    from django.conf import settings

    from crm.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
