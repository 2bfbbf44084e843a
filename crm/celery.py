"""The Celery application: Redis broker, tasks discovered from every installed app.

Services queue tasks by name through ``task_enqueue_on_commit`` rather than importing their app's
``tasks`` module: tasks import services, so the dependency points one way and no import goes in a circle.
"""

import os
from typing import Any

from celery import Celery, Task
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_get(name: str) -> Task:
    """The registered task called ``name``, loading every app's tasks module first if need be.

    A worker loads them when it starts; a web process loads them the first time it queues one. An unknown
    name is a programming error and fails at once, in the caller, instead of reaching the broker.
    """
    if name not in app.tasks:
        app.loader.import_default_modules()
    try:
        return app.tasks[name]
    except KeyError:
        raise LookupError(f"No Celery task is called {name!r}.") from None


def task_enqueue(name: str, /, **kwargs: Any) -> None:
    """Queue the task now: for sweeps, which run outside any transaction."""
    task_get(name).apply_async(kwargs=kwargs)


def task_enqueue_on_commit(name: str, /, **kwargs: Any) -> None:
    """Queue the task once the surrounding transaction commits, so a worker never sees a row that was rolled back."""
    task = task_get(name)
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs))
