"""``rmm-alerts dev``'s local event bus (README.md, Commands): what EventBridge does in AWS.

Publishers (``rmm-alerts ticket close``, a PSA running locally) drop an entry as a JSON file
under ``<home>/bus/``; the dev server picks each up, wraps it as the event EventBridge would hand
a Lambda target, and invokes the function its rule routes to (``TICKET_CLOSED`` from a source
other than ``rmm-alerts`` -> ``ticket_closed``). A delivered entry is removed; one whose function
raised is moved to ``bus/failed/`` (the local stand-in for the DLQ).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BUS_DIR = "bus"

Target = Callable[[dict[str, Any]], Any]


def publish(home: Path, *, detail_type: str, source: str, detail: dict[str, Any]) -> Path:
    """Put one entry on the bus (atomically: the dev server never reads half a file)."""
    folder = home / BUS_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)
    entry = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": "000000000000",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [],
        "detail": detail,
    }
    name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{entry['id']}.json"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, folder / name)
    return folder / name


class LocalEventBus:
    """Delivers the entries under ``<home>/bus`` to ``targets`` (by detail-type), in order."""

    def __init__(
        self,
        home: Path,
        targets: dict[str, Target],
        *,
        echo: Callable[[str], None] = print,
        after: Callable[[], None] | None = None,
        interval: float = 0.3,
    ) -> None:
        self.folder = home / BUS_DIR
        self.targets = targets
        self.echo = echo
        self.after = after
        self.interval = interval
        self._lock = threading.Lock()

    def drain(self) -> int:
        """Deliver every waiting entry; how many were delivered."""
        delivered = 0
        with self._lock:
            if not self.folder.is_dir():
                return 0
            for path in sorted(self.folder.glob("*.json")):
                try:
                    event = json.loads(path.read_text())
                except (OSError, ValueError):
                    self._park(path)
                    continue
                target = self.targets.get(str(event.get("detail-type")))
                if target is None or event.get("source") == "rmm-alerts":
                    path.unlink(missing_ok=True)  # no rule matches: EventBridge drops it too
                    continue
                try:
                    result = target(event)
                except Exception as exc:
                    self.echo(f"bus     {event.get('detail-type')} failed: {type(exc).__name__}: {exc}")
                    self._park(path)
                    continue
                path.unlink(missing_ok=True)
                delivered += 1
                self.echo(f"bus     {event.get('detail-type')} -> {_describe(result)}")
        if delivered and self.after is not None:
            self.after()
        return delivered

    def _park(self, path: Path) -> None:
        failed = self.folder / "failed"
        failed.mkdir(exist_ok=True, mode=0o700)
        os.replace(path, failed / path.name)

    def start(self, stopping: threading.Event) -> LocalEventBus:
        def loop() -> None:
            while not stopping.wait(self.interval):
                self.drain()

        threading.Thread(target=loop, name="local-event-bus", daemon=True).start()
        return self


def _describe(result: Any) -> str:
    if not isinstance(result, dict):
        return "done"
    if result.get("status") == "ignored":
        return f"ignored ({result.get('reason')})"
    parts = [f"ticket {result.get('ticketId')}", f"resolved={result.get('resolved', 0)}"]
    if result.get("failed"):
        parts.append(f"failed={result['failed']}")
    return " ".join(parts)
