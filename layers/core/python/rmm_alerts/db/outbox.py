"""SQL for ``rmm_outbox``: side effects recorded in the same transaction as the change, and the
dispatcher's claim/mark/purge queries.

The dispatcher is the one reader that is not scoped to a tenant: it drains every tenant's entries
(as the webhook's integration lookup finds the tenant). Everything it writes back is keyed by
``(tenant, outbox_id)``, and what it reads for a notification (user, preferences, ticket) is
scoped to the entry's tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from rmm_alerts.db import Executor


def order_key_for(kind: str, payload: dict[str, Any]) -> str | None:
    """Events of one alert (or, without an alert, one ticket) are delivered in commit order;
    notifications are independent of each other."""
    if kind != "event":
        return None
    key = payload.get("alertId") or payload.get("ticketId")
    return str(key) if key else None


@dataclass(frozen=True)
class OutboxEntry:
    tenant: UUID
    outbox_id: UUID
    seq: int
    kind: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Failure:
    tenant: UUID
    outbox_id: UUID
    error: str
    retry_at: datetime | None  # None: park it


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_pending_at: datetime | None
    parked: int


# Due entries in commit order, at most one per ordering key (the head of each key: an entry waits
# while an earlier one of its key is undelivered and not parked). Rows another dispatcher holds are
# skipped, and so is every later entry of their key, since the held row still counts as undelivered.
_CLAIM = """
SELECT o.tenant, o.outbox_id, o.seq, o.kind, o.event_type, o.payload, o.attempts, o.created_at
  FROM rmm_outbox o
 WHERE o.dispatched_at IS NULL AND o.parked_at IS NULL AND o.available_at <= %(now)s
   AND (o.order_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM rmm_outbox e
         WHERE e.tenant = o.tenant AND e.order_key = o.order_key AND e.seq < o.seq
           AND e.dispatched_at IS NULL AND e.parked_at IS NULL))
 ORDER BY o.seq
 LIMIT %(limit)s
   FOR UPDATE OF o SKIP LOCKED
"""


class OutboxRepository:
    def __init__(self, conn: Executor) -> None:
        self.conn = conn
        # How many entries this unit of work wrote: a committing function kicks the dispatcher
        # only when it is more than zero.
        self.written = 0

    def add(self, tenant: UUID, *, kind: str, event_type: str, payload: dict[str, Any]) -> None:
        self.add_many(tenant, [(kind, event_type, payload)])

    def add_many(self, tenant: UUID, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
        """``(kind, event_type, payload)`` entries of one tenant, in order, as one statement (a new
        ticket's events and notifications: one insert, not one each)."""
        if not entries:
            return
        rows = [
            {"kind": kind, "event_type": event_type, "payload": payload, "order_key": order_key_for(kind, payload)}
            for kind, event_type, payload in entries
        ]
        # One jsonb array (migration 0011): one parameter to bind, a plan cached in the function.
        self.conn.execute("SELECT rmm_add_outbox(%s, %s)", (tenant, Jsonb(rows)))
        self.written += len(entries)

    # -- dispatcher ---------------------------------------------------------------------------
    def claim(self, *, limit: int, now: datetime) -> list[OutboxEntry]:
        """Lock up to ``limit`` due entries until the transaction ends."""
        rows = self.conn.execute(_CLAIM, {"now": now, "limit": limit}).fetchall()
        return [OutboxEntry(**row) for row in rows]

    def mark_done(self, done: list[tuple[UUID, UUID, str]], now: datetime) -> None:
        """``(tenant, outbox_id, outcome)``: delivered (or deliberately skipped)."""
        if not done:
            return
        self.conn.execute(
            """UPDATE rmm_outbox o
                  SET dispatched_at = %s, attempts = o.attempts + 1, outcome = d.outcome, last_error = NULL
                 FROM unnest(%s::uuid[], %s::uuid[], %s::text[]) AS d(tenant, outbox_id, outcome)
                WHERE o.tenant = d.tenant AND o.outbox_id = d.outbox_id""",
            (now, [d[0] for d in done], [d[1] for d in done], [d[2] for d in done]),
        )

    def mark_failed(self, failures: list[Failure], now: datetime) -> None:
        """Count the attempt and keep the error; retry at ``retry_at``, or park."""
        if not failures:
            return
        self.conn.execute(
            """UPDATE rmm_outbox o
                  SET attempts = o.attempts + 1, last_error = left(f.error, 2000),
                      available_at = coalesce(f.retry_at, o.available_at),
                      parked_at = CASE WHEN f.retry_at IS NULL THEN %s END
                 FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[])
                      AS f(tenant, outbox_id, error, retry_at)
                WHERE o.tenant = f.tenant AND o.outbox_id = f.outbox_id""",
            (
                now,
                [f.tenant for f in failures],
                [f.outbox_id for f in failures],
                [f.error for f in failures],
                [f.retry_at for f in failures],
            ),
        )

    def purge(self, *, delivered_before: datetime, parked_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` delivered rows older than the retention (and parked ones older
        than theirs); returns how many."""
        cur = self.conn.execute(
            """DELETE FROM rmm_outbox o USING (
                   SELECT tenant, outbox_id FROM rmm_outbox
                    WHERE dispatched_at < %s
                   UNION ALL
                   SELECT tenant, outbox_id FROM rmm_outbox
                    WHERE parked_at < %s
                   LIMIT %s) old
                WHERE o.tenant = old.tenant AND o.outbox_id = old.outbox_id""",
            (delivered_before, parked_before, limit),
        )
        return cur.rowcount

    def backlog(self, now: datetime) -> Backlog:
        row = self.conn.execute(
            """SELECT count(*) FILTER (WHERE dispatched_at IS NULL AND parked_at IS NULL) AS pending,
                      min(created_at) FILTER (WHERE dispatched_at IS NULL AND parked_at IS NULL) AS oldest,
                      count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
                 FROM rmm_outbox
                WHERE dispatched_at IS NULL""",
        ).fetchone()
        assert row is not None
        return Backlog(int(row["pending"]), row["oldest"], int(row["parked"]))

    # -- what a notification needs at delivery time, scoped to its tenant ----------------------
    def recipient(self, tenant: UUID, user_id: UUID, ticket_id: UUID | None) -> dict[str, Any]:
        """The user (``found`` false when missing), their RMM alert preferences (defaults: on),
        and the ticket's number."""
        row = self.conn.execute(
            """SELECT u.user_id IS NOT NULL AS found, u.email, coalesce(u.is_inactive, false) AS is_inactive,
                      coalesce(p.rmm_in_app, true) AS in_app, coalesce(p.rmm_email, true) AS email_on,
                      t.ticket_number
                 FROM (SELECT 1) one
            LEFT JOIN users u ON u.tenant = %(t)s AND u.user_id = %(u)s
            LEFT JOIN rmm_notification_preferences p ON p.tenant = %(t)s AND p.user_id = %(u)s
            LEFT JOIN tickets t ON t.tenant = %(t)s AND t.ticket_id = %(ticket)s""",
            {"t": tenant, "u": user_id, "ticket": ticket_id},
        ).fetchone()
        assert row is not None
        return row

    def add_internal_notification(
        self, tenant: UUID, user_id: UUID, *, title: str, message: str | None, type_: str, category: str, link: str
    ) -> None:
        self.conn.execute(
            """INSERT INTO internal_notifications (tenant, user_id, title, message, type, category, link)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (tenant, user_id, title, message, type_, category, link),
        )
