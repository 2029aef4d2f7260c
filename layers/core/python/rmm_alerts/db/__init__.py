"""Database access: connection pool, unit of work, and the repositories (hand-written SQL).

A process keeps one lazily opened pool (never at import). In Lambda that pool is reused across
warm invocations. A connection that sat idle in the pool for ``CHECK_IDLE_S`` or longer (a thawed
Lambda, a quiet tenant) is checked on checkout and replaced when dead; one used moments ago is not:
that check was a round trip on every transaction, and in a storm every connection is seconds old.
A connection that died in that short window fails its first statement; the webhook path retries
its unit of work once then (``webhooks.receive``), everything else answers with an error that
makes its caller retry, and no transaction can have committed on a dead connection.

Proxy-safe (RDS Proxy, PgBouncer in transaction mode): no startup options, no session-level SET,
no server-side prepared statements. The limits every transaction runs under (statement, lock and
idle-in-transaction timeouts) are settings of the application role (migration 0003), so they
cost no round trip and pin nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, Self

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool

from rmm_alerts import jsoncodec
from rmm_alerts.config import DatabaseSettings

_lock = threading.Lock()
_pool: ConnectionPool[Any] | None = None

# RDS IAM auth tokens live 15 minutes; a new one is signed well before that.
IAM_TOKEN_REUSE_S = 10 * 60
# Powertools caches the secret this long, so a rotation is picked up without a cold start.
SECRET_MAX_AGE_S = 300
# Checkout check only for connections idle at least this long (far below any proxy/NAT idle timeout).
CHECK_IDLE_S = 5.0


def is_auth_failure(exc: BaseException) -> bool:
    """A rejected password or token (PostgreSQL 28P01/28000, or a proxy's own wording)."""
    if getattr(exc, "sqlstate", None) in {"28P01", "28000"}:
        return True
    return "authentication failed" in str(exc).lower()


class Credentials:
    """How to log in: ``DATABASE_URL``, an RDS IAM auth token, or the database secret.

    Tokens are signed locally (no network) and reused until shortly before they expire; the
    secret is cached by Powertools. ``refresh()`` drops both, after an authentication failure.
    """

    def __init__(self, settings: DatabaseSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._token: tuple[str, float] | None = None
        self._force_secret = False
        self._rds: Any = None

    def conninfo(self) -> str:
        s = self.settings
        if s.database_url:
            return s.database_url
        if s.db_iam_auth:
            assert s.db_user is not None
            user, password = s.db_user, self.iam_token()
        else:
            user, password = self._secret()
        return psycopg.conninfo.make_conninfo(
            host=s.db_host,
            port=str(s.db_port),
            dbname=s.db_name,
            user=user,
            password=password,
            sslmode=s.db_sslmode,
        )

    @property
    def token_issued_at(self) -> float | None:
        """When (on ``clock``) the cached IAM token was signed."""
        return self._token[1] if self._token else None

    def iam_token(self) -> str:
        now = self._clock()
        if self._token is None or now - self._token[1] >= IAM_TOKEN_REUSE_S:
            if self._rds is None:
                import boto3

                self._rds = boto3.client("rds")
            token = self._rds.generate_db_auth_token(
                DBHostname=self.settings.db_host, Port=self.settings.db_port, DBUsername=self.settings.db_user
            )
            self._token = (str(token), now)
        return self._token[0]

    def _secret(self) -> tuple[str, str]:
        from aws_lambda_powertools.utilities import parameters

        assert self.settings.db_secret_arn is not None
        force, self._force_secret = self._force_secret, False
        secret = parameters.get_secret(
            self.settings.db_secret_arn, transform="json", max_age=SECRET_MAX_AGE_S, force_fetch=force
        )
        if not isinstance(secret, dict):
            raise RuntimeError("database secret is not a JSON object")
        return str(secret["username"]), str(secret["password"])

    def refresh(self) -> bool:
        """Forget the cached token or secret; whether a retry can log in with something new."""
        if self.settings.database_url:
            return False
        self._token = None
        self._force_secret = True
        return True


def conninfo(settings: DatabaseSettings) -> str:
    """libpq connection string: ``DATABASE_URL`` locally, the proxy with a token or the secret in AWS."""
    return Credentials(settings).conninfo()


def connection_class(credentials: Credentials) -> type[psycopg.Connection[Any]]:
    """A connection class that logs in with ``credentials`` and, when the password or token is
    refused, refreshes them once and retries (a rotated secret must not lock us out until its
    cache expires)."""

    class _Connection(psycopg.Connection[Any]):
        # When the pool last had this connection back (time.monotonic), see check_if_idle.
        returned_at: float = float("-inf")

        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            try:
                return super().connect(credentials.conninfo(), **kwargs)
            except psycopg.OperationalError as exc:
                if not is_auth_failure(exc) or not credentials.refresh():
                    raise
            return super().connect(credentials.conninfo(), **kwargs)

    return _Connection


def _returned(conn: psycopg.Connection[Any]) -> None:
    """Pool ``reset`` callback: the connection is back in the pool, idle and working. A lazy-begin
    unit of work left it in autocommit only if its own restore failed; never hand that on."""
    if conn.autocommit:
        conn.autocommit = False
    conn.returned_at = time.monotonic()  # type: ignore[attr-defined]


# When a unit of work last found its connection dead: connections that were already idle in the
# pool then are suspect (a failover or a proxy restart drops them all at once).
_dead_seen_at = float("-inf")


def saw_dead_connection() -> None:
    global _dead_seen_at
    _dead_seen_at = time.monotonic()


def check_if_idle(conn: psycopg.Connection[Any]) -> None:
    """Pool ``check`` callback: one round trip, only for a connection idle ``CHECK_IDLE_S`` or more,
    or one that was idle when another connection was found dead."""
    returned_at = getattr(conn, "returned_at", float("-inf"))
    if time.monotonic() - returned_at >= CHECK_IDLE_S or returned_at <= _dead_seen_at:
        ConnectionPool.check_connection(conn)


def create_pool(
    settings: DatabaseSettings,
    *,
    max_size: int = 2,
    name: str = "rmm-alerts",
    configure: Callable[[psycopg.Connection[Any]], None] | None = None,
) -> ConnectionPool[Any]:
    """A pool for ``settings`` (not opened: the first checkout opens it)."""
    # Each new connection asks the credentials (cached token or secret), so rotation is picked up
    # without a cold start; nothing is fetched before the first checkout.

    def configure_new(conn: psycopg.Connection[Any]) -> None:
        if configure is not None:
            configure(conn)
        _returned(conn)  # just opened: no check needed on its first checkout

    return ConnectionPool(
        "",
        connection_class=connection_class(Credentials(settings)),
        min_size=1,
        max_size=max_size,
        open=False,
        name=name,
        check=check_if_idle,
        configure=configure_new,
        reset=_returned,
        timeout=float(settings.db_connect_timeout_s) + 1,
        reconnect_timeout=30.0,
        kwargs={
            "connect_timeout": settings.db_connect_timeout_s,
            "application_name": name,
            # No server-side prepared statements: they pin sessions on RDS Proxy and break on PgBouncer.
            "prepare_threshold": None,
        },
    )


def get_pool(settings: DatabaseSettings, *, max_size: int = 2) -> ConnectionPool[Any]:
    """The process-wide pool, created and opened on first use."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = create_pool(settings, max_size=max_size)
        if _pool.closed:
            _pool.open(wait=False)
        return _pool


def reset_pool() -> None:
    """Close the process-wide pool (tests, credential rotation)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.close()
        _pool = None


# jsonb parameters may hold datetimes and UUIDs (traces, event payloads); orjson, not json.dumps
# (rmm_alerts.jsoncodec: ~10× faster on a decision trace).
set_json_dumps(jsoncodec.dumps)


class Rows(Protocol):
    """What a repository's caller reads of a statement's result: a psycopg cursor, or a
    statement of a :meth:`UnitOfWork.batch` once the batch has run."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> dict[str, Any] | None: ...

    def fetchall(self) -> list[dict[str, Any]]: ...


class Executor(Protocol):
    """What the repositories execute their SQL on (a connection, or a unit of work's route)."""

    def execute(self, query: Any, params: Any = None) -> Rows: ...


class Deferred:
    """One statement of a batch: its rows once the batch has run (the batch's ``with`` block)."""

    __slots__ = ("_rowcount", "_rows")

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] | None = None
        self._rowcount = -1

    def _ready(self) -> list[dict[str, Any]]:
        if self._rows is None:
            raise RuntimeError("a batched statement's result is read after its batch has run")
        return self._rows

    @property
    def rowcount(self) -> int:
        self._ready()
        return self._rowcount

    def fetchone(self) -> dict[str, Any] | None:
        rows = self._ready()
        return rows[0] if rows else None

    def fetchall(self) -> list[dict[str, Any]]:
        return list(self._ready())


class _Route:
    """The repositories' executor. Every statement goes as a simple-protocol query message with its
    parameters bound on the client (psycopg's ``ClientCursor.mogrify``: the same adapters, quoted
    as literals): alone, or, inside a batch, collected and sent with the others at its end (bound at
    once, as psycopg would bind it: what the caller changes afterwards is not sent).

    Why simple protocol: a batch with ``BEGIN`` in front or ``COMMIT`` behind is then one message
    answered by one ReadyForQuery, so a transaction pooler only ever sees a transaction start or end
    at a message's end. A libpq pipeline cannot carry a COMMIT that way: psycopg follows its Sync
    with a Flush, which would reach the pooler after the transaction ended (docs/performance.md,
    "Round trips")."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn
        self.collecting: list[tuple[str, Deferred]] | None = None
        self._binder: psycopg.ClientCursor[Any] | None = None

    def bind(self, query: Any, params: Any) -> str:
        if self._binder is None:
            self._binder = psycopg.ClientCursor(self.conn)
        return self._binder.mogrify(query, params)

    def execute(self, query: Any, params: Any = None) -> Rows:
        text = self.bind(query, params)
        if self.collecting is None:
            return self.conn.execute(text)
        pending = Deferred()
        self.collecting.append((text, pending))
        return pending


def run_batch(
    conn: psycopg.Connection[dict[str, Any]],
    statements: list[tuple[str, Deferred]],
    *,
    begin: bool = False,
    commit: bool = False,
) -> None:
    """Send ``statements`` (bound SQL text, with ``BEGIN`` before and ``COMMIT`` after, when asked)
    as ONE simple-protocol query message: one round trip, and no pipeline. Parameters were bound on
    the client (psycopg's ``ClientCursor.mogrify``: the same adapters, quoted as literals). Each
    statement still gets its own snapshot (READ COMMITTED), so a lock taken by one statement is held
    before the next one reads. A failing statement aborts the rest of the message (and the
    transaction); the error is raised here."""
    if not statements and not (begin or commit):
        return
    parts = ["BEGIN"] if begin else []
    parts.extend(text for text, _ in statements)
    if commit:
        parts.append("COMMIT")
    # Each statement on lines of its own: a trailing "-- comment" never swallows the separator.
    cur = conn.execute("\n;\n".join(parts))
    results = iter([None] * begin + [pending for _, pending in statements] + [None] * commit)
    while True:
        pending = next(results)
        if pending is not None:
            # pgresult.nfields, not cur.description: that builds a Column object per column.
            result = cur.pgresult
            pending._rows = cur.fetchall() if result is not None and result.nfields else []
            pending._rowcount = cur.rowcount
        if not cur.nextset():
            break


class UnitOfWork:
    """One transaction on one pooled connection, with the repositories bound to it.

    ``with uow:`` commits when the block succeeds and rolls back on any exception.

    Batches (:meth:`batch`) send their statements as one simple-protocol query message: one round
    trip, no libpq pipeline. A transaction pooler (PgBouncer, RDS Proxy) then only ever sees whole
    messages each answered by one ReadyForQuery (see ``_Route``).

    The alert path runs with ``lazy_begin`` (:meth:`begin_lazily`): the connection is in autocommit
    while the unit of work only reads (single statements, each its own implicit transaction), the
    first batch that must be transactional carries ``BEGIN`` (``batch(begin=True)``) and the last
    one ``COMMIT`` (``batch(commit=True)``), inside those batches' own round trips. A unit of work
    that never begins opens no transaction (a replayed webhook: one round trip in all).
    """

    lazy_begin = False
    _begun = False

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._cm: Any = None
        self.conn: psycopg.Connection[dict[str, Any]]
        self._route: _Route

    def execute(self, query: Any, params: Any = None) -> Rows:
        """One statement (or, inside :meth:`batch`, one more of the batch), as the repositories run
        theirs."""
        return self._route.execute(query, params)

    def begin_lazily(self) -> None:
        """Before ``with uow:``: open the transaction only with ``batch(begin=True)`` (see the class
        docstring). Units of work that share an outer transaction ignore it."""
        if self._cm is None:
            self.lazy_begin = True

    def _bind(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        from rmm_alerts.db.alerts import AlertRepository
        from rmm_alerts.db.outbox import OutboxRepository
        from rmm_alerts.db.psa import PsaRepository

        conn.row_factory = dict_row
        self.conn = conn
        self._route = _Route(conn)
        self.alerts = AlertRepository(self._route)
        self.psa = PsaRepository(self._route)
        self.outbox = OutboxRepository(self._route)

    def __enter__(self) -> UnitOfWork:
        self._cm = self._pool.connection()
        conn = self._cm.__enter__()
        self._bind(conn)
        if self.lazy_begin:
            conn.autocommit = True  # a client-side flag: no round trip
            self._begun = False
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        cm, self._cm = self._cm, None
        if exc is not None and self.conn.broken:
            saw_dead_connection()
        # The pool's context commits on success, rolls back on error (psycopg sends COMMIT or
        # ROLLBACK whenever the server reports a transaction, autocommit or not, so a lazily begun
        # one is ended too) and discards broken connections; its reset callback (_returned) takes
        # the connection out of autocommit.
        cm.__exit__(exc_type, exc, tb)

    @contextmanager
    def batch(self, *, begin: bool = False, commit: bool = False) -> Iterator[None]:
        """Collect the repositories' statements in the block and send them in one round trip at its
        end (their results are read after the block). ``begin``: with ``lazy_begin``, this batch
        opens the transaction (``BEGIN`` rides in front). ``commit``: with ``lazy_begin``, it ends
        it (``COMMIT`` rides behind; the unit of work is then done). Without ``lazy_begin`` both
        are no-ops: psycopg began, and ``with uow:`` commits, since the caller may still have more
        to do in the transaction (the poller's chunks)."""
        route = self._route
        if route.collecting is not None:
            raise RuntimeError("batches do not nest")
        statements: list[tuple[str, Deferred]] = []
        route.collecting = statements
        try:
            yield
        finally:
            route.collecting = None
        send_begin = begin and self.lazy_begin and not self._begun
        send_commit = commit and self.lazy_begin and (self._begun or send_begin)
        if send_begin:
            self._begun = True
        run_batch(self.conn, statements, begin=send_begin, commit=send_commit)
        if send_commit:
            self._begun = False
