"""Sample webhook payloads dated now, for trying the service by hand (``rmm-alerts sample``).

The payloads have the shape of ``tests/fixtures`` (the NinjaOne webhook activity; the TacticalRMM
body of :mod:`rmm_alerts.tactical_template`) but fresh ids and the current time, so a maintenance
window created now covers them (windows are checked at the alert's own time).

A trigger and its reset must share the RMM's pairing id (NinjaOne ``seriesUid``, TacticalRMM
``alertId``): each trigger remembers its pairing id in a small state file keyed by provider, device
and condition, and the next reset of that device and condition reuses it.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["trigger", "reset"]
STATE_FILE = "samples.json"

# The demo tenant maps NinjaOne organization 2 and TacticalRMM client 2 to client "Acme Corp".
NINJAONE_DEVICE = "101"
NINJAONE_ORGANIZATION = "2"
NINJAONE_CONDITION = "9b1e2c1a-7d4f-4e8b-a6c3-1f0e9d8c7b6a"
TACTICAL_AGENT = "kHaQcsUgHhLfRwyJOTuSwFYfPqrSQvtmkmnUcQkN"
TACTICAL_CLIENT = "2"
TACTICAL_CHECK = "17"
NINJAONE_SEVERITIES = ("CRITICAL", "MAJOR", "MODERATE", "MINOR", "NONE")
TACTICAL_SEVERITIES = ("error", "warning", "info")


def _int_or_str(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def ninjaone(
    kind: Kind,
    *,
    now: datetime,
    activity_id: int,
    series_uid: str | None,
    device_id: str = NINJAONE_DEVICE,
    organization_id: str = NINJAONE_ORGANIZATION,
    condition_uid: str = NINJAONE_CONDITION,
    severity: str = "MAJOR",
    device_name: str | None = None,
) -> dict[str, Any]:
    """A NinjaOne ``CONDITION`` activity (``TRIGGERED`` or ``RESET``) as the webhook posts it with
    ``expand: ["device", "organization"]``: a low disk space condition. Without ``series_uid`` the
    activity has no ``seriesUid`` and pairs on device + condition."""
    name = device_name or f"ACME-WS-{device_id}"
    triggered = kind == "trigger"
    value = "7.8" if triggered else "23.4"
    return {
        "id": activity_id,
        "activityTime": round(now.timestamp(), 3),
        "deviceId": _int_or_str(device_id),
        **({"seriesUid": series_uid} if series_uid else {}),
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED" if triggered else "RESET",
        "status": "Triggered" if triggered else "Reset",
        "activityResult": "SUCCESS",
        "sourceConfigUid": condition_uid,
        "sourceName": "Disk Space C: below 10%",
        "subject": f"Disk space {'low' if triggered else 'recovered'} on {name}",
        "message": f"Disk C: free space is {value}% (threshold 10%)",
        "type": "Condition",
        "severity": severity.upper(),
        "priority": "HIGH",
        "data": {
            "message": {
                "code": "vmm_cond_disk_free_space_lt",
                "params": {"drive": "C:", "threshold": "10", "value": value},
            }
        },
        "device": {
            "id": _int_or_str(device_id),
            "organizationId": _int_or_str(organization_id),
            "nodeClass": "WINDOWS_WORKSTATION",
            "offline": False,
            "displayName": name,
            "systemName": name,
            "references": {"organization": {"id": _int_or_str(organization_id), "name": "Acme Corp"}},
        },
    }


def _new_pairing(provider: str) -> str:
    return str(uuid.uuid4()) if provider == "ninjaone" else str(100_000 + secrets.randbelow(900_000))


def _tactical_time(at: datetime) -> str:
    # Tactical renders Python's str(datetime): "2026-11-29 23:41:15.556123+00:00".
    return str(at.astimezone(UTC))


def tactical(
    kind: Kind,
    *,
    now: datetime,
    alert_id: str | None,
    triggered_at: datetime | None = None,
    agent_id: str = TACTICAL_AGENT,
    client_id: str = TACTICAL_CLIENT,
    check_id: str = TACTICAL_CHECK,
    severity: str = "error",
    hostname: str = "ACME-WS-01",
) -> dict[str, Any]:
    """A TacticalRMM alert-template body (``trigger`` or ``resolve``) for a failed disk space check.
    Without ``alert_id`` (a resolve only) it pairs on agent + check."""
    check = "Disk Space Drive Check: Drive C: -  Warning Threshold: 25% Error Threshold: 10%"
    body: dict[str, Any] = {
        "message": f"{hostname} has a diskspace check: {check} that failed.",
        "checkName": check,
        "taskName": "None",
        "clientName": "Acme Corp",
        "siteName": "Main Office",
        "hostname": hostname,
        "templateVersion": "1",
        "alertId": alert_id if alert_id is not None else "None",
        "alertType": "check",
        "severity": severity,
        "alertTime": _tactical_time(triggered_at or now),
    }
    if kind == "reset":
        body["resolvedOn"] = _tactical_time(now)
    body.update(
        agentId=agent_id,
        clientId=client_id,
        siteId="5",
        checkId=check_id,
        checkType="diskspace",
        taskId="None",
        event="trigger" if kind == "trigger" else "resolve",
    )
    return body


# -- pairing state ----------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def generate(
    provider: str,
    kind: Kind,
    *,
    state_dir: Path,
    now: datetime | None = None,
    device: str | None = None,
    organization: str | None = None,
    condition: str | None = None,
    severity: str | None = None,
    pairing: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """A fresh payload, and a note for the user (``None`` when there is nothing to say).

    A trigger gets a new pairing id (unless ``pairing`` is given) and remembers it; a reset reuses
    the remembered one of the same device and condition and forgets it.
    """
    now = now or datetime.now(UTC)
    state_path = state_dir / STATE_FILE
    state = _load(state_path)
    note: str | None = None
    if provider == "ninjaone":
        device = device or NINJAONE_DEVICE
        condition = condition or NINJAONE_CONDITION
    else:
        device = device or TACTICAL_AGENT
        condition = condition or TACTICAL_CHECK
    key = f"{provider}:{device}:{condition}"
    remembered = state.get(key) if isinstance(state.get(key), dict) else None
    if kind == "trigger":
        pairing = pairing or _new_pairing(provider)
        state[key] = {"pairing": pairing, "triggeredAt": now.isoformat()}
        _save(state_path, state)
        triggered_at = now
    else:
        triggered_at = now
        if pairing is None and remembered is not None:
            pairing = str(remembered["pairing"])
            try:
                triggered_at = datetime.fromisoformat(str(remembered.get("triggeredAt")))
            except ValueError:
                triggered_at = now
        if pairing is None:
            note = (
                f"no trigger of this device and condition was sampled (state in {state_path}): this reset "
                "carries no pairing id, so it pairs with the active alert of the same device and condition"
            )
        state.pop(key, None)
        _save(state_path, state)

    if provider == "ninjaone":
        payload = ninjaone(
            kind,
            now=now,
            activity_id=1_000_000 + secrets.randbelow(2_000_000_000),
            series_uid=pairing,
            device_id=device,
            organization_id=organization or NINJAONE_ORGANIZATION,
            condition_uid=condition,
            severity=severity or "MAJOR",
        )
    else:
        payload = tactical(
            kind,
            now=now,
            alert_id=pairing,
            triggered_at=triggered_at,
            agent_id=device,
            client_id=organization or TACTICAL_CLIENT,
            check_id=condition,
            severity=severity or "error",
        )
    return payload, note
