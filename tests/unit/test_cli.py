"""The rmm-alerts command: help, --version, `sample` payloads, and what `dev` says before it starts."""

from __future__ import annotations

import io
import json
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rmm_alerts import cli, devserver, samples
from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.normalizers import normalize
from tests.support.apigw import FakeContext

TENANT, INTEGRATION = uuid.uuid4(), uuid.uuid4()
EVERYWHERE = "0.0.0.0"  # noqa: S104 - the point of these tests


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_help_describes_every_command_and_its_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    for command in ("migrate", "dev", "sample"):
        assert command in top
    assert "--version" in top and "RMM_ALERTS_HOME" in top
    dev = _help(capsys, "dev")
    assert "default: 127.0.0.1" in dev and "default: 8000" in dev and "admin token" in dev
    assert "DATABASE_URL" in _help(capsys, "migrate")
    sample = _help(capsys, "sample")
    assert "ninjaone" in sample and "tactical" in sample and "trigger" in sample and "reset" in sample
    assert "--device" in sample and "--pairing" in sample and "default" in sample


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out.split()
    assert out[0] == "rmm-alerts" and out[1][0].isdigit()


def _event(provider: str, payload: dict[str, Any]) -> NormalizedAlertEvent:
    return normalize(provider, payload, tenant_id=TENANT, integration_id=INTEGRATION, received_at=datetime.now(UTC))


@pytest.mark.parametrize("provider", ["ninjaone", "tactical"])
def test_sample_trigger_and_reset_pair_and_are_dated_now(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "LOCAL_DIR", tmp_path)
    name = "ninjaone" if provider == "ninjaone" else "tacticalrmm"
    payloads = []
    for kind in ("trigger", "trigger", "reset"):
        assert cli.main(["sample", provider, kind, "--device", "dev-9"]) == 0
        out = capsys.readouterr()
        assert out.err == ""
        payloads.append(json.loads(out.out))
    first, second, reset = (_event(name, p) for p in payloads)
    assert [e.kind for e in (first, second, reset)] == [EventKind.TRIGGERED, EventKind.TRIGGERED, EventKind.RESET]
    assert first.external_device_id == "dev-9" and first.external_organization_id == "2"
    assert first.external_alert_id != second.external_alert_id
    assert first.pairing_id != second.pairing_id
    # the reset pairs with the latest trigger of the same device and condition
    assert reset.pairing_id == second.pairing_id and reset.condition_id == second.condition_id
    for e in (first, second, reset):
        assert abs((datetime.now(UTC) - e.occurred_at).total_seconds()) < 60


def test_sample_reset_without_a_trigger_pairs_on_device_and_condition(tmp_path: Path) -> None:
    payload, note = samples.generate("ninjaone", "reset", state_dir=tmp_path)
    assert "seriesUid" not in payload and note is not None and "pairs with the active alert" in note
    event = _event("ninjaone", payload)
    assert event.pairing_id is None and event.kind is EventKind.RESET
    payload, _ = samples.generate("tacticalrmm", "reset", state_dir=tmp_path)
    assert _event("tacticalrmm", payload).pairing_id is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), (EVERYWHERE, False), ("192.168.1.5", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert devserver.is_loopback(host) is loopback


def test_dev_on_the_network_warns_and_a_taken_port_stops_before_postgres(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind((EVERYWHERE, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert devserver.run(host=EVERYWHERE, port=port, home=tmp_path / "home") == 1
    out = capsys.readouterr()
    assert "admin token" in out.out and "works from the network" in out.out
    assert f"port {port} on 0.0.0.0 is already in use" in out.err and f"--port {port + 1}" in out.err
    assert "stopping" not in out.out + out.err
    assert not (tmp_path / "home").exists()


def test_dev_console_prints_service_logs_in_its_own_format() -> None:
    """In `rmm-alerts dev` the functions' Powertools logger prints console lines, and still works as
    a Powertools logger (a decorated handler appends and clears per-invocation keys)."""
    from rmm_alerts.observability import logger

    handler = logger.registered_handler
    old_formatter, stream = handler.formatter, io.StringIO()
    old_stream = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        devserver._console_service_logs()

        @logger.inject_lambda_context(clear_state=True)
        def lambda_handler(event: dict[str, Any], context: Any) -> None:
            logger.append_keys(tenant_id="t-1")
            logger.warning("integrity error", extra={"error_type": "UniqueViolation"})

        lambda_handler({}, FakeContext())
    finally:
        handler.setFormatter(old_formatter)
        handler.setStream(old_stream)  # type: ignore[attr-defined]
    assert stream.getvalue() == "warning integrity error\n"
