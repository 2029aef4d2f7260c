"""A stateful loopback fake of NinjaOne's API v2 (docs/polling.md), which also sends webhooks.

State: API clients (id -> secret), issued tokens, devices, organizations, active alerts (by uid),
the registered webhook, and what it received (resets, registrations). ``fire`` raises an alert
(and, when a webhook is registered and ``send_webhooks`` is on, posts the TRIGGERED activity);
``clear`` removes it (and posts the RESET). ``bare_alerts`` makes REST alerts carry no
``device``/``severity``/``priority``, as some real responses do.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import uuid
from typing import Any

from rmm_alerts.simulator.server import Reply, Request, SimServer, post_webhook

_UID_NAMESPACE = uuid.UUID("6b1f3c8e-0000-4000-8000-00000000a1e7")


class NinjaOneSim(SimServer):
    name = "ninjaone"

    def __init__(
        self,
        *,
        client_id: str = "sim-client",
        client_secret: str = "sim-client-secret",  # noqa: S107 - the fake's own credential
        token_lifetime: int = 3600,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.credentials = {client_id: client_secret}
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.organizations: dict[int, dict[str, Any]] = {2: {"id": 2, "name": "Acme Corp"}}
        self.devices: dict[int, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.resets: list[str] = []
        self.webhook: dict[str, Any] | None = None
        self.webhook_deletes = 0
        self.bare_alerts = False
        self._activity_ids = itertools.count(900_000)
        self._alert_lock = threading.Lock()
        self.add_device(101, organization_id=2, name="ACME-WS-01")

    # -- state helpers ---------------------------------------------------------------------------

    def add_device(self, device_id: int, *, organization_id: int = 2, name: str | None = None) -> dict[str, Any]:
        device = {
            "id": device_id,
            "organizationId": organization_id,
            "locationId": 1,
            "nodeClass": "WINDOWS_WORKSTATION",
            "displayName": name or f"DEVICE-{device_id}",
            "systemName": name or f"DEVICE-{device_id}",
            "dnsName": f"device-{device_id}.local",
            "offline": False,
        }
        self.devices[device_id] = device
        return device

    def expire_tokens(self) -> None:
        """Every issued token stops working now (the next API call answers 401)."""
        with self._lock:
            self.tokens.clear()

    def _device_expanded(self, device_id: int) -> dict[str, Any] | None:
        device = self.devices.get(device_id)
        if device is None:
            return None
        org = self.organizations.get(int(device["organizationId"]), {"id": device["organizationId"], "name": None})
        return {**device, "references": {"organization": {"id": org["id"], "name": org["name"]}}}

    def fire(
        self,
        device_id: int = 101,
        condition: str = "cpu-high",
        *,
        severity: str = "MAJOR",
        priority: str = "HIGH",
        message: str | None = None,
        source_name: str | None = None,
        webhook: bool | None = None,
    ) -> dict[str, Any]:
        """Raise an alert for ``condition`` (a sourceConfigUid) on a device; one per device+condition."""
        if device_id not in self.devices:
            self.add_device(device_id)
        with self._alert_lock:
            for alert in self.alerts.values():
                if alert["deviceId"] == device_id and alert["sourceConfigUid"] == condition:
                    return alert
            now = time.time()
            uid = str(uuid.uuid5(_UID_NAMESPACE, f"{device_id}:{condition}:{now}:{secrets.token_hex(4)}"))
            alert = {
                "uid": uid,
                "deviceId": device_id,
                "message": message or f"{source_name or condition} on device {device_id}",
                "severity": severity,
                "priority": priority,
                "createTime": now,
                "updateTime": now,
                "sourceType": "CONDITION",
                "sourceConfigUid": condition,
                "sourceName": source_name or condition,
                "subject": source_name or condition,
                "data": {"message": {"code": f"sim_{condition}", "params": {}}},
                "_seriesUid": str(uuid.uuid4()),
            }
            self.alerts[uid] = alert
        if webhook if webhook is not None else self.send_webhooks:
            self._deliver(alert, "TRIGGERED")
        return alert

    def fire_many(self, count: int, *, start_device: int = 1000, conditions_per_device: int = 10) -> None:
        """Bulk alerts without webhooks (benchmarks)."""
        now = time.time()
        with self._alert_lock:
            for n in range(count):
                device_id = start_device + n // conditions_per_device
                if device_id not in self.devices:
                    self.add_device(device_id)
                condition = f"cond-{n % conditions_per_device}"
                uid = f"{device_id:08d}-{n % conditions_per_device:04d}-sim"
                self.alerts[uid] = {
                    "uid": uid,
                    "deviceId": device_id,
                    "message": f"{condition} on {device_id}",
                    "severity": "MODERATE",
                    "priority": "MEDIUM",
                    "createTime": now,
                    "updateTime": now,
                    "sourceType": "CONDITION",
                    "sourceConfigUid": condition,
                    "sourceName": condition,
                    "subject": condition,
                    "_seriesUid": f"series-{uid}",
                }

    def find(self, device_id: int, condition: str) -> dict[str, Any] | None:
        with self._alert_lock:
            for alert in self.alerts.values():
                if alert["deviceId"] == device_id and alert["sourceConfigUid"] == condition:
                    return alert
        return None

    def clear(self, device_id: int = 101, condition: str = "cpu-high", *, webhook: bool | None = None) -> bool:
        """The condition recovers: the alert leaves the active list (and a RESET is posted)."""
        alert = self.find(device_id, condition)
        if alert is None:
            return False
        with self._alert_lock:
            self.alerts.pop(alert["uid"], None)
        if webhook if webhook is not None else self.send_webhooks:
            self._deliver(alert, "RESET")
        return True

    def activity(self, alert: dict[str, Any], status_code: str) -> dict[str, Any]:
        """The webhook activity NinjaOne posts for an alert's lifecycle (documented shape)."""
        return {
            "id": next(self._activity_ids),
            "activityTime": time.time(),
            "deviceId": alert["deviceId"],
            "severity": alert.get("severity"),
            "priority": alert.get("priority"),
            "seriesUid": alert["_seriesUid"],
            "activityType": "CONDITION",
            "statusCode": status_code,
            "status": status_code.title(),
            "sourceConfigUid": alert["sourceConfigUid"],
            "sourceName": alert["sourceName"],
            "subject": alert["subject"],
            "message": alert["message"],
            "type": "Condition",
            "data": alert.get("data", {}),
            "device": self._device_expanded(int(alert["deviceId"])),
        }

    def _deliver(self, alert: dict[str, Any], status_code: str) -> None:
        hook = self.webhook
        if hook is None:
            return
        body = self.activity(alert, status_code)
        headers = {h["name"]: h["value"] for h in hook.get("headers", []) if isinstance(h, dict)}
        status, answer = post_webhook(hook["url"], body, headers, timeout=10.0)
        self.webhook_deliveries.append(
            {"statusCode": status_code, "httpStatus": status, "activityId": body["id"], **answer}
        )

    # -- the API ---------------------------------------------------------------------------------

    def _authorized(self, req: Request) -> bool:
        value = req.headers.get("Authorization") or req.headers.get("authorization") or ""
        token = value.removeprefix("Bearer ").strip()
        with self._lock:
            expires = self.tokens.get(token)
        return expires is not None and time.time() < expires

    def _public(self, alert: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in alert.items() if not k.startswith("_")}
        if self.bare_alerts:
            for key in ("severity", "priority", "device"):
                out.pop(key, None)
        else:
            out["device"] = self._device_expanded(int(alert["deviceId"]))
        return out

    def route(self, req: Request) -> Reply:
        if req.method == "POST" and req.path == "/ws/oauth/token":
            from urllib.parse import parse_qs

            form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
            if form.get("grant_type") != "client_credentials":
                return Reply(400, {"error": "unsupported_grant_type"})
            if self.credentials.get(form.get("client_id", "")) != form.get("client_secret"):
                return Reply(401, {"error": "invalid_client"})
            token = secrets.token_urlsafe(24)
            with self._lock:
                self.tokens[token] = time.time() + self.token_lifetime
                self.tokens_issued += 1
            return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime})
        if not req.path.startswith("/api/v2/"):
            return Reply(404, {"error": "not found"})
        if not self._authorized(req):
            return Reply(401, {"error": "unauthorized"})
        path = req.path.removeprefix("/api/v2").rstrip("/")
        segments = path.strip("/").split("/")
        if req.method == "GET" and path == "/alerts":
            with self._alert_lock:
                ordered = sorted(self.alerts.values(), key=lambda a: a["uid"])
            after = req.query["after"][0] if req.query.get("after") else None
            if after is not None:
                ordered = [a for a in ordered if a["uid"] > after]
            size = req.query.get("pageSize")
            if size:
                ordered = ordered[: int(size[0])]
            return Reply(200, [self._public(a) for a in ordered])
        if req.method == "GET" and len(segments) == 2 and segments[0] == "device":
            device = self.devices.get(int(segments[1]))
            return Reply(200, device) if device else Reply(404, {"error": "device not found"})
        if req.method == "GET" and len(segments) == 3 and segments[0] == "device" and segments[2] == "alerts":
            did = int(segments[1])
            with self._alert_lock:
                mine = [self._public(a) for a in self.alerts.values() if a["deviceId"] == did]
            return Reply(200, mine)
        if req.method == "POST" and len(segments) == 3 and segments[0] == "alert" and segments[2] == "reset":
            with self._alert_lock:
                found = self.alerts.pop(segments[1], None)
            if found is None:
                return Reply(404, {"error": "alert not found"})
            self.resets.append(segments[1])
            return Reply(204)
        if path == "/webhook" and req.method == "PUT":
            body = req.json()
            if not isinstance(body, dict) or not isinstance(body.get("url"), str):
                return Reply(400, {"error": "url required"})
            self.webhook = body
            return Reply(204)
        if path == "/webhook" and req.method == "DELETE":
            self.webhook = None
            self.webhook_deletes += 1
            return Reply(204)
        return Reply(404, {"error": "not found"})

    def control(self, action: str, body: Any) -> Any:
        args = body if isinstance(body, dict) else {}
        if action == "fire":
            alert = self.fire(
                int(args.get("device", 101)),
                str(args.get("condition", "cpu-high")),
                severity=str(args.get("severity", "MAJOR")),
                message=args.get("message"),
            )
            return {"uid": alert["uid"], "webhooks": self.webhook_deliveries[-1:]}
        if action == "clear":
            return {
                "cleared": self.clear(
                    int(args.get("device", 101)), str(args.get("condition", "cpu-high")), webhook=args.get("webhook")
                )
            }
        if action == "state":
            return {
                "alerts": [self._public(a) for a in self.alerts.values()],
                "resets": self.resets,
                "webhook": {"url": self.webhook["url"]} if self.webhook else None,
                "sendWebhooks": self.send_webhooks,
            }
        return super().control(action, body)
