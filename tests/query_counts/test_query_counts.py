"""SQL queries per page, against the checked-in baseline in tests/query_counts/baseline.json.

Every page of the portal and the office and every GET endpoint of the API (tests/query_counts/pages.py)
is requested by the user it is for, with a small and with a large world of data (world.py), and its SQL
queries are counted. Each page is requested once before, uncounted, so that what a process loads only
once (content types...) does not count, whichever tests ran before in the same process. A page fails
when its count is above the baseline, or when it is higher with the large world than with the small one:
a query per row shown is a bug, whatever the baseline says.

After a change that is meant to add or remove queries, rewrite the baseline and commit it with the change:

    UPDATE_QUERY_BASELINE=1 pytest tests/query_counts

It refuses to run with CI set: CI only reads the file.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.query_counts import world as worlds
from tests.query_counts.pages import EXCLUDED, PAGES, Page, url_patterns

BASELINE = Path(__file__).with_name("baseline.json")
UPDATE = os.environ.get("UPDATE_QUERY_BASELINE", "") not in ("", "0")
HOW_TO_UPDATE = "After an intended change: UPDATE_QUERY_BASELINE=1 pytest tests/query_counts, and commit baseline.json."


@dataclass
class Measured:
    status: int
    queries: list[str]

    @property
    def count(self) -> int:
        return len(self.queries)


def _client(who: str, world: worlds.World) -> Client:
    api, _sep, role = who.rpartition(":")
    if api:
        client = APIClient()
        if role == "partner":
            client.credentials(HTTP_AUTHORIZATION=f"Partner {world.tokens['partner']}")
        elif role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
        return client
    client = Client()
    if role != "anonymous":
        user = world.passenger if role == "passenger" else world.staff[role]
        # A copy: logging in sets last_login on the instance, and the world's objects stay as stored.
        user = type(user).objects.get(pk=user.pk)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _get(page: Page, world: worlds.World, *, counted: bool) -> Measured:
    """One request by a new client of the page's user; whatever it writes is rolled back."""
    with transaction.atomic():
        client = _client(page.who, world)
        if page.prepare is not None:
            page.prepare(client, world)
        url = page.url(world)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        transaction.set_rollback(True)
    return Measured(status=response.status_code, queries=[q["sql"] for q in captured.captured_queries] if counted else [])


def _shape(sql: str) -> str:
    """A query with its values left out, so that the same query for another row compares equal."""
    sql = re.sub(r'SAVEPOINT "[^"]+"', "SAVEPOINT ?", sql)
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"(?<![\w\"])-?\d+(?:\.\d+)?\b", "?", sql)
    sql = re.sub(r"ARRAY\[[^\]]*\]", "ARRAY[...]", sql)
    return re.sub(r"\(\?(?:, \?)*\)", "(...)", sql)


def _extra_queries(small: Measured, large: Measured, limit: int = 6) -> list[str]:
    extra = Counter(_shape(q) for q in large.queries) - Counter(_shape(q) for q in small.queries)
    lines = []
    for shape, times in extra.most_common(limit):
        example = next(q for q in large.queries if _shape(q) == shape)
        # The column list says nothing: which table, joins and conditions say which relation is read per row.
        example = re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", example, flags=re.DOTALL)
        lines.append(f"      +{times} x {example[:300]}")
    return lines


def _grouped(queries: list[str], limit: int = 25) -> list[str]:
    """A page's queries, the same query for other rows counted once with how many times it ran."""
    counted = Counter(_shape(q) for q in queries)
    lines = []
    for shape, times in list(counted.items())[:limit]:
        example = next(q for q in queries if _shape(q) == shape)
        example = re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", example, flags=re.DOTALL)
        lines.append(f"      {times} x {example[:200]}")
    return lines


def _read_baseline() -> dict[str, dict[str, int]]:
    return json.loads(BASELINE.read_text(encoding="utf-8")) if BASELINE.exists() else {}


def _write_baseline(counts: dict[str, dict[str, Measured]]) -> list[str]:
    """Rewrite the file; returns what changed."""
    old = _read_baseline()
    data = {key: {size: m.count for size, m in sizes.items()} for key, sizes in sorted(counts.items())}
    BASELINE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return [f"{key} {old.get(key)} -> {value}" for key, value in data.items() if old.get(key) != value] + [
        f"{key} removed" for key in old if key not in data
    ]


