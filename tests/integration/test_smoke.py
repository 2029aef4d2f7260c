"""scripts/smoke against `rmm-alerts dev`, whose functions reach PostgreSQL as the application role
through PgBouncer (migrations and the demo seed go direct, as the owner)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devproc import REPO, free_port, pooled_env, start, stop

SMOKE = [sys.executable, str(REPO / "scripts" / "smoke")]


@pytest.fixture
def dev(tmp_path: Path, database_url: str, admin_database_url: str) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "dev-home"
    port = free_port()
    proc, _ = start(home, port, pooled_env(database_url, admin_database_url))
    try:
        yield f"http://127.0.0.1:{port}", home
    finally:
        stop(proc)


def _smoke(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RMM_ALERTS_TOKEN"}
    return subprocess.run([*SMOKE, *args], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)


@pytest.mark.slow
def test_smoke_passes_against_dev_through_the_pooler(dev: tuple[str, Path], conn: object) -> None:
    base, home = dev
    out = _smoke(base, "--dev-home", str(home))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    steps = [line for line in lines if line.startswith(("PASS ", "FAIL "))]
    assert [line.split(":")[0] for line in steps] == [
        "PASS auth",
        "PASS client to map the test organization to",
        "PASS create integration",
        "PASS map organization and add a rule",
        "PASS webhook TRIGGERED -> ticket_created",
        "PASS alert and ticket via /v1",
        "PASS webhook RESET -> resolved",
        "PASS alert and ticket via /v1",
        "PASS clean up",
    ]
    assert lines[-1] == "smoke test passed"
    # It cleaned up: its integration is disconnected; the demo ones are untouched.
    rows = conn.execute(  # type: ignore[attr-defined]
        "SELECT name, is_active FROM rmm_integrations WHERE name LIKE 'smoke test %'"
    ).fetchall()
    assert len(rows) == 1 and rows[0]["is_active"] is False


@pytest.mark.slow
def test_smoke_fails_loudly(dev: tuple[str, Path]) -> None:
    base, _ = dev
    bad_token = _smoke(base, "--token", "not-the-token")
    assert bad_token.returncode == 1
    first = bad_token.stdout.splitlines()[0]
    assert first.startswith("FAIL auth") and "HTTP 401" in first
    assert bad_token.stdout.splitlines()[-1] == "smoke test FAILED"
    nothing_there = _smoke("http://127.0.0.1:1", "--token", "x", "--timeout", "2")
    assert nothing_there.returncode == 1 and nothing_there.stdout.startswith("FAIL auth")
