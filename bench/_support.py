"""What every benchmark here shares: its own migrated database, a free port, percentiles."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_database(env: dict[str, str]) -> None:
    """Check the services, create the bench database if missing and migrate it; exit with the reason if not."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["check_services"], ["ensure_database"], ["migrate", "--noinput", "-v", "0"]):
        result = subprocess.run([*manage, *command], env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
        if result.returncode != 0:
            sys.exit((result.stderr or result.stdout).strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
