"""The dependency locks (``requirements/*.txt``): what they were made from, and what they pin.

Standard library only: ``scripts/bootstrap`` runs this with the system Python before the
virtualenv exists (``python3 -m infra.lockfile check``).

- ``requirements/dev.txt``: every dependency of ``.[dev]`` for any platform (``uv pip compile
  --universal --generate-hashes``); ``scripts/bootstrap`` installs it with ``--require-hashes``.
- ``requirements/local.txt``: only ``.[local]`` (runtime + embedded PostgreSQL: what ``rmm-alerts
  dev`` imports), any platform, constrained to the versions of ``dev.txt``; ``scripts/bootstrap
  --local`` (run by ``scripts/dev``) installs it, so a first run skips the test and CDK tooling.
- ``requirements/layer.txt``: ``[project].dependencies`` resolved for the Lambda runtime (Python
  3.13 on arm64, binary wheels only), constrained to the versions of ``dev.txt``; the layer is
  built from it, and its asset hash is taken from the pinned versions and hashes.

Each lock starts with ``# inputs-sha256: <hash>`` of the dependency sections of
``pyproject.toml``; a lock whose hash differs is stale (``scripts/lock`` regenerates them all).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
REQUIREMENTS_DIR = REPO_ROOT / "requirements"
DEV_LOCK = REQUIREMENTS_DIR / "dev.txt"
LAYER_LOCK = REQUIREMENTS_DIR / "layer.txt"
LOCAL_LOCK = REQUIREMENTS_DIR / "local.txt"
LOCKS = (DEV_LOCK, LOCAL_LOCK, LAYER_LOCK)
INPUTS_PREFIX = "# inputs-sha256: "

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;]+)\s*(?:;(?P<marker>.*?))?\s*$"
)
_HASH = re.compile(r"--hash=(?P<hash>sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    """One locked requirement: ``name==version ; marker`` and the hashes of its files."""

    name: str
    version: str
    marker: str
    hashes: tuple[str, ...]


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def inputs_hash(pyproject: Path = PYPROJECT) -> str:
    """sha256 of what the locks are made from: the dependency sections of ``pyproject.toml``."""
    with pyproject.open("rb") as fh:
        data: dict[str, Any] = tomllib.load(fh)
    project = data.get("project", {})
    inputs = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system": data.get("build-system", {}).get("requires", []),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded_inputs_hash(lock: Path) -> str | None:
    """The ``# inputs-sha256:`` line of ``lock`` (None when absent)."""
    for line in lock.read_text().splitlines():
        if line.startswith(INPUTS_PREFIX):
            return line.removeprefix(INPUTS_PREFIX).strip()
    return None


def parse(lock: Path) -> list[Pin]:
    """The pins of a ``--generate-hashes`` requirements file (continuation lines joined)."""
    text = lock.read_text().replace("\\\n", " ")
    pins: list[Pin] = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line.split(" --hash=", 1)[0].strip())
        if match is None:
            raise ValueError(f"{lock}: not a pinned requirement: {line[:80]!r}")
        hashes = tuple(sorted(h.group("hash") for h in _HASH.finditer(line)))
        if not hashes:
            raise ValueError(f"{lock}: {match.group('name')} has no --hash")
        marker = (match.group("marker") or "").strip()
        pins.append(Pin(normalize(match.group("name")), match.group("version"), marker, hashes))
    return pins


def lock_digest(lock: Path) -> str:
    """sha256 of the resolved set (names, versions, markers, hashes), independent of layout and comments."""
    entries = sorted(f"{p.name}=={p.version};{p.marker};{','.join(p.hashes)}" for p in parse(lock))
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def stale(locks: tuple[Path, ...] = LOCKS, pyproject: Path = PYPROJECT) -> list[str]:
    """Why the locks cannot be used as they are (empty: they match ``pyproject.toml``)."""
    expected = inputs_hash(pyproject)
    problems = []
    for lock in locks:
        if not lock.is_file():
            problems.append(f"{lock.relative_to(REPO_ROOT)} is missing")
        elif recorded_inputs_hash(lock) != expected:
            problems.append(f"{lock.relative_to(REPO_ROOT)} was made from another pyproject.toml")
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "inputs-hash":
        print(inputs_hash())
        return 0
    if command == "check":
        problems = stale()
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            print(
                "error: the dependency locks are out of date: run scripts/lock and commit requirements/",
                file=sys.stderr,
            )
            return 1
        return 0
    print(f"usage: {argv[0]} [check|inputs-hash]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
