"""End to end: `rmm-alerts dev` as a subprocess, driven by the README's own curl commands.

The walkthrough runs dev through the session's PgBouncer as the application role (a fresh database
cloned from the migrated template; migrations and the seed go direct as the owner), as the
functions reach RDS Proxy in AWS. The restart test runs the plain `scripts/dev` path: dev's own
embedded PostgreSQL, whose data survives a restart."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.devproc import DEV, REPO, free_port, pooled_env, start, stop


def _readme_block(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```", text, re.S)
    assert match, f"README block {marker} not found"
    return match.group(1)


def _postgres_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(attrs=["name", "cmdline"]):
        cmd = p.info.get("cmdline") or []
        if p.info.get("name") == "postgres" and any(str(pgdata) in part for part in cmd):
            found.append(p)
    return found


def _shell(block: str, home: Path, port: int) -> subprocess.CompletedProcess[str]:
    """Run a README block as a user would paste it, pointed at this test's dev home and port."""
    script = (
        block.replace(".rmm-alerts/", f"{home}/")
        .replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        .replace(".venv/bin/rmm-alerts", f"{sys.executable} -m rmm_alerts.cli")
    )
    env = {**os.environ, "RMM_ALERTS_HOME": str(home)}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _variables(block: str) -> str:
    """The variable assignments of a block (what a shell session keeps between blocks)."""
    return "".join(line + "\n" for line in block.splitlines() if re.match(r"^[A-Z]+=", line))


def _curl(block: str, home: Path, port: int) -> dict[str, object]:
    return dict(json.loads(_shell(block, home, port).stdout))