def _problems(counts: dict[str, dict[str, Measured]], baseline: dict[str, dict[str, int]] | None) -> list[str]:
    """What is wrong, page by page; ``baseline`` None checks only the status and the growth."""
    problems = []
    for page in PAGES:
        small, large = counts[page.key]["small"], counts[page.key]["large"]
        who = f"{page.key} (as {page.who})"
        if small.status != 200 or large.status != 200:
            problems.append(f"  {who}: answered {small.status} (small) and {large.status} (large), not 200")
            continue
        grows = large.count > small.count
        if grows:
            problems.append(
                f"  {who}: grows with the data, {small.count} queries (small) -> {large.count} (large); the extra ones:"
            )
            problems.extend(_extra_queries(small, large))
        if baseline is None:
            continue
        expected = baseline.get(page.key)
        if expected is None:
            problems.append(f"  {who}: no baseline yet; {small.count} queries (small), {large.count} (large)")
        elif small.count > expected["small"] or large.count > expected["large"]:
            problems.append(
                f"  {who}: {small.count} queries (small), {large.count} (large); "
                f"the baseline is {expected['small']} and {expected['large']}" + ("." if grows else ". Its queries (large):")
            )
            if not grows:
                problems.extend(_grouped(large.queries))
    if baseline is not None:
        stale = sorted(set(baseline) - set(counts))
        if stale:
            problems.append(f"  baseline.json holds pages no longer measured: {stale}")
    return problems


def _fewer(counts: dict[str, dict[str, Measured]], baseline: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{key} ({size}) {measured.count} < {baseline[key][size]}"
        for key, sizes in counts.items()
        if key in baseline
        for size, measured in sizes.items()
        if measured.count < baseline[key][size]
    ]


def test_every_page_that_answers_get_has_a_baseline_or_a_reason_not_to():
    # given every URL pattern of the project and whether it takes GET
    patterns = url_patterns()
    measured = {page.name for page in PAGES}

    # then each GET pattern is measured or excluded with a reason, and neither list names what is gone
    unmeasured = sorted(name for name, get in patterns.items() if get and name not in measured and name not in EXCLUDED)
    assert not unmeasured, f"Pages without a query-count baseline: add them to tests/query_counts/pages.py: {unmeasured}"
    gone = sorted((measured | set(EXCLUDED)) - set(patterns))
    assert not gone, f"tests/query_counts/pages.py names URL patterns that no longer exist: {gone}"
    not_get = sorted(name for name in measured if not patterns[name])
    assert not not_get, f"Measured pages that do not answer GET: {not_get}"
    keys = [page.key for page in PAGES]
    assert len(keys) == len(set(keys)), "Two pages share a name and variant: give one a variant."


@pytest.mark.django_db
@pytest.mark.timeout(300)
def test_no_page_makes_more_queries_than_its_baseline_or_more_with_more_data(generous_throttles, settings):
    if UPDATE and os.environ.get("CI"):
        pytest.fail("UPDATE_QUERY_BASELINE is for a developer's machine; CI only reads the baseline.")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # given the small and then the large world, each page is requested by its user
    counts: dict[str, dict[str, Measured]] = {page.key: {} for page in PAGES}
    for size in worlds.SIZES:
        with transaction.atomic():
            world = worlds.build(size)
            if size == "small":
                for page in PAGES:
                    _get(page, world, counted=False)  # what a process loads once (content types...) is not counted
            for page in PAGES:
                counts[page.key][size] = _get(page, world, counted=True)
            transaction.set_rollback(True)

    # then every page answered 200, no count is above its baseline, and none grows with the data
    if UPDATE:
        changed = _write_baseline(counts)
        warnings.warn(f"baseline.json rewritten; {'; '.join(changed) or 'nothing changed'}", stacklevel=1)
        problems = _problems(counts, None)
    else:
        baseline = _read_baseline()
        problems = _problems(counts, baseline)
        fewer = _fewer(counts, baseline)
        if fewer:
            warnings.warn(f"Fewer queries than the baseline, lower it: {'; '.join(fewer)}. {HOW_TO_UPDATE}", stacklevel=1)
    if problems:
        pytest.fail("SQL query counts per page:\n" + "\n".join(problems) + f"\n{HOW_TO_UPDATE}", pytrace=False)
