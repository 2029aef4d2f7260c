"""A stateful loopback fake of TacticalRMM's API (docs/polling.md, amidaware/tacticalrmm
``alerts/views.py``), which also sends the alert-template webhooks our template describes.

``PATCH /alerts/`` behaves like Tactical's: with only the filter keys it filters; any other key
returns *every* alert, resolved included (so a client that sends one is caught by tests).
API alerts carry ``client``/``site`` names, ``hostname`` and ``agent_id`` like Tactical's
``AlertSerializer``; ``agent``, ``assigned_check`` and ``assigned_task`` are primary keys or null.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from rmm_alerts import tactical_template
from rmm_alerts.simulator.server import Reply, Request, SimServer, post_webhook

_FILTER_KEYS = {"timeFilter", "clientFilter", "severityFilter", "resolvedFilter", "snoozedFilter"}


class TacticalSim(SimServer):
    name = "tacticalrmm"

    def __init__(self, *, api_key: str = "sim-api-key", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self.clients: dict[int, dict[str, Any]] = {2: {"id": 2, "name": "Acme Corp"}}
        self.agents: dict[str, dict[str, Any]] = {}
        self.alerts: dict[int, dict[str, Any]] = {}
        self.resolves: list[int] = []
        self.webhook_url: str | None = None
        self.webhook_headers: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._agent_pks = itertools.count(1)
        self._alert_lock = threading.Lock()
        self.add_agent("agent-101", hostname="ACME-WS-01", client_id=2)

    def add_agent(self, agent_id: str, *, hostname: str | None = None, client_id: int = 2) -> dict[str, Any]:
        agent = {
            "pk": next(self._agent_pks),
            "agent_id": agent_id,
            "hostname": hostname or agent_id,
            "client_id": client_id,
            "site": "Main",
        }
        self.agents[agent_id] = agent
        return agent

    def configure_webhook(self, url: str, secret: str) -> None:
        self.webhook_url = url
        self.webhook_headers = {"Content-Type": "application/json", "X-Webhook-Secret": secret}

    def fire(
        self,
        agent_id: str = "agent-101",
        *,
        check_id: int | None = 7,
        task_id: int | None = None,
        alert_type: str | None = None,
        severity: str = "error",
        message: str | None = None,
        webhook: bool | None = None,
    ) -> dict[str, Any]:
        """One unresolved alert per (agent, check | task | availability), like Tactical."""
        agent = self.agents.get(agent_id) or self.add_agent(agent_id)
        kind = alert_type or ("check" if check_id else "task" if task_id else "availability")
        with self._alert_lock:
            for alert in self.alerts.values():
                if (
                    not alert["resolved"]
                    and alert["agent_id"] == agent_id
                    and alert["alert_type"] == kind
                    and alert["assigned_check"] == check_id
                    and alert["assigned_task"] == task_id
                ):
                    return alert
            alert_id = next(self._ids)
            client = self.clients.get(agent["client_id"])
            alert = {
                "id": alert_id,
                "agent": agent["pk"],
                "agent_id": agent_id,
                "hostname": agent["hostname"],
                "client": client["name"] if client else None,
                "site": agent["site"],
                "assigned_check": check_id if kind == "check" else None,
                "assigned_task": task_id if kind == "task" else None,
                "alert_type": kind,
                "message": message or f"{agent['hostname']} {kind} failed",
                "alert_time": datetime.now(UTC).isoformat(),
                "snoozed": False,
                "snooze_until": None,
                "resolved": False,
                "resolved_on": None,
                "severity": severity,
                "hidden": False,
                "email_sent": None,
                "sms_sent": None,
            }
            self.alerts[alert_id] = alert
        if webhook if webhook is not None else self.send_webhooks:
            self._deliver(alert, "trigger")
        return alert

    def fire_many(self, count: int, *, checks_per_agent: int = 10) -> None:
        """Bulk alerts without webhooks (benchmarks)."""
        for n in range(count):
            agent_id = f"bulk-agent-{n // checks_per_agent}"
            agent = self.agents.get(agent_id) or self.add_agent(agent_id)
            alert_id = next(self._ids)
            self.alerts[alert_id] = {
                "id": alert_id,
                "agent": agent["pk"],
                "agent_id": agent_id,
                "hostname": agent["hostname"],
                "client": self.clients[2]["name"],
                "site": agent["site"],
                "assigned_check": 1000 + n % checks_per_agent,
                "assigned_task": None,
                "alert_type": "check",
                "message": f"check failed on {agent_id}",
                "alert_time": datetime.now(UTC).isoformat(),
                "snoozed": False,
                "snooze_until": None,
                "resolved": False,
                "resolved_on": None,
                "severity": "warning",
                "hidden": False,
                "email_sent": None,
                "sms_sent": None,
            }

    def clear(self, alert_id: int, *, webhook: bool | None = None) -> bool:
        """The check passes again: Tactical resolves the alert (and runs the resolved action)."""
        with self._alert_lock:
            alert = self.alerts.get(alert_id)
            if alert is None or alert["resolved"]:
                return False
            alert["resolved"] = True
            alert["resolved_on"] = datetime.now(UTC).isoformat()
        if webhook if webhook is not None else self.send_webhooks:
            self._deliver(alert, "resolve")
        return True

    def snooze(self, alert_id: int, days: int = 1) -> None:
        """A technician silences the alert for ``days`` (Tactical's ``{"type": "snooze"}``)."""
        with self._alert_lock:
            alert = self.alerts[alert_id]
            alert["snoozed"] = True
            alert["snooze_until"] = (datetime.now(UTC) + timedelta(days=days)).isoformat()

    def unsnooze(self, alert_id: int) -> None:
        """The snooze ends (or is lifted): the alert is listed as an ordinary unresolved one again."""
        with self._alert_lock:
            alert = self.alerts[alert_id]
            alert["snoozed"] = False
            alert["snooze_until"] = None

    def variables(self, alert: dict[str, Any]) -> dict[str, object]:
        agent = self.agents.get(alert["agent_id"], {})
        client = self.clients.get(agent.get("client_id", -1), {})
        return {
            "alert.id": alert["id"],
            "alert.message": alert["message"],
            "alert.alert_type": alert["alert_type"],
            "alert.severity": alert["severity"],
            "alert.alert_time": alert["alert_time"],
            "alert.resolved_on": alert["resolved_on"],
            "alert.assigned_check.id": alert["assigned_check"],
            "alert.assigned_check.readable_desc": f"Check {alert['assigned_check']}"
            if alert["assigned_check"]
            else None,
            "alert.assigned_check.check_type": "diskspace" if alert["assigned_check"] else None,
            "alert.assigned_task.id": alert["assigned_task"],
            "alert.assigned_task.name": f"Task {alert['assigned_task']}" if alert["assigned_task"] else None,
            "agent.agent_id": alert["agent_id"],
            "agent.hostname": alert["hostname"],
            "client.id": client.get("id"),
            "client.name": client.get("name"),
            "site.id": 1,
            "site.name": alert["site"],
        }

    def _deliver(self, alert: dict[str, Any], event: str) -> None:
        if not self.webhook_url:
            return
        template = tactical_template.TRIGGER_BODY if event == "trigger" else tactical_template.RESOLVE_BODY
        body = tactical_template.delivered_for_test(tactical_template.render_for_test(template, self.variables(alert)))
        status, answer = post_webhook(self.webhook_url, body, self.webhook_headers, timeout=8.0)
        self.webhook_deliveries.append({"event": event, "httpStatus": status, "alertId": alert["id"], **answer})

    # -- the API ---------------------------------------------------------------------------------

    def route(self, req: Request) -> Reply:
        if req.headers.get("X-API-KEY", req.headers.get("x-api-key")) != self.api_key:
            return Reply(401, {"detail": "Invalid API key"})
        if req.method == "PATCH" and req.path == "/alerts/":
            body = req.json() or {}
            with self._alert_lock:
                alerts = [dict(a) for a in self.alerts.values()]
            if set(body) and set(body) <= _FILTER_KEYS:
                if "resolvedFilter" in body and not body["resolvedFilter"]:
                    alerts = [a for a in alerts if not a["resolved"]]
                if "snoozedFilter" in body and not body["snoozedFilter"]:
                    alerts = [a for a in alerts if not a["snoozed"]]
            return Reply(200, alerts)  # unknown keys: every alert, as Tactical does
        if req.method == "GET" and req.path == "/clients/":
            return Reply(200, [{"id": c["id"], "name": c["name"], "sites": []} for c in self.clients.values()])
        parts = req.path.strip("/").split("/")
        if req.method == "PUT" and len(parts) == 2 and parts[0] == "alerts":
            body = req.json() or {}
            with self._alert_lock:
                alert = self.alerts.get(int(parts[1]))
                if alert is None:
                    return Reply(404, {"detail": "Not found."})
                if body.get("type") == "resolve":
                    alert["resolved"] = True
                    alert["resolved_on"] = datetime.now(UTC).isoformat()
                    alert["snoozed"], alert["snooze_until"] = False, None
                    self.resolves.append(alert["id"])
            if body.get("type") == "snooze" and "snooze_days" in body:
                self.snooze(alert["id"], int(body["snooze_days"]))
            elif body.get("type") == "unsnooze":
                self.unsnooze(alert["id"])
            return Reply(200, "ok")
        return Reply(404, {"detail": "Not found."})

    def control(self, action: str, body: Any) -> Any:
        args = body if isinstance(body, dict) else {}
        if action == "fire":
            alert = self.fire(
                str(args.get("agent", "agent-101")),
                check_id=args.get("check", 7),
                severity=str(args.get("severity", "error")),
                message=args.get("message"),
            )
            return {"id": alert["id"], "webhooks": self.webhook_deliveries[-1:]}
        if action == "clear":
            alert_id = args.get("id")
            if alert_id is None:
                agent, check = str(args.get("agent", "agent-101")), args.get("check", 7)
                alert_id = next(
                    (
                        a["id"]
                        for a in self.alerts.values()
                        if not a["resolved"] and a["agent_id"] == agent and a["assigned_check"] == check
                    ),
                    None,
                )
            return {"cleared": alert_id is not None and self.clear(int(alert_id), webhook=args.get("webhook"))}
        if action == "state":
            return {
                "alerts": [a for a in self.alerts.values() if not a["resolved"]],
                "resolves": self.resolves,
                "sendWebhooks": self.send_webhooks,
            }
        return super().control(action, body)
