"""``rmm-alerts dev``'s built-in RMMs and local poll scheduler.

* Starts the loopback NinjaOne and TacticalRMM fakes (:mod:`rmm_alerts.simulator`) and connects
  the demo tenant's integrations to them: instance URL, credentials in the local secret store,
  the NinjaOne webhook registered through the fake's API (``PUT /api/v2/webhook``), the Tactical
  alert-template webhook configured, and a poll schedule per integration.
* Runs a local scheduler: every schedule in ``<LOCAL_STATE_DIR>/schedules.json`` fires the real
  poller handler on its interval (``RMM_ALERTS_DEV_POLL_SECONDS`` overrides the interval).
* Writes ``<home>/dev-runtime.json`` (database URL, simulator URLs) so ``rmm-alerts poll`` and
  ``rmm-alerts sim`` reach the running instance.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmm_alerts.ports import LocalScheduler, LocalSecretStore, poll_schedule
from rmm_alerts.simulator import NinjaOneSim, TacticalSim

RUNTIME_FILE = "dev-runtime.json"
DEMO_POLL_MINUTES = 5


@dataclass
class DevSimulators:
    ninjaone: NinjaOneSim
    tactical: TacticalSim
    scheduler: LocalPollScheduler | None = None

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.ninjaone.stop()
        self.tactical.stop()


def start(home: Path, database_url: str, creds: Any, base_url: str) -> DevSimulators:
    """Start the fakes and point the demo integrations at them (every start: ports change)."""
    import psycopg

    from rmm_alerts import demo
    from rmm_alerts.providers import NinjaOneClient

    state = Path(os.environ.get("LOCAL_STATE_DIR") or home / "state")
    ninja = NinjaOneSim()
    ninja.start()
    tactical = TacticalSim()
    tactical.start()
    store = LocalSecretStore(state)
    scheduler = LocalScheduler(state)
    wiring = (
        (demo.NINJA_INTEGRATION, ninja.url, {"clientId": "sim-client", "clientSecret": "sim-client-secret"}),
        (demo.TACTICAL_INTEGRATION, tactical.url, {"apiKey": tactical.api_key}),
    )
    with psycopg.connect(database_url) as conn:
        for iid, url, secret in wiring:
            ref = store.put(f"rmm-alerts/integrations/{demo.TENANT}/{iid}", secret)
            conn.execute(
                """UPDATE rmm_integrations SET instance_url = %s, credentials_ref = %s
                    WHERE tenant = %s AND integration_id = %s""",
                (url, ref, demo.TENANT, iid),
            )
            if scheduler.get(f"rmm-poll-{iid}") is None:
                scheduler.put(poll_schedule(demo.TENANT, iid, interval_minutes=DEMO_POLL_MINUTES, enabled=True))
        conn.commit()
    ninja_hook = f"{base_url}/webhooks/ninjaone/{creds.ninjaone_integration_id}"
    client = NinjaOneClient(ninja.url, "sim-client", "sim-client-secret", cache_key="dev-registration")
    try:
        client.register_webhook(ninja_hook, creds.ninjaone_secret)
    finally:
        client.close()
    tactical.configure_webhook(
        f"{base_url}/webhooks/tacticalrmm/{creds.tactical_integration_id}", creds.tactical_secret
    )
    (home / RUNTIME_FILE).write_text(
        json.dumps({"databaseUrl": database_url, "ninjaone": ninja.url, "tacticalrmm": tactical.url}, indent=2)
    )
    (home / RUNTIME_FILE).chmod(0o600)
    return DevSimulators(ninja, tactical)


def runtime(home: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((home / RUNTIME_FILE).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@dataclass
class LocalPollScheduler:
    """Fires ``fire(input)`` for each local schedule when its interval has passed."""

    scheduler: LocalScheduler
    fire: Callable[[dict[str, str]], None]
    override_seconds: float | None = None
    tick: float = 1.0
    _last: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def due(self, now: float) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for schedule in self.scheduler.all():
            if not schedule.enabled:
                continue
            interval = self.override_seconds or schedule.interval_minutes * 60
            last = self._last.setdefault(schedule.name, now)  # like EventBridge: first run one interval in
            if now - last >= interval:
                self._last[schedule.name] = now
                out.append(schedule.input)
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            for payload in self.due(time.monotonic()):
                try:
                    self.fire(payload)
                except Exception as exc:  # a failed cycle is printed; the next tick goes on
                    print(f"poll failed: {type(exc).__name__}: {exc}", flush=True)

    def start(self) -> LocalPollScheduler:
        self._thread = threading.Thread(target=self._run, name="local-poll-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
