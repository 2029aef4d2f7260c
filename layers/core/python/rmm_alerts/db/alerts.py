"""SQL for ``rmm_alerts`` and the configuration the pipeline reads (mappings, rules, windows).

Every statement is scoped by tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from rmm_alerts.db import Executor, Rows

# The alert path's big reads are PL/pgSQL functions (migration 0008, where their SQL and comments
# are): their plans are cached per server connection, where a plain statement is planned on every
# execution (no prepared statements behind a transaction pooler) at several times its run time.

# What a trigger decision needs that does not change under the group lock: client and asset, the
# integration's rules and the windows, and whether the alert is already stored (a replay, answered
# without the lock or a transaction). Read before the lock, so rules (regexes) are evaluated without
# holding it. Rules and windows come as JSON text, and only when the tenant's configuration version
# is not %(known)s, the version of the copy the caller holds parsed (migration 0010; NULL: always).
# %(t)s may be NULL: a webhook reads this before it has authenticated the delivery, in the round
# trip of its integration lookup, scoped to the path's integration and that integration's tenant
# (used only once the delivery is authenticated). No row: no such integration.
_TRIGGER_CONFIG = "SELECT * FROM rmm_trigger_context(%(t)s, %(i)s, %(x)s, %(o)s, %(dev)s, %(known)s::bigint)"

# What the config read gives when the integration is gone (nothing mapped, no rules, no windows).
EMPTY_CONFIG: dict[str, Any] = {
    "tenant": None,
    "mapping_client_id": None,
    "mapping_contact_id": None,
    "mapping_client_primary_contact": None,
    "asset_id": None,
    "asset_client_id": None,
    "asset_client_primary_contact": None,
    "existing_alert_id": None,
    "config_version": None,
    "rules": "[]",
    "windows": "[]",
}

# The dedup group's state, read under its lock: a replay, the open ticket to join, a reset that
# arrived before this trigger, an open alert of the group the poller ingested, a released alert's
# status.
_GROUP_STATE = (
    "SELECT * FROM rmm_group_state(%(t)s, %(i)s, %(x)s, %(dev)s, %(d)s, %(p)s, %(at)s, %(now)s, %(rel)s::uuid)"
)

# The group lock, the group state and (only when wanted and no open group) the ticket defaults, in
# one statement (migration 0010).
_TRIGGER_STATE = (
    "SELECT * FROM rmm_trigger_state(%(lock)s, %(t)s, %(i)s, %(x)s, %(dev)s, %(d)s, %(p)s, %(at)s, %(now)s,"
    " %(rel)s::uuid, %(want)s, %(board)s::uuid, %(assignee)s::uuid, %(contact)s::uuid, %(client)s::uuid,"
    " %(poll)s)"
)
# The ticket defaults' columns in _TRIGGER_STATE's row (PsaRepository.query_ticket_defaults' row).
TICKET_DEFAULT_FIELDS = (
    "board_id",
    "board_name",
    "default_status_id",
    "priorities",
    "assignee_ok",
    "contact_ok",
    "client_ok",
)

# Alerts a reset/ack applies to (locked), with the rule's actions and the linked ticket's state.
_LIFECYCLE_TARGETS = "SELECT * FROM rmm_lifecycle_targets(%(t)s, %(i)s, %(dev)s, %(p)s, %(d)s, %(statuses)s)"

# A reset that found nothing: remember it (bounded by expires_at; expired ones of the integration
# are dropped here), and say whether its alert was ever seen.
_REMEMBER_RESET = """
WITH expired AS (
    DELETE FROM rmm_early_resets
     WHERE tenant = %(t)s AND integration_id = %(i)s AND expires_at <= %(now)s
), kept AS (
    INSERT INTO rmm_early_resets (tenant, integration_id, external_alert_id, external_device_id, pairing_key,
                                  dedup_key, occurred_at, received_at, expires_at, payload)
    VALUES (%(t)s, %(i)s, %(x)s, %(dev)s, %(p)s, %(d)s, %(at)s, %(now)s, %(expires)s, %(payload)s)
    ON CONFLICT (tenant, integration_id, external_alert_id) DO NOTHING
)
SELECT EXISTS (SELECT 1 FROM rmm_alerts
                WHERE tenant = %(t)s AND integration_id = %(i)s
                  AND external_device_id IS NOT DISTINCT FROM %(dev)s
                  AND ((%(p)s::text IS NOT NULL AND pairing_key = %(p)s) OR dedup_key = %(d)s)) AS seen
