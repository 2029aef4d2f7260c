"""Issue 10 item 15: ``.rmm-alerts/dev-credentials.json`` is never readable by others, not even
for a moment: it is created 0600 and moved into place atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rmm_alerts.demo import DevCredentials

CREDS = DevCredentials(
    tenant_id="t",
    admin_user_id="u",
    admin_token="token",
    ninjaone_integration_id="n",
    ninjaone_secret="s1",
    tactical_integration_id="tt",
    tactical_secret="s2",
)


def test_created_private_without_a_chmod_afterwards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With chmod disabled, only a file *created* 0600 ends up private (a 0644 file fixed later would not).
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    old = os.umask(0o022)
    try:
        path = tmp_path / ".rmm-alerts" / "dev-credentials.json"
        CREDS.save(path)
        CREDS.save(path)  # rewriting keeps it private too
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert DevCredentials.load(path) == CREDS
    assert [p.name for p in path.parent.iterdir()] == ["dev-credentials.json"]  # no temp file left


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "dev-credentials.json"
    CREDS.save(path)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        DevCredentials(**{**CREDS.__dict__, "admin_token": "new"}).save(path)
    assert DevCredentials.load(path) == CREDS
    assert [p.name for p in tmp_path.iterdir()] == ["dev-credentials.json"]
