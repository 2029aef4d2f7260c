"""db.UnitOfWork.batch: the statements of a block sent as one simple-protocol query message (one
round trip, no pipeline), parameters bound on the client exactly as given, results read after the
block, and a failure anywhere in a batch undoing the whole unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from rmm_alerts import db
from tests.support.wire import Wire

# Text that would break a naive statement joiner or placeholder parser.
AWKWARD = [
    "plain",
    "50% done, %s and %(x)s stay text",
    'it\'s "quoted" \\ back\\slashed',
    "semi; colon\n;\nnext line -- not a comment",
    "-- a comment's start",
    "/* open comment",
    "ünïcødé ✓ \t tab",
    "",
]


def test_a_batch_is_one_round_trip_and_returns_each_statements_rows(
    counting_pool: ConnectionPool[Any], wire: Wire
) -> None:
    uow = db.UnitOfWork(counting_pool)
    uow.begin_lazily()
    with uow:
        wire.round_trips()
        with uow.batch(begin=True, commit=True):  # BEGIN and COMMIT ride along
            rows = [uow.execute("SELECT %s::text AS v, %s::int AS n", (text, i)) for i, text in enumerate(AWKWARD)]
            empty = uow.execute("SELECT 1 AS one WHERE false")
            generated = uow.execute("SELECT g AS n FROM generate_series(1, 3) g")
        assert wire.round_trips() == 1
    assert wire.round_trips() == 0  # nothing left to end
    assert [r.fetchone() for r in rows] == [{"v": text, "n": i} for i, text in enumerate(AWKWARD)]
    assert empty.fetchone() is None and empty.fetchall() == [] and empty.rowcount == 0
    assert generated.fetchall() == [{"n": 1}, {"n": 2}, {"n": 3}] and generated.rowcount == 3


def test_every_type_the_repositories_send_arrives_as_given(pool: ConnectionPool[Any]) -> None:
    doc = {"text": AWKWARD, "n": 1.5, "nested": {"ok": True, "none": None}}
    sent = {
        "ids": [uuid.uuid4(), uuid.uuid4()],
        "at": datetime(2026, 11, 30, 5, 6, 7, 891011, tzinfo=UTC),
        "texts": AWKWARD,
        "none": None,
        "flag": False,
        "big": -(2**62),
    }
    with db.UnitOfWork(pool) as uow, uow.batch():
        cur = uow.execute(
            "SELECT %(doc)s::jsonb AS doc, %(ids)s::uuid[] AS ids, %(at)s::timestamptz AS at,"
            " %(texts)s::text[] AS texts, %(none)s::text AS none, %(flag)s AS flag, %(big)s::bigint AS big",
            {**sent, "doc": Jsonb(doc)},
        )
    assert cur.fetchone() == {**sent, "doc": doc}


def test_parameters_are_bound_when_the_statement_is_queued(pool: ConnectionPool[Any]) -> None:
    """As with psycopg's own execute: what the caller changes after queueing is not sent."""
    payload = {"state": "queued"}
    with db.UnitOfWork(pool) as uow, uow.batch():
        cur = uow.execute("SELECT %s::jsonb AS doc", (Jsonb(payload),))
        payload["state"] = "changed later"
    assert cur.fetchone() == {"doc": {"state": "queued"}}


def test_results_are_read_after_the_block(pool: ConnectionPool[Any]) -> None:
    with db.UnitOfWork(pool) as uow:
        with uow.batch():
            cur = uow.execute("SELECT 1 AS one")
            with pytest.raises(RuntimeError, match="after its batch"):
                cur.fetchone()
        assert cur.fetchone() == {"one": 1}
        with pytest.raises(RuntimeError, match="do not nest"), uow.batch(), uow.batch():
            pass


def test_a_failing_statement_undoes_the_whole_lazily_begun_unit_of_work(conn: Any, pool: ConnectionPool[Any]) -> None:
    conn.execute("CREATE TABLE batch_probe (k int PRIMARY KEY, note text)")
    conn.execute("GRANT SELECT, INSERT ON batch_probe TO rmm_app")

    def two_batches(*, fail: bool) -> None:
        uow = db.UnitOfWork(pool)
        uow.begin_lazily()
        with uow:
            with uow.batch(begin=True):
                uow.execute("INSERT INTO batch_probe VALUES (1, %s)", ("first batch",))
            with uow.batch(commit=True):
                uow.execute("INSERT INTO batch_probe VALUES (2, %s)", ("second batch",))
                if fail:
                    uow.execute("INSERT INTO batch_probe VALUES (1, %s)", ("duplicate",))

    with pytest.raises(psycopg.errors.UniqueViolation):
        two_batches(fail=True)
    assert conn.execute("SELECT count(*) AS n FROM batch_probe").fetchone() == {"n": 0}
    # The connection went back to the pool idle, transactional and usable.
    with pool.connection() as c:
        assert c.autocommit is False
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert c.execute("SELECT 1").fetchone() is not None

    # And the same two batches without the failure commit both, once.
    two_batches(fail=False)
    assert conn.execute("SELECT k, note FROM batch_probe ORDER BY k").fetchall() == [
        {"k": 1, "note": "first batch"},
        {"k": 2, "note": "second batch"},
    ]
