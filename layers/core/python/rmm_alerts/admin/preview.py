"""Rule preview: how a rule's conditions would have fared against the integration's most recent
stored alerts, evaluated with the pipeline's own matcher (:func:`rmm_alerts.rules.match_conditions`).

Bounded cost: one indexed query reading at most :data:`PREVIEW_LIMIT` rows (only the columns the
matcher reads; never the raw payloads), RE2 matching (linear time), and a handful of examples."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from rmm_alerts import rules
from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.alerts import stored_event
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps, integration_row

PREVIEW_LIMIT = 200
MAX_EXAMPLES = 5
_MESSAGE_EXAMPLE_CHARS = 300


class PreviewRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def recent(self, tenant: UUID, integration_id: UUID, limit: int) -> list[dict[str, Any]]:
        return self.conn.execute(
            """SELECT alert_id, tenant, integration_id, provider, external_alert_id, external_device_id, device_name,
                      condition_id, dedup_key, activity_type, alert_class, source_type, severity, message,
                      external_organization_id, external_organization_name, status, triggered_at
                 FROM rmm_alerts
                WHERE tenant = %s AND integration_id = %s
                ORDER BY created_at DESC, alert_id DESC
                LIMIT %s""",
            (tenant, integration_id, limit),
        ).fetchall()


def preview(deps: Deps, p: Principal, integration_id: UUID, body: s.RulePreviewIn) -> s.RulePreview:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=False)
        rows = PreviewRepository(uow.conn).recent(p.tenant, integration_id, PREVIEW_LIMIT)
    matched = 0
    examples: list[s.PreviewExample] = []
    for row in rows:
        ok, _ = rules.match_conditions(body.conditions, stored_event(row))
        if not ok:
            continue
        matched += 1
        if len(examples) < MAX_EXAMPLES:
            message = row["message"]
            examples.append(
                s.PreviewExample(
                    alert_id=row["alert_id"],
                    triggered_at=row["triggered_at"],
                    severity=row["severity"],
                    status=row["status"],
                    device_name=row["device_name"],
                    external_organization_name=row["external_organization_name"],
                    message=message[:_MESSAGE_EXAMPLE_CHARS] if message else None,
                )
            )
    return s.RulePreview(evaluated=len(rows), matched=matched, limit=PREVIEW_LIMIT, examples=examples)
