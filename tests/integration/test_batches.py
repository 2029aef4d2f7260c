"""db.UnitOfWork.batch: the statements of a block in one round trip (a libpq pipeline inside the
transaction), and a failure in any batch undoing the whole unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts import config, db
from tests.support.wire import Wire


@pytest.fixture
def wire() -> Iterator[Wire]:
    w = Wire()
    yield w
    w.close()


@pytest.fixture
def counting_pool(database_url: str, wire: Wire) -> Iterator[ConnectionPool[Any]]:
    settings = config.load(config.DatabaseSettings, {"DATABASE_URL": database_url})
    pool = db.create_pool(settings, max_size=1, configure=wire.attach)
    pool.open(wait=True)
    yield pool
    pool.close()


@pytest.mark.parametrize("statements", [1, 5, 40])
def test_a_batch_is_one_round_trip_whatever_it_holds(
    counting_pool: ConnectionPool[Any], wire: Wire, statements: int
) -> None:
    with db.UnitOfWork(counting_pool) as uow:
        uow.execute("SELECT 1")  # psycopg's BEGIN, then this: the transaction is open
        wire.round_trips()
        with uow.batch():
            cursors = [uow.execute("SELECT %s::int AS n, %s::text AS t", (i, f"{i}%")) for i in range(statements)]
        assert wire.round_trips() == 1
        assert [c.fetchone() for c in cursors] == [{"n": i, "t": f"{i}%"} for i in range(statements)]
    assert wire.round_trips() == 1  # COMMIT


def test_a_failing_batch_undoes_the_whole_unit_of_work(conn: Any, pool: ConnectionPool[Any]) -> None:
    conn.execute("CREATE TABLE batch_probe (k int PRIMARY KEY, note text)")
    conn.execute("GRANT SELECT, INSERT ON batch_probe TO rmm_app")

    def two_batches(*, fail: bool) -> None:
        with db.UnitOfWork(pool) as uow:
            with uow.batch():
                uow.execute("INSERT INTO batch_probe VALUES (1, %s)", ("first batch",))
            with uow.batch():
                uow.execute("INSERT INTO batch_probe VALUES (2, %s)", ("second batch",))
                if fail:
                    uow.execute("INSERT INTO batch_probe VALUES (1, %s)", ("duplicate",))

    with pytest.raises(psycopg.errors.UniqueViolation):
        two_batches(fail=True)
    assert conn.execute("SELECT count(*) AS n FROM batch_probe").fetchone() == {"n": 0}
    with pool.connection() as c:  # back in the pool idle and usable
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert c.execute("SELECT 1").fetchone() is not None
    two_batches(fail=False)
    assert conn.execute("SELECT k, note FROM batch_probe ORDER BY k").fetchall() == [
        {"k": 1, "note": "first batch"},
        {"k": 2, "note": "second batch"},
    ]
