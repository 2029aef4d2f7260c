"""Alert rules per integration: CRUD in priority order, reorder, and validation of every id a rule
references against the tenant (docs/rules.md, docs/admin-api.md)."""

from __future__ import annotations

import builtins
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps, integration_row
from rmm_alerts.admin.errors import Problems, not_found
from rmm_alerts.contracts import (
    MAX_INTEGRATION_PROGRAM_SIZE,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_PROGRAM_SIZE,
    MAX_RULES_PER_INTEGRATION,
    pattern_program_size,
)

_COLUMNS = """rule_id, integration_id, name, description, is_active, priority_order, conditions, actions,
              created_at, updated_at"""

_REFERENCES = """
SELECT
    EXISTS (SELECT 1 FROM boards WHERE tenant = %(t)s AND board_id = %(board)s AND NOT is_inactive) AS board_ok,
    EXISTS (SELECT 1 FROM priorities WHERE tenant = %(t)s AND priority_id = %(priority)s) AS priority_ok,
    EXISTS (SELECT 1 FROM users WHERE tenant = %(t)s AND user_id = %(assignee)s AND NOT is_inactive) AS assignee_ok,
    (SELECT is_closed FROM statuses
      WHERE tenant = %(t)s AND status_id = %(status)s AND status_type = 'ticket') AS status_closed,
    -- A close status must be one of the board the rule's tickets go to (the rule's, else the
    -- tenant's default board, as the pipeline picks it), or a board-less status.
    (SELECT s.board_id IS NULL OR s.board_id IS NOT DISTINCT FROM coalesce(%(board)s::uuid,
               (SELECT b.board_id FROM boards b WHERE b.tenant = %(t)s AND b.is_default AND NOT b.is_inactive
                 ORDER BY b.board_name LIMIT 1))
       FROM statuses s WHERE s.tenant = %(t)s AND s.status_id = %(status)s) AS status_on_board,
    (SELECT coalesce(array_agg(user_id::text), '{}') FROM users
      WHERE tenant = %(t)s AND user_id = ANY(%(notify)s::uuid[]) AND NOT is_inactive) AS notify_ok,
    (SELECT coalesce(array_agg(external_organization_id), '{}') FROM rmm_organization_mappings
      WHERE tenant = %(t)s AND integration_id = %(i)s AND external_organization_id = ANY(%(orgs)s::text[])) AS orgs_ok
"""


_BUDGET = """
SELECT count(*) FILTER (WHERE rule_id IS DISTINCT FROM %(r)s) AS others,
       coalesce(array_agg(conditions ->> 'messagePattern')
                FILTER (WHERE rule_id IS DISTINCT FROM %(r)s AND conditions ? 'messagePattern'), '{}') AS patterns
  FROM rmm_alert_rules
 WHERE tenant = %(t)s AND integration_id = %(i)s
"""


class RuleRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def list(self, tenant: UUID, integration_id: UUID) -> builtins.list[dict[str, Any]]:
        return self.conn.execute(
            f"""SELECT {_COLUMNS} FROM rmm_alert_rules WHERE tenant = %s AND integration_id = %s
                 ORDER BY priority_order, created_at, rule_id""",
            (tenant, integration_id),
        ).fetchall()

    def get(self, tenant: UUID, integration_id: UUID, rule_id: UUID) -> dict[str, Any] | None:
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM rmm_alert_rules WHERE tenant = %s AND integration_id = %s AND rule_id = %s",
            (tenant, integration_id, rule_id),
        ).fetchone()

    def references(self, tenant: UUID, integration_id: UUID, body: s.RuleIn) -> dict[str, Any]:
        a, c = body.actions, body.conditions
        row = self.conn.execute(
            _REFERENCES,
            {
                "t": tenant,
                "i": integration_id,
                "board": a.board_id,
                "priority": a.priority_override,
                "assignee": a.assign_to_user_id,
                "status": a.auto_resolve_status_id,
                "notify": [str(u) for u in a.notify_user_ids],
                "orgs": list(c.organization_ids or []),
            },
        ).fetchone()
        assert row is not None
        return row

    def budget(self, tenant: UUID, integration_id: UUID, rule_id: UUID | None) -> dict[str, Any]:
        """How many other rules the integration has, and their patterns."""
        row = self.conn.execute(_BUDGET, {"t": tenant, "i": integration_id, "r": rule_id}).fetchone()
        assert row is not None
        return row

    @staticmethod
    def _json(body: s.RuleIn) -> tuple[Jsonb, Jsonb]:
        conditions = body.conditions.model_dump(mode="json", by_alias=True, exclude_none=True)
        actions = body.actions.model_dump(mode="json", by_alias=True, exclude_none=True)
        return Jsonb(conditions), Jsonb(actions)

    def insert(self, tenant: UUID, integration_id: UUID, body: s.RuleIn, created_by: str) -> dict[str, Any]:
        conditions, actions = self._json(body)
        row = self.conn.execute(
            f"""INSERT INTO rmm_alert_rules (tenant, integration_id, name, description, is_active, priority_order,
                                            conditions, actions)
                VALUES (%(t)s, %(i)s, %(name)s, %(description)s, %(active)s,
                        (SELECT coalesce(max(priority_order), 0) + 1 FROM rmm_alert_rules
                          WHERE tenant = %(t)s AND integration_id = %(i)s),
                        %(conditions)s, %(actions)s)
                RETURNING {_COLUMNS}""",
            {
                "t": tenant,
                "i": integration_id,
                "name": body.name,
                "description": body.description,
                "active": body.is_active,
                "conditions": conditions,
                "actions": actions,
            },
        ).fetchone()
        assert row is not None
        return row

    def update(self, tenant: UUID, integration_id: UUID, rule_id: UUID, body: s.RuleIn) -> dict[str, Any] | None:
        conditions, actions = self._json(body)
        return self.conn.execute(
            f"""UPDATE rmm_alert_rules
                   SET name = %s, description = %s, is_active = %s, conditions = %s, actions = %s, updated_at = now()
                 WHERE tenant = %s AND integration_id = %s AND rule_id = %s
             RETURNING {_COLUMNS}""",
            (body.name, body.description, body.is_active, conditions, actions, tenant, integration_id, rule_id),
        ).fetchone()

    def delete(self, tenant: UUID, integration_id: UUID, rule_id: UUID) -> bool:
        cur = self.conn.execute(
            "DELETE FROM rmm_alert_rules WHERE tenant = %s AND integration_id = %s AND rule_id = %s",
            (tenant, integration_id, rule_id),
        )
        return cur.rowcount > 0

    def reorder(self, tenant: UUID, integration_id: UUID, rule_ids: builtins.list[UUID]) -> None:
        self.conn.execute(
            """UPDATE rmm_alert_rules r SET priority_order = o.n, updated_at = now()
                 FROM unnest(%s::uuid[]) WITH ORDINALITY AS o(rule_id, n)
                WHERE r.tenant = %s AND r.integration_id = %s AND r.rule_id = o.rule_id""",
            (rule_ids, tenant, integration_id),
        )


def view(row: dict[str, Any]) -> s.RuleOut:
    return s.RuleOut.model_validate(row)


def _validate_references(repo: RuleRepository, p: Principal, integration_id: UUID, body: s.RuleIn) -> None:
    found = repo.references(p.tenant, integration_id, body)
    a, c = body.actions, body.conditions
    problems = Problems()
    if a.board_id is not None and not found["board_ok"]:
        problems.add("actions.boardId", "no such active board in this tenant")
    if a.priority_override is not None and not found["priority_ok"]:
        problems.add("actions.priorityOverride", "no such priority in this tenant")
    if a.assign_to_user_id is not None and not found["assignee_ok"]:
        problems.add("actions.assignToUserId", "no such active user in this tenant")
    if a.auto_resolve_status_id is not None:
        if found["status_closed"] is None:
            problems.add("actions.autoResolveStatusId", "no such status in this tenant")
        elif not found["status_closed"]:
            problems.add("actions.autoResolveStatusId", "must be a closed status")
        elif not found["status_on_board"]:
            where = "the rule's board" if a.board_id is not None else "the tenant's default board"
            problems.add("actions.autoResolveStatusId", f"must be a closed status of {where}")
    known_users = set(found["notify_ok"])
    for n, user in enumerate(a.notify_user_ids):
        if str(user) not in known_users:
            problems.add(f"actions.notifyUserIds[{n}]", "no such active user in this tenant")
    mapped = set(found["orgs_ok"])
    for n, org in enumerate(c.organization_ids or []):
        if org not in mapped:
            problems.add(f"conditions.organizationIds[{n}]", "not a mapped organization of this integration")
    problems.raise_if_any()


def _size(pattern: str) -> int:
    try:
        return pattern_program_size(pattern)
    except Exception:  # a stored pattern that no longer compiles never runs
        return 0