def _second_dev_on_a_taken_port(home: Path, port: int) -> None:
    """A second `rmm-alerts dev` on the port the first one holds: a plain message, nothing started."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RMM_ALERTS_HOME"] = str(home)
    second = subprocess.run([*DEV, "--port", str(port)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    out = second.stdout + second.stderr
    assert second.returncode != 0, out
    assert f"port {port} on 127.0.0.1 is already in use" in out and f"--port {port + 1}" in out
    assert "Traceback" not in out and "stopping" not in out and "stopped" not in out
    assert not (home / "pgdata").exists()  # it gave up before starting PostgreSQL


@pytest.mark.slow
def test_dev_serves_the_readme_walkthrough_through_the_pooler_and_stops_clean(
    tmp_path: Path, database_url: str, admin_database_url: str, conn: Any
) -> None:
    home = tmp_path / "dev-home"
    port = free_port()
    proc, banner = start(home, port, pooled_env(database_url, admin_database_url))
    try:
        assert not any("starting PostgreSQL" in line for line in banner)  # no embedded server
        assert any("demo tenant created" in line for line in banner)
        assert any(f"127.0.0.1:{port}/webhooks/ninjaone/" in line for line in banner)
        assert any("X-Webhook-Secret:" in line for line in banner)
        trigger = _readme_block("e2e:trigger")
        created = _curl(trigger, home, port)
        assert created["outcome"] == "ticket_created" and created["ticketNumber"] == "TIC000001"
        # Delivered before the response: the demo rule notifies the admin by e-mail (.eml) too.
        (eml,) = (home / "mail").glob("*.eml")
        mail = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert mail["To"] == "admin@demo-msp.test" and mail["Subject"].startswith("RMM Alert (")
        body = mail.get_body(("plain",))
        assert body is not None and "TIC000001" in body.get_content()
        sent = json.loads((home / "trigger.json").read_text())
        assert abs(sent["activityTime"] - time.time()) < 120  # a sample dated now, not a 2025 fixture
        # "Send the same file again": the curl line alone (the block's variables set, no new sample).
        resend = "\n".join(line for line in trigger.splitlines() if "sample" not in line)
        assert _curl(resend, home, port)["outcome"] == "skipped"
        # The reset block reuses $URL and $SECRET from the trigger block, as in a shell session.
        resolved = _curl(_variables(trigger) + _readme_block("e2e:reset"), home, port)
        assert resolved["outcome"] == "resolved" and resolved["ticketId"] == created["ticketId"]
        # The alert detail shows the ticket's number, that it closed, and its notes.
        detail: dict[str, Any] = json.loads(_shell(_readme_block("e2e:alert"), home, port).stdout)
        assert detail["status"] == "auto_resolved" and detail["ticketNumber"] == "TIC000001"
        assert detail["ticket"]["isClosed"] is True
        # No window exists yet: the trace says so, with the time windows were checked at.
        assert detail["decisionTrace"]["windows"]["checked"] == [] and detail["decisionTrace"]["windows"]["at"]
        notes = [n["text"] for n in detail["ticket"]["notes"]]
        assert notes[0].startswith("Ticket created automatically") and "closed automatically" in notes[-1]
        # TacticalRMM: trigger and resolve, paired by the sampled alert id.
        tactical = _shell(_readme_block("e2e:tactical"), home, port).stdout.splitlines()
        assert [json.loads(line)["outcome"] for line in tactical] == ["ticket_created", "resolved"]
        _second_dev_on_a_taken_port(tmp_path / "second-home", port)
        # The admin walkthrough: connect, map an organization and a device, create a rule.
        admin = _shell(_readme_block("e2e:admin"), home, port)
        org, device, rule = (json.loads(line) for line in admin.stdout.splitlines())
        integration = json.loads(admin.stderr)
        assert integration["webhookSecret"] and integration["webhookUrl"].endswith(integration["integrationId"])
        assert org["externalOrganizationId"] == "7"
        assert device["assetId"] == "0d3e5a10-0000-4000-8000-0000000000a1"
        assert rule["name"] == "Disks" and rule["actions"]["autoResolveTicket"] is True
        # The simulator loop: an alert fires in the "RMM" (webhook -> ticket), clears without its
        # RESET webhook, and the poller closes the ticket.
        sim = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _readme_block("e2e:sim")],
            cwd=REPO,
            env={**os.environ, "RMM_ALERTS_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert '"httpStatus": 200' in sim.stdout and '"cleared": true' in sim.stdout
        assert '"resolved": 1' in sim.stdout and '"status": "ok"' in sim.stdout
        # A technician closes the next alert's ticket: the local bus hands TICKET_CLOSED to
        # ticket_closed, which resets the alert in the simulated NinjaOne. After the walkthrough
        # above (TIC000001 NinjaOne, TIC000002 Tactical, TIC000003 the simulator loop's, closed by
        # the poll) the fired alert's ticket is TIC000004, the number the README's block closes.
        closing = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _readme_block("e2e:ticket-close")],
            cwd=REPO,
            env={**os.environ, "RMM_ALERTS_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "already closed" not in closing.stdout
        fired, _ = json.JSONDecoder().raw_decode(closing.stdout)
        # The README names the ticket the walkthrough's order gives this alert.
        assert fired["webhooks"][-1]["ticketNumber"] == "TIC000004", fired
        assert "closed ticket TIC000004" in closing.stdout and "delivered to ticket_closed" in closing.stdout
        state = json.loads(closing.stdout[closing.stdout.index("{", closing.stdout.index("closed ticket")) :])
        assert fired["uid"] in state["resets"], closing.stdout
        assert all(a["uid"] != fired["uid"] for a in state["alerts"])
    finally:
        output = stop(proc) if proc.poll() is None else []
    assert any(
        line.startswith("webhook ninjaone") and "ticket_created" in line and "TIC000001" in line for line in output
    )
    # The workflow events of the walkthrough's alert, printed by the local bus, each once (the
    # simulator loop's alert adds its own; when the poller's close of it is delivered varies).
    events = [line for line in output if line.startswith("event ")]
    printed = [line.split()[1] for line in events if f"ticketId={created['ticketId']}" in line]
    assert sorted(printed) == sorted(
        ["RMM_ALERT_TRIGGERED", "TICKET_CREATED", "TICKET_CLOSED", "RMM_ALERT_RESOLVED"]
    ), output
    event_ids = [line.rsplit("eventId=", 1)[1] for line in events]
    assert len(event_ids) == len(set(event_ids)), output
    assert any(line.startswith("bus     TICKET_CLOSED -> ticket") and "resolved=1" in line for line in output)
    assert any(line.startswith("e-mail  to=admin@demo-msp.test") for line in output)
    # The simulator loop's alert (TIC000002 went to the Tactical walkthrough: one sequence per tenant).
    assert any(
        line.startswith("webhook ninjaone") and "ticket_created" in line and "TIC000003" in line for line in output
    )
    assert "stopped" in output
    assert any(line.split()[:3] == ["admin", "GET", "/v1/alerts"] and "200" in line for line in output)
    assert not [line for line in output if "Warning" in line or "Traceback" in line]
    assert not (home / "pgdata").exists()
    # Everything above reached PostgreSQL through PgBouncer as the application role: the demo
    # tenant's rows were written by the seed (owner), its alerts and tickets by the functions.
    assert conn.execute("SELECT count(*) AS n FROM rmm_alerts").fetchone()["n"] >= 4


@pytest.mark.slow
def test_dev_on_its_embedded_postgres_restarts_reusing_the_data(tmp_path: Path) -> None:
    """The plain `scripts/dev` path: no DATABASE_URL, dev's own PostgreSQL under <home>/pgdata."""
    home = tmp_path / "dev-home"
    port = free_port()
    proc, banner = start(home, port)
    try:
        assert any(f"starting PostgreSQL (data in {home / 'pgdata'})" in line for line in banner)
        assert any("demo tenant created" in line for line in banner)
        trigger = _readme_block("e2e:trigger")
        created = _curl(trigger, home, port)
        assert created["outcome"] == "ticket_created" and created["ticketNumber"] == "TIC000001"
    finally:
        output = stop(proc) if proc.poll() is None else []
    assert "stopped" in output
    assert _postgres_for(home / "pgdata") == []

    # A second start reuses the data: same URLs and secrets, the ticket is still there.
    resend = "\n".join(line for line in trigger.splitlines() if "sample" not in line)
    proc, banner = start(home, port)
    try:
        assert any("reusing your data" in line for line in banner)
        again = _curl(resend, home, port)
        assert again["outcome"] == "skipped"  # the same delivery was already processed
    finally:
        stop(proc)
    assert _postgres_for(home / "pgdata") == []
