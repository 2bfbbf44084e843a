"""The import contracts of DESIGN.md hold: apps depend one way, crm on no other app, layers inside an app,
and no module imports another in a circle (imports inside functions included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from crm.celery import task_get

ROOT = Path(__file__).resolve().parents[2]
APPS = ("crm", "reservations", "loyalty", "support", "marketing", "analytics")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_import_contracts_of_the_project_are_kept():
    # when the contracts in pyproject.toml are checked
    result = lint_imports()
    # then every one is kept
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") >= 4


def test_lint_imports_fails_when_a_contract_is_broken(tmp_path):
    # given a contract the code does not keep: crm's services use its models
    config = tmp_path / "broken.ini"
    config.write_text(
        "[importlinter]\nroot_package = crm\n\n"
        "[importlinter:contract:broken]\nname = Services never touch models\ntype = forbidden\n"
        "source_modules = crm.services\nforbidden_modules = crm.models\n"
    )
    # when it is checked
    result = lint_imports("--config", str(config))
    # then the run fails and names the import
    assert result.returncode != 0
    assert "crm.services -> crm.models" in result.stdout


def test_no_module_imports_another_in_a_circle():
    # given every import between the project's modules, those inside functions too
    graph = grimp.build_graph(*APPS, cache_dir=None)
    # when each import is followed back
    circles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                circles.append(" -> ".join((importer, *back)))
    # then no chain leads back to where it started
    assert circles == []


@pytest.mark.parametrize("name", ["crm.tasks.send_email", "reservations.tasks.process_refund"])
def test_the_tasks_services_queue_by_name_exist(name):
    assert task_get(name).name == name


def test_queueing_an_unknown_task_fails_in_the_caller():
    with pytest.raises(LookupError):
        task_get("crm.tasks.no_such_task")
