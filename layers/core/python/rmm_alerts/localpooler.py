"""PgBouncer in front of a local PostgreSQL server, for tests and ``rmm-alerts dev``.

Transaction pooling with the default ``ignore_startup_parameters`` (none): it refuses startup
options and breaks on session state carried across transactions, as RDS Proxy refuses or pins
them. Every database of the server is reachable (a ``*`` fallback entry), and logins are checked
against the server's own password verifiers (``auth_query``), so a role's password set with
``ALTER ROLE`` works at once. Not used in AWS (the layer does not ship it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

ADMIN_USER = "pgbouncer_admin"


class PoolerError(RuntimeError):
    pass


def find_binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise PoolerError("pgbouncer is not installed (Debian: apt-get install pgbouncer; scripts/bootstrap does it)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class PgBouncer:
    """A running PgBouncer on 127.0.0.1; ``stop()`` (idempotent) shuts it down."""

    def __init__(self, server_uri: str, run_dir: Path, *, pool_size: int = 20) -> None:
        params = psycopg.conninfo.conninfo_to_dict(server_uri)
        host = str(params.get("host") or "127.0.0.1")
        server_port = str(params.get("port") or 5432)
        auth_user = str(params.get("user") or "postgres")
        self.port = _free_port()
        self.admin_password = os.urandom(12).hex()
        run_dir.mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o700)
        self.run_dir = run_dir
        self.log = run_dir / "pgbouncer.log"
        (run_dir / "users.txt").write_text(
            f"{_quote(auth_user)} {_quote(str(params.get('password') or ''))}\n"
            f"{_quote(ADMIN_USER)} {_quote(self.admin_password)}\n"
        )
        ini = run_dir / "pgbouncer.ini"
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={host} port={server_port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "pool_mode = transaction",
                    "auth_type = scram-sha-256",
                    f"auth_file = {run_dir / 'users.txt'}",
                    f"auth_user = {auth_user}",
                    f"admin_users = {ADMIN_USER}",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 1000",
                    # Fail fast rather than hang a test when the server is unreachable.
                    "query_wait_timeout = 30",
                    "server_login_retry = 1",
                    "log_connections = 0",
                    "log_disconnections = 0",
                    f"logfile = {self.log}",
                    f"pidfile = {run_dir / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        command = [find_binary()]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: run it as the owner of the server's socket directory
            # (the embedded server's system user), who can reach that socket.
            owner = Path(host).stat().st_uid if host.startswith("/") else pwd.getpwnam("nobody").pw_uid
            user = pwd.getpwuid(owner).pw_name
            for path in (run_dir, *run_dir.iterdir()):
                os.chown(path, owner, -1)
            command += ["-u", user]
        # PgBouncer also logs to stderr while in the foreground: into a file, never an unread pipe
        # (a full pipe would block it).
        with open(run_dir / "stderr.log", "wb") as err:
            self._proc = subprocess.Popen([*command, str(ini)], stdout=subprocess.DEVNULL, stderr=err)  # noqa: S603
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = (self.run_dir / "stderr.log").read_text(errors="replace").strip()
                raise PoolerError(f"pgbouncer exited: {err or self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise PoolerError(f"pgbouncer did not listen on {self.port}: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-10:])
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        return self._proc.pid

    def url(self, database: str, user: str, password: str) -> str:
        """A URL that logs in as ``user`` through the pooler."""
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1", port=str(self.port), dbname=database, user=user, password=password
        )

    def admin(self, command: str) -> None:
        """Run one command on PgBouncer's admin console (simple query protocol only)."""
        url = self.url("pgbouncer", ADMIN_USER, self.admin_password)
        with psycopg.connect(url, autocommit=True) as conn:
            result = conn.pgconn.exec_(command.encode())
            if result.status not in (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK):
                raise PoolerError(f"{command}: {(result.error_message or b'').decode()}")

    def drop_connections(self, database: str) -> None:
        """Drop every client and server connection to ``database``, as a proxy failover would."""
        self.admin(f"KILL {database}")
        self.admin(f"RESUME {database}")

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
