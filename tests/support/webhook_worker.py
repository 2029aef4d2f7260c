"""Webhook workers as separate processes, the way Lambda runs concurrent deliveries.

In AWS each concurrent webhook delivery is its own Lambda instance: its own interpreter, its own
process-wide connection pool, one alert at a time. Threads in one process share one interpreter
(its GIL bounds the Python work of all of them) and one pool, so they measure contention, not
scale. :func:`process_workers` starts ``n`` fresh interpreters that each import the real NinjaOne
webhook handler (``functions/webhook_ninjaone/handler.py``) with the parent's environment (its
``DATABASE_URL``: the same PgBouncer), open the handler's own pool (default size, as in Lambda),
and then answer one delivery at a time: the parent sends a body, the worker builds the API Gateway
REST event (``tests/support/apigw.py``, signed with the webhook secret), calls ``handler(event,
context)`` and sends back the status and the JSON answer. Each worker is a
:data:`tests.support.storm.Call`, so :func:`tests.support.storm.run_storm` drives them as it
drives threads.

Protocol: one JSON line per request on the worker's stdin, ``{"integration": id, "body": {...}}``,
one JSON line per answer, ``[status, answer, seconds in the handler]``, on a pipe that is not stdout (the handler's
Logger and Metrics print to stdout, which goes to /dev/null as in the benchmark's own process).
Run as ``python -m tests.support.webhook_worker FD`` with the webhook secret in ``WEBHOOK_WORKER_SECRET``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent.parent
LAYER_PYTHON = ROOT / "layers" / "core" / "python"

Call = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
SECRET_ENV = "WEBHOOK_WORKER_SECRET"


class ProcessWorker:
    """The parent's end of one worker process; calling it delivers one body and waits."""

    def __init__(self, secret: str, env: dict[str, str]) -> None:
        out_r, out_w = os.pipe()
        self.integration = ""
        self.handler_s = 0.0  # the last call's time in the handler, measured in the worker
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.webhook_worker", str(out_w)],
            cwd=ROOT,
            env={**env, SECRET_ENV: secret},  # not on the command line, where ps shows it
            stdin=subprocess.PIPE,
            pass_fds=(out_w,),
            text=True,
        )
        os.close(out_w)
        assert self._proc.stdin is not None
        self._send: IO[str] = self._proc.stdin
        self._recv: IO[str] = os.fdopen(out_r, "r")

    def request(self, message: dict[str, Any]) -> Any:
        self._send.write(json.dumps(message) + "\n")
        self._send.flush()
        line = self._recv.readline()
        if not line:
            raise RuntimeError(f"webhook worker exited (code {self._proc.poll()})")
        return json.loads(line)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def ready(self) -> None:
        """Wait until the worker has imported the handler and opened its pool."""
        if self.request({"ready": True}) != "ready":
            raise RuntimeError("webhook worker did not start")

    def __call__(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, answer, self.handler_s = self.request({"integration": self.integration, "body": body})
        return int(status), answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._recv.close()


@contextlib.contextmanager
def process_workers(
    n: int, secret: str, *, env: dict[str, str] | None = None, metrics: bool = True
) -> Iterator[list[ProcessWorker]]:
    """``n`` worker processes, started and warm (handler imported, pool open, one 404 served).
    Set each worker's ``integration`` before delivering. ``metrics``: each process has its own
    metrics provider, as each Lambda instance does, so they can stay on (EMF lines to /dev/null)."""
    child_env = dict(os.environ if env is None else env)
    if metrics:
        child_env.pop("POWERTOOLS_METRICS_DISABLED", None)
    else:
        child_env["POWERTOOLS_METRICS_DISABLED"] = "true"
    child_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(LAYER_PYTHON), child_env.get("PYTHONPATH", "")])
    workers: list[ProcessWorker] = []
    try:
        for _ in range(n):
            workers.append(ProcessWorker(secret, child_env))
        for w in workers:  # started in parallel above; now wait for each
            w.ready()
        yield workers
    finally:
        for w in workers:
            w.close()


def _serve(secret: str, out: IO[str]) -> None:
    from functions.webhook_ninjaone import handler as ninja
    from rmm_alerts import config, db
    from tests.support.apigw import FakeContext, response_json, webhook_event

    context = FakeContext()

    def call(integration: str, body: Any) -> list[Any]:
        started = time.perf_counter()
        response = ninja.handler(webhook_event("ninjaone", integration, body, secret=secret), context)
        return [int(response["statusCode"]), response_json(response), time.perf_counter() - started]

    for line in sys.stdin:
        message = json.loads(line)
        if message.get("ready"):
            db.get_pool(config.cached(config.WebhookSettings)).wait(timeout=30)
            call(str(uuid.uuid4()), {})  # warm: resolver, logger, metrics, the lookup (a 404)
            answer: Any = "ready"
        else:
            answer = call(message["integration"], message["body"])
        out.write(json.dumps(answer) + "\n")
        out.flush()


def main() -> None:
    secret, fd = os.environ.pop(SECRET_ENV), int(sys.argv[1])
    out = os.fdopen(fd, "w")
    # The handler's Logger and Metrics print to stdout: drop it, as the benchmark's own process does.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    _serve(secret, out)


if __name__ == "__main__":
    main()
