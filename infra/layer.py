"""The shared ``core`` layer, built at synth time without Docker.

The layer holds ``python/rmm_alerts`` (the core package, copied from ``layers/core``) and the
runtime dependencies locked in ``requirements/layer.txt`` (exact versions and file hashes, made
by ``scripts/lock`` from ``[project].dependencies``), installed by pip with ``--require-hashes``
for the Lambda runtime's Python version and architecture from manylinux wheels only
(``--only-binary=:all:``), so no compiler and no Docker are needed whatever the build machine.

The pip step is the slow part: its result is cached under ``.layer-cache/deps-<hash>/``, keyed
by the lock's resolved set and the target platform. The asset hash (what CloudFormation sees)
covers that key and the core package's source, so a code change ships a new layer version
without re-running pip, and a new release of a dependency changes nothing until it is locked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra import constants as c
from infra.lockfile import LAYER_LOCK, lock_digest
from infra.stack_config import LayerBuild

_IGNORED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class LayerTarget:
    """The interpreter and platform that the layer's wheels are chosen for."""

    python_version: str = c.RUNTIME_PYTHON_VERSION
    platforms: tuple[str, ...] = c.LAYER_PLATFORMS
    implementation: str = "cp"

    def pip_args(self) -> list[str]:
        args: list[str] = []
        for platform in self.platforms:
            args += ["--platform", platform]
        return [*args, "--implementation", self.implementation, "--python-version", self.python_version]


LAMBDA_TARGET = LayerTarget()


def runtime_dependencies(pyproject: Path = c.PYPROJECT) -> list[str]:
    """The requirement strings of ``[project].dependencies``: exactly what the layer ships."""
    with pyproject.open("rb") as fh:
        data: dict[str, Any] = tomllib.load(fh)
    deps = data.get("project", {}).get("dependencies")
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ValueError(f"{pyproject}: [project].dependencies must be a list of strings")
    return [str(d) for d in deps]


def _files(root: Path) -> Iterable[Path]:
    if not root.exists():
        return []
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not _IGNORED_DIRS.intersection(p.relative_to(root).parts)
        and not p.name.endswith(_IGNORED_SUFFIXES)
        and not any(part.endswith(".egg-info") for part in p.relative_to(root).parts)
    )


def tree_hash(root: Path, pattern: str | None = None) -> str:
    """sha256 over the relative paths and contents of the files under ``root``."""
    digest = hashlib.sha256()
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        if pattern is not None and not path.match(pattern):
            continue
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def migrations_hash(migrations_dir: Path = c.MIGRATIONS_DIR) -> str:
    """sha256 of ``migrations/*.sql``: part of the migration trigger, so a change re-runs it."""
    digest = hashlib.sha256()
    for path in sorted(migrations_dir.glob("*.sql")) if migrations_dir.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


_PIP_FLAGS = ("--only-binary=:all:", "--require-hashes", "--no-deps")


def deps_key(locked: str, target: LayerTarget) -> str:
    """Cache key of the pip step: the lock's resolved set (``lock_digest``), the target and the pip flags."""
    payload = {"lock": locked, "pip": [*_PIP_FLAGS, *target.pip_args()], "v": 2}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def pip_install(lock: Path, target: LayerTarget, dest: Path) -> None:
    """``pip install --target dest -r lock`` for ``target``: binary wheels only, every file hash-checked.

    ``--no-deps``: the lock is the whole closure; pip must not resolve anything beyond it.
    """
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--target", str(dest),
        *target.pip_args(),
        *_PIP_FLAGS,
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--requirement", str(lock),
    ]  # fmt: skip
    print(f"[layer] {' '.join(cmd)}", file=sys.stderr)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"pip could not build the layer for Python {target.python_version} {target.platforms}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def cached_dependencies(lock: Path, target: LayerTarget, cache_dir: Path) -> Path:
    """The installed dependencies (a ``python/`` tree), built once per cache key."""
    final = cache_dir / f"deps-{deps_key(lock_digest(lock), target)}"
    if (final / "python").is_dir():
        return final / "python"
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=cache_dir))
    try:
        pip_install(lock, target, work / "python")
        shutil.rmtree(work / "python" / "bin", ignore_errors=True)  # console scripts: not importable
        (work / "inputs.json").write_text(json.dumps({"lock": lock_digest(lock), "target": target.pip_args()}))
        try:
            work.rename(final)
        except OSError:  # another build finished first: use its result
            if not (final / "python").is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final / "python"


