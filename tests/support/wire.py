"""Round trips counted on the wire: libpq's protocol trace of a connection.

One round trip is the client sending, then waiting for the server. Used by the round-trip tests
and by ``scripts/bench``.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq

# Descriptors handed to libpq's trace streams (see Wire._trace): open until the process ends.
_LEAKED_FDS: list[int] = []


class Wire:
    """Counts request/response turns in a libpq trace file."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="rmm-trace-")
        self.fd, self.path = fd, Path(name)
        self.mark = 0
        self.conns: list[psycopg.Connection[Any]] = []

    def attach(self, conn: psycopg.Connection[Any]) -> None:
        self.conns.append(conn)
        self._trace(conn)

    def _trace(self, conn: psycopg.Connection[Any]) -> None:
        # libpq writes through a stdio stream that psycopg opens on the descriptor (fdopen) and
        # nothing ever closes: PQuntrace and PQfinish leave it open, holding what it buffered. So
        # each stream gets a descriptor of its own, a duplicate of the trace file's, never closed:
        # whenever such a stream is flushed, it can only ever write into the trace file. Handing it
        # the shared descriptor, closed by close(), let a late flush write trace text into whatever
        # socket reused that number next: a later test's database connection, whose PgBouncer then
        # waited for the rest of a garbled message (tests hung now and then, ~20 % into a run).
        _LEAKED_FDS.append(os.dup(self.fd))
        conn.pgconn.trace(_LEAKED_FDS[-1])
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def flush(self) -> None:
        """libpq writes the trace through a buffered stream; PQuntrace flushes it. Without this a
        count read mid-stream misses what is still buffered and the turn across the cut."""
        self.conns = [c for c in self.conns if not c.closed]
        for conn in self.conns:
            conn.pgconn.untrace()
            self._trace(conn)

    def round_trips(self) -> int:
        """Round trips since the previous call."""
        self.flush()
        lines = self.path.read_text().splitlines()[self.mark :]
        self.mark += len(lines)
        directions = [line[0] for line in lines if line[:1] in {"F", "B"}]
        return sum(1 for a, b in itertools.pairwise(directions) if a == "F" and b == "B")

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)
