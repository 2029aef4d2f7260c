"""`rmm-alerts dev` as a subprocess, for the end-to-end and browser suites.

Through the session's PgBouncer: ``pooled_env`` gives the environment a dev run needs to reach its
own database as the application role through the pooler (``DATABASE_URL``) and as the owner,
direct, for migrations and the demo seed (``MIGRATION_DATABASE_URL``). Without them, dev starts
its own embedded PostgreSQL under ``<home>/pgdata`` (the plain ``scripts/dev`` path).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
DEV = [sys.executable, "-m", "rmm_alerts.cli", "dev"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pooled_env(database_url: str, admin_database_url: str) -> dict[str, str]:
    """What a dev run needs to go through the pooler as the app role (migrations/seed: owner, direct)."""
    assert psycopg.conninfo.conninfo_to_dict(database_url)["user"] != psycopg.conninfo.conninfo_to_dict(
        admin_database_url
    ).get("user"), "DATABASE_URL must be the application role, not the owner"
    return {"DATABASE_URL": database_url, "MIGRATION_DATABASE_URL": admin_database_url}


def start(home: Path, port: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `rmm-alerts dev` and wait for its ``ready`` line; returns the process and its banner."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MIGRATION_DATABASE_URL"}}
    env.update(extra_env or {})
    env["RMM_ALERTS_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [*DEV, "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.strip() == "ready":
            return proc, lines
    proc.kill()
    proc.communicate()
    raise AssertionError("dev server did not become ready:\n" + "\n".join(lines))


def stop(proc: subprocess.Popen[str]) -> list[str]:
    """SIGINT, as Ctrl-C; it must exit 0. Returns everything it printed after the banner."""
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError("dev server did not stop within 60 s:\n" + out) from None
    assert proc.returncode == 0, out
    return out.splitlines()