"""

# One jsonb object keyed by column name (migration 0011): one parameter to bind, not 28.
_INSERT_ALERT = "SELECT rmm_insert_alert(%s)"

# A suppressed alert re-decided at window end: the decision columns are replaced, the stored raw
# payload and trigger time stay, the suppressed decision is kept in the trace.
_REPLACE_SUPPRESSED = """
UPDATE rmm_alerts
   SET status = %(status)s, matched_rule_id = %(matched_rule_id)s,
       suppressed_by_window_id = %(suppressed_by_window_id)s, asset_id = %(asset_id)s, client_id = %(client_id)s,
       ticket_id = %(ticket_id)s, auto_ticket_created = %(auto_ticket_created)s,
       metadata = metadata || jsonb_build_object('releasedAt', %(metadata)s::jsonb -> 'receivedAt'),
       decision_trace = %(decision_trace)s::jsonb || jsonb_build_object('suppressedTrace', decision_trace),
       rule_trace = %(rule_trace)s,
       updated_at = now()
 WHERE tenant = %(tenant)s AND alert_id = %(alert_id)s AND status = 'suppressed'
"""


class AlertRepository:
    def __init__(self, conn: Executor) -> None:
        self.conn = conn

    def lock_group(self, lock_key: int) -> None:
        """Serialize every writer of one (tenant, integration, dedup key) until commit."""
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))

    def query_trigger_config(
        self,
        tenant: UUID | None,
        integration_id: UUID,
        *,
        external_alert_id: str | None = None,
        external_device_id: str | None,
        external_organization_id: str | None,
        known_version: int | None = None,
    ) -> Rows:
        """Send the config read (see _TRIGGER_CONFIG; ``tenant`` None: the integration's own);
        read it with :func:`config_row` (inside a batch, after the batch)."""
        return self.conn.execute(
            _TRIGGER_CONFIG,
            {
                "t": tenant,
                "i": integration_id,
                "x": external_alert_id,
                "o": external_organization_id,
                "dev": external_device_id,
                "known": known_version,
            },
        )

    def trigger_config(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        external_device_id: str | None,
        external_organization_id: str | None,
        external_alert_id: str | None = None,
        known_version: int | None = None,
    ) -> dict[str, Any]:
        """Client, asset, rules and windows for a trigger, in one round trip (no lock needed);
        rules and windows None when ``known_version`` is the current configuration version."""
        return config_row(
            self.query_trigger_config(
                tenant,
                integration_id,
                external_alert_id=external_alert_id,
                external_device_id=external_device_id,
                external_organization_id=external_organization_id,
                known_version=known_version,
            )
        )

    def query_trigger_state(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        lock_key: int,
        external_alert_id: str,
        external_device_id: str | None,
        dedup_key: str,
        pairing_key: str | None,
        occurred_at: datetime,
        now: datetime,
        released_alert_id: UUID | None = None,
        defaults_for: tuple[UUID | None, UUID | None, UUID | None, UUID | None] | None = None,
        from_poll: bool = False,
    ) -> Rows:
        """Take the group lock, then read the group state and, with ``defaults_for`` (board,
        assignee, contact, client) and no open ticket to join, the ticket defaults
        (``TICKET_DEFAULT_FIELDS``, NULL otherwise): one function call (migration 0010) whose
        reads run after the lock is held, so they see what its previous holder committed; the
        defaults are read only when they are wanted and no group is open (migration 0012). For a
        trigger ``from_poll``, ``poll_twin_id`` is the group's open alert of any source (0014)."""
        board, assignee, contact, client = defaults_for or (None, None, None, None)
        group = _group_params(
            tenant, integration_id, external_alert_id, external_device_id, dedup_key, pairing_key, occurred_at, now
        )
        return self.conn.execute(
            _TRIGGER_STATE,
            {
                **group,
                "lock": lock_key,
                "rel": released_alert_id,
                "want": defaults_for is not None,
                "board": board,
                "assignee": assignee,
                "contact": contact,
                "client": client,
                "poll": from_poll,
            },
        )

    def query_group_state(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        external_alert_id: str,
        external_device_id: str | None,
        dedup_key: str,
        pairing_key: str | None,
        occurred_at: datetime,
        now: datetime,
        released_alert_id: UUID | None = None,
    ) -> Rows:
        """Send the group-state read. After :meth:`lock_group` in one batch, it is still its own
        statement: its snapshot is taken once the lock is held, so it sees what the previous holder
        committed (READ COMMITTED)."""
        group = _group_params(
            tenant, integration_id, external_alert_id, external_device_id, dedup_key, pairing_key, occurred_at, now
        )
        return self.conn.execute(_GROUP_STATE, {**group, "rel": released_alert_id})

    def consume_early_reset(self, tenant: UUID, reset_id: UUID) -> None:
        self.conn.execute("DELETE FROM rmm_early_resets WHERE tenant = %s AND reset_id = %s", (tenant, reset_id))

    def insert(self, values: dict[str, Any]) -> None:
        params = dict(values)
        params.setdefault("resolved_at", None)
        if params.pop("replace_suppressed", False):
            params["metadata"] = Jsonb(params["metadata"])
            params["decision_trace"] = Jsonb(params["decision_trace"])
            params["rule_trace"] = Jsonb(params["rule_trace"])
            self.conn.execute(_REPLACE_SUPPRESSED, params)
        else:
            self.conn.execute(_INSERT_ALERT, (Jsonb(params),))

    def adopt_webhook(self, tenant: UUID, alert_id: UUID, *, pairing_key: str | None, activity_id: str) -> None:
        """A polled alert's late webhook: keep its pairing key (seriesUid) and activity id."""
        self.conn.execute(
            """UPDATE rmm_alerts
                  SET pairing_key = coalesce(pairing_key, %s), updated_at = now(),
                      metadata = metadata || jsonb_build_object('webhookActivityId', %s::text)
                WHERE tenant = %s AND alert_id = %s""",
            (pairing_key, activity_id, tenant, alert_id),
        )

    def count_occurrence(
        self, tenant: UUID, *, primary_alert_id: UUID, ticket_id: UUID, at: datetime, now: datetime, note: str
    ) -> None:
        """Count one more occurrence on the group's primary alert, touch its ticket and add the
        note, in one statement (migration 0010); the caller numbered it from the group state."""
        self.conn.execute(
            "SELECT rmm_count_occurrence(%(t)s, %(primary)s, %(ticket)s, %(at)s, %(now)s, %(note)s)",
            {"t": tenant, "primary": primary_alert_id, "ticket": ticket_id, "at": at, "now": now, "note": note},
        )

    def lifecycle_targets(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        external_device_id: str | None,
        pairing_key: str | None,
        dedup_key: str,
        statuses: list[str],
    ) -> Rows:
        """Send the targets read (``fetchall()`` it after its batch)."""
        return self.conn.execute(
            _LIFECYCLE_TARGETS,
            {
                "t": tenant,
                "i": integration_id,
                "dev": external_device_id,
                "p": pairing_key,
                "d": dedup_key,
                "statuses": statuses,
            },
        )

    def remember_reset(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        external_alert_id: str,
        external_device_id: str | None,
        pairing_key: str | None,
        dedup_key: str,
        occurred_at: datetime,
        now: datetime,
        expires_at: datetime,
        payload: dict[str, Any],
    ) -> Rows:
        """Keep a reset that matched no alert until ``expires_at``. The cursor's one row says
        (``seen``) whether its alert was ever seen; read it after its batch."""
        return self.conn.execute(
            _REMEMBER_RESET,
            {
                "t": tenant,
                "i": integration_id,
                "x": external_alert_id,
                "dev": external_device_id,
                "p": pairing_key,
                "d": dedup_key,
                "at": occurred_at,
                "now": now,
                "expires": expires_at,
                "payload": Jsonb(payload),
            },
        )

    def resolve(
        self,
        tenant: UUID,
        alert_id: UUID,
        *,
        status: str,
        resolved_at: datetime,
        metadata_patch: dict[str, Any],
        trace_patch: dict[str, Any],
    ) -> None:
        self.conn.execute(
            "SELECT rmm_resolve_alert(%s, %s, %s, %s, %s, %s)",
            (tenant, alert_id, status, resolved_at, Jsonb(metadata_patch), Jsonb(trace_patch)),
        )

    def acknowledge(
        self, tenant: UUID, alert_id: UUID, *, at: datetime, by: str | None, metadata_patch: dict[str, Any]
    ) -> None:
        self.conn.execute(
            """UPDATE rmm_alerts
                  SET status = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s, updated_at = now(),
                      metadata = metadata || %s
                WHERE tenant = %s AND alert_id = %s""",
            (at, by, Jsonb(metadata_patch), tenant, alert_id),
        )


def _group_params(
    tenant: UUID,
    integration_id: UUID,
    external_alert_id: str,
    external_device_id: str | None,
    dedup_key: str,
    pairing_key: str | None,
    occurred_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The group-state read's parameters (rmm_group_state, and rmm_trigger_state around it)."""
    return {
        "t": tenant,
        "i": integration_id,
        "x": external_alert_id,
        "dev": external_device_id,
        "d": dedup_key,
        "p": pairing_key,
        "at": occurred_at,
        "now": now,
    }


def config_row(cur: Rows) -> dict[str, Any]:
    """The config read's row (``EMPTY_CONFIG`` when the integration is gone)."""
    row = cur.fetchone()
    return row if row is not None else dict(EMPTY_CONFIG)
