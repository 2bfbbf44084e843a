"""What every benchmark here shares: its own migrated database, a free port, gunicorn, percentiles."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
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


class Gunicorn:
    """The whole project behind gunicorn on a free local port, in its own process group."""

    def __init__(self, env: dict[str, str], *, workers: int, threads: int) -> None:
        """Starts the server; wait_ready() returns once it answers. Rate limits are lifted for the load."""
        self.port = free_port()
        self.label = f"gunicorn, {workers} gthread workers x {threads} threads, on 127.0.0.1 (HTTP/1.1 keep-alive)"
        server_env = {
            **env,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "API_THROTTLE_USER": "100000000/minute",  # the load, not the rate limit, is measured
            "LOG_LEVEL": "ERROR",
        }
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "crm.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
             "--keep-alive", "30", "--log-level", "warning"],
            cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, token: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                sys.exit(f"gunicorn exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/", headers={"Authorization": f"Token {token}", "Host": "127.0.0.1"})
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        sys.exit("gunicorn did not answer within 30 s")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