def _copy_core(core_dir: Path, dest_python: Path) -> None:
    shutil.copytree(
        core_dir,
        dest_python / core_dir.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info"),
        dirs_exist_ok=True,
    )


def build_layer(
    out_dir: Path,
    *,
    target: LayerTarget = LAMBDA_TARGET,
    cache_dir: Path | None = None,
    lock: Path = LAYER_LOCK,
    core_dir: Path = c.CORE_PACKAGE_DIR,
) -> None:
    """Write the layer tree into ``out_dir``: ``python/<deps>`` and ``python/rmm_alerts``."""
    python = out_dir / "python"
    python.mkdir(parents=True, exist_ok=True)
    deps_tree = cached_dependencies(lock, target, cache_dir or layer_cache_dir())
    shutil.copytree(deps_tree, python, dirs_exist_ok=True)
    _copy_core(core_dir, python)


def layer_cache_dir() -> Path:
    """Where pip results are cached (``RMM_ALERTS_LAYER_CACHE`` overrides ``.layer-cache/``)."""
    override = os.environ.get("RMM_ALERTS_LAYER_CACHE")
    return Path(override) if override else c.LAYER_CACHE_DIR


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """Local bundling with pip (no Docker): what ``cdk synth``/``cdk deploy`` use.

    A plain class (not a dataclass): jsii must pass it to CDK by reference.
    """

    def __init__(
        self,
        *,
        target: LayerTarget = LAMBDA_TARGET,
        cache_dir: Path | None = None,
        lock: Path = LAYER_LOCK,
        core_dir: Path = c.CORE_PACKAGE_DIR,
    ) -> None:
        self.target = target
        self.cache_dir = cache_dir
        self.lock = lock
        self.core_dir = core_dir

    def try_bundle(self, output_dir: str, *_options: Any, **_kw_options: Any) -> bool:
        build_layer(
            Path(output_dir), target=self.target, cache_dir=self.cache_dir, lock=self.lock, core_dir=self.core_dir
        )
        return True


@jsii.implements(ILocalBundling)
class StubLayerBundling:
    """Only the core package, no third-party wheels: for synth tests (``layerBuild=stub``), never deploys."""

    def __init__(self, core_dir: Path = c.CORE_PACKAGE_DIR) -> None:
        self.core_dir = core_dir

    def try_bundle(self, output_dir: str, *_options: Any, **_kw_options: Any) -> bool:
        python = Path(output_dir) / "python"
        python.mkdir(parents=True, exist_ok=True)
        _copy_core(self.core_dir, python)
        return True


def layer_asset_hash(build: LayerBuild, lock: Path = LAYER_LOCK, target: LayerTarget = LAMBDA_TARGET) -> str:
    """Hash of everything that goes into the layer: the locked versions and hashes, the target,
    the core source and the build mode (never the version ranges of pyproject.toml)."""
    parts = [build, deps_key(lock_digest(lock), target), tree_hash(c.CORE_PACKAGE_DIR)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def layer_code(build: LayerBuild) -> lambda_.Code:
    """The layer's code asset, bundled locally at synth time."""
    local: ILocalBundling = StubLayerBundling() if build == "stub" else PipLayerBundling()
    return lambda_.Code.from_asset(
        str(c.CORE_LAYER_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=layer_asset_hash(build),
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds or raises. CDK requires an image.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python" + c.RUNTIME_PYTHON_VERSION),
            local=local,
        ),
    )
