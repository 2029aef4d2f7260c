"""Issue 10, items 1 and 7: ticket numbers never collide with the PSA's nor queue behind one row;
dedup keys are unambiguous, and migration 0004 rewrites the keys stored before."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from rmm_alerts.localdb import with_database
from rmm_alerts.migrations import apply_all, available
from rmm_alerts.pipeline import apply_event, process_event
from tests.support.events import event, later
from tests.support.world import Tenant


@pytest.fixture
def ticketing(world: Tenant) -> Tenant:
    world.add_rule(actions={"autoResolveTicket": True})
    return world


def psa_ticket(world: Tenant, number: str) -> None:
    world.q(
        """INSERT INTO tickets (tenant, ticket_number, title, board_id, status_id, client_id)
           VALUES (%s, %s, 'PSA ticket', %s, %s, %s)""",
        world.tenant,
        number,
        world.board_id,
        world.open_status_id,
        world.client_id,
    )


# -- item 1 ----------------------------------------------------------------------------------


def test_ticket_numbers_skip_the_psas_own(ticketing: Tenant, uow_factory: Any) -> None:
    for n in (1, 2, 3):
        psa_ticket(ticketing, f"TIC{n:06d}")
    first = process_event(event(ticketing, device="1"), uow_factory())
    assert (first.outcome, first.ticket_number) == ("ticket_created", "TIC000004")
    psa_ticket(ticketing, "TIC000005")  # the PSA keeps numbering on its own
    second = process_event(event(ticketing, device="2"), uow_factory())
    assert (second.outcome, second.ticket_number) == ("ticket_created", "TIC000006")
    third = process_event(event(ticketing, device="3"), uow_factory())
    assert third.ticket_number == "TIC000007"


def test_ticket_numbers_keep_the_tenants_prefix_and_grow_past_six_digits(ticketing: Tenant, uow_factory: Any) -> None:
    ticketing.q("INSERT INTO ticket_number_sequences (tenant, prefix) VALUES (%s, 'ALR')", ticketing.tenant)
    psa_ticket(ticketing, "ALR999999")
    result = process_event(event(ticketing, device="1"), uow_factory())
    assert result.ticket_number == "ALR1000000"


def test_ticket_creation_is_not_serialized_per_tenant(ticketing: Tenant, uow_factory: Any) -> None:
    """A ticket being created (transaction still open) must not hold up another device's ticket.
    (The tenant's very first ticket creates its number sequence, once; migration 0004 created them
    for the tenants that existed.)"""
    assert process_event(event(ticketing, device="0"), uow_factory()).ticket_number == "TIC000001"
    done = threading.Event()
    numbers: list[str | None] = []

    def other_device() -> None:
        numbers.append(process_event(event(ticketing, device="2", at=later(1)), uow_factory()).ticket_number)
        done.set()

    with uow_factory() as uow:
        first = apply_event(event(ticketing, device="1"), uow)
        assert first.outcome == "ticket_created"
        worker = threading.Thread(target=other_device)
        worker.start()
        finished_while_open = done.wait(timeout=10)
    worker.join(timeout=30)
    assert finished_while_open, "the second ticket waited for the first transaction to commit"
    assert sorted(str(n) for n in [first.ticket_number, *numbers]) == ["TIC000002", "TIC000003"]


# -- item 7 ----------------------------------------------------------------------------------


def test_colon_in_device_does_not_join_another_devices_ticket(ticketing: Tenant, uow_factory: Any) -> None:
    a = process_event(event(ticketing, device="a:b", condition="c", pairing=None), uow_factory())
    b = process_event(event(ticketing, device="a", condition="b:c", pairing=None, at=later(1)), uow_factory())
    assert (a.outcome, b.outcome) == ("ticket_created", "ticket_created")
    assert a.ticket_id != b.ticket_id


def test_device_named_no_device_is_not_no_device(ticketing: Tenant, uow_factory: Any) -> None:
    a = process_event(event(ticketing, device="no-device", pairing=None), uow_factory())
    b = process_event(event(ticketing, device=None, pairing=None, at=later(1)), uow_factory())
    assert (a.outcome, b.outcome) == ("ticket_created", "ticket_created")


@pytest.fixture
def db_before_0004(pg_admin_url: str) -> Iterator[str]:
    name = f"rmm_mig4_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(pg_admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE schema_migrations (version text PRIMARY KEY, name text NOT NULL,
                   checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        for m in available():
            if m.version < "0004":
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.checksum),
                )
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migration_0004_rewrites_keys_numbers_and_times(db_before_0004: str) -> None:
    from tests.support.world import make_tenant

    with psycopg.connect(db_before_0004, autocommit=True, row_factory=dict_row) as conn:
        world = make_tenant(conn)
        world.q("INSERT INTO ticket_number_sequences (tenant, last_number) VALUES (%s, 41)", world.tenant)
        psa_ticket(world, "TIC000057")
        rows = [
            ("1", None, "cond", "no-device:cond", "2026-01-01T00:00:00Z"),
            ("2", "a:b", "c", "a:b:c", "2026-01-01T00:00:00Z"),
            ("3", "101", "cond", "101:cond", "10000-01-01T00:00:00Z"),
            ("4", "d", "x" * 300, "old-long-key", "2026-01-01T00:00:00Z"),
        ]
        for external, device, condition, key, at in rows:
            world.q(
                """INSERT INTO rmm_alerts (tenant, integration_id, provider, external_alert_id, external_device_id,
                                           condition_id, dedup_key, triggered_at)
                   VALUES (%s, %s, 'ninjaone', %s, %s, %s, %s, %s)""",
                world.tenant,
                world.integration_id,
                external,
                device,
                condition,
                key,
                at,
            )
    assert "0004" in apply_all(db_before_0004)
    from rmm_alerts.dedup import dedup_key

    with psycopg.connect(db_before_0004, autocommit=True, row_factory=dict_row) as conn:
        got = {
            r["external_alert_id"]: r
            for r in conn.execute("SELECT external_alert_id, dedup_key, triggered_at, created_at FROM rmm_alerts")
        }
        for external, device, condition, _key, _at in rows:
            assert got[external]["dedup_key"] == dedup_key(device, condition), external
        assert got["3"]["triggered_at"] == got["3"]["created_at"]
        number = conn.execute("SELECT rmm_next_ticket_number(%s) AS n", (world.tenant,)).fetchone()
        assert number is not None and number["n"] == "TIC000058"


def test_reset_finds_a_deviceless_alert_after_the_key_change(ticketing: Tenant, uow_factory: Any) -> None:
    trigger = process_event(event(ticketing, device=None, pairing=None), uow_factory())
    reset = process_event(event(ticketing, "reset", device=None, pairing=None, at=later(2)), uow_factory())
    assert (trigger.outcome, reset.outcome, reset.alert_id) == ("ticket_created", "resolved", trigger.alert_id)