def _validate_budget(
    repo: RuleRepository, p: Principal, integration_id: UUID, body: s.RuleIn, rule_id: UUID | None = None
) -> None:
    """Issue 10 item 11: what one tenant can make every alert of an integration cost is bounded
    (see the limits in rmm_alerts.contracts and tests/unit/test_rule_budget.py)."""
    c = body.conditions
    problems = Problems()
    found = repo.budget(p.tenant, integration_id, rule_id)
    if found["others"] >= MAX_RULES_PER_INTEGRATION:
        problems.add("", f"an integration has at most {MAX_RULES_PER_INTEGRATION} rules")
    keywords = c.keywords or []
    if len(keywords) > MAX_KEYWORDS:
        problems.add("conditions.keywords", f"at most {MAX_KEYWORDS} keywords")
    for n, keyword in enumerate(keywords):
        if len(keyword) > MAX_KEYWORD_LENGTH:
            problems.add(f"conditions.keywords[{n}]", f"at most {MAX_KEYWORD_LENGTH} characters")
    pattern = c.message_pattern
    if pattern is not None:
        size = pattern_program_size(pattern)
        used = sum(_size(other) for other in found["patterns"] if other)
        if len(pattern) > MAX_PATTERN_LENGTH:
            problems.add("conditions.messagePattern", f"at most {MAX_PATTERN_LENGTH} characters")
        elif size > MAX_PATTERN_PROGRAM_SIZE:
            problems.add(
                "conditions.messagePattern",
                f"too complex: compiles to {size} instructions (at most {MAX_PATTERN_PROGRAM_SIZE}); "
                "use fewer or smaller repetitions and alternatives",
            )
        elif used + size > MAX_INTEGRATION_PROGRAM_SIZE:
            problems.add(
                "conditions.messagePattern",
                f"the integration's patterns together would compile to {used + size} instructions "
                f"(at most {MAX_INTEGRATION_PROGRAM_SIZE}); simplify or remove another rule's pattern",
            )
    problems.raise_if_any()


def list_rules(deps: Deps, p: Principal, integration_id: UUID) -> s.RuleList:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=False)
        rows = RuleRepository(uow.conn).list(p.tenant, integration_id)
    return s.RuleList(items=[view(r) for r in rows])


def get_rule(deps: Deps, p: Principal, integration_id: UUID, rule_id: UUID) -> s.RuleOut:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=False)
        row = RuleRepository(uow.conn).get(p.tenant, integration_id, rule_id)
    if row is None:
        raise not_found("rule")
    return view(row)


def create_rule(deps: Deps, p: Principal, integration_id: UUID, body: s.RuleIn) -> s.RuleOut:
    with deps.uow_factory() as uow:
        # The integration row lock serializes rule writers, so "goes last" holds under concurrency.
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        repo = RuleRepository(uow.conn)
        _validate_budget(repo, p, integration_id, body)
        _validate_references(repo, p, integration_id, body)
        row = repo.insert(p.tenant, integration_id, body, p.user_id)
    return view(row)


def update_rule(deps: Deps, p: Principal, integration_id: UUID, rule_id: UUID, body: s.RuleIn) -> s.RuleOut:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        repo = RuleRepository(uow.conn)
        if repo.get(p.tenant, integration_id, rule_id) is None:
            raise not_found("rule")
        _validate_budget(repo, p, integration_id, body, rule_id)
        _validate_references(repo, p, integration_id, body)
        row = repo.update(p.tenant, integration_id, rule_id, body)
    assert row is not None
    return view(row)


def delete_rule(deps: Deps, p: Principal, integration_id: UUID, rule_id: UUID) -> None:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        if not RuleRepository(uow.conn).delete(p.tenant, integration_id, rule_id):
            raise not_found("rule")


def reorder(deps: Deps, p: Principal, integration_id: UUID, body: s.RuleOrderIn) -> s.RuleList:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        repo = RuleRepository(uow.conn)
        current = [r["rule_id"] for r in repo.list(p.tenant, integration_id)]
        known = set(current)
        problems = Problems()
        seen: set[UUID] = set()
        for n, rule_id in enumerate(body.rule_ids):
            if rule_id in seen:
                problems.add(f"ruleIds[{n}]", "duplicate rule id")
            elif rule_id not in known:
                problems.add(f"ruleIds[{n}]", "not a rule of this integration")
            seen.add(rule_id)
        missing = [str(r) for r in current if r not in seen]
        if missing:
            problems.add("ruleIds", "missing rule ids: " + ", ".join(missing))
        problems.raise_if_any()
        repo.reorder(p.tenant, integration_id, list(body.rule_ids))
        rows = repo.list(p.tenant, integration_id)
    return s.RuleList(items=[view(r) for r in rows])
