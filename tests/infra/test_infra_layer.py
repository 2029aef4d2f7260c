"""The locks and the layer build, the way ``cdk synth`` runs it: pip with target platform wheels
from the hash-checked lock, no Docker.

These tests download wheels from PyPI (pip's cache makes reruns quick).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra import constants as c
from infra.layer import LAMBDA_TARGET, LayerTarget, PipLayerBundling, deps_key, layer_asset_hash, runtime_dependencies
from infra.lockfile import DEV_LOCK, LAYER_LOCK, lock_digest, normalize, parse, stale


def test_runtime_dependencies_come_from_pyproject() -> None:
    with c.PYPROJECT.open("rb") as fh:
        declared = tomllib.load(fh)["project"]["dependencies"]
    assert runtime_dependencies() == declared
    assert any(d.startswith("pydantic") for d in declared)


def test_layer_target_matches_the_lambda_runtime() -> None:
    assert c.RUNTIME.name == f"python{c.RUNTIME_PYTHON_VERSION}"
    assert c.ARCHITECTURE.name == "arm64" and c.RUNTIME_MACHINE == "aarch64"
    assert all(p.endswith("_aarch64") for p in LAMBDA_TARGET.platforms)
    assert LAMBDA_TARGET.python_version == c.RUNTIME_PYTHON_VERSION


def test_cache_key_depends_on_the_lock_and_the_target() -> None:
    locked = lock_digest(LAYER_LOCK)
    key = deps_key(locked, LAMBDA_TARGET)
    assert key == deps_key(locked, LAMBDA_TARGET)
    assert key != deps_key(lock_digest(DEV_LOCK), LAMBDA_TARGET)
    assert key != deps_key(locked, LayerTarget(python_version="3.12"))


def write_lock(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


def test_layer_asset_hash_follows_resolved_versions_and_hashes_not_ranges_or_layout(tmp_path: Path) -> None:
    h1 = "sha256:" + "1" * 64
    h2 = "sha256:" + "2" * 64
    base = write_lock(
        tmp_path / "a.txt",
        f"""\
        # comment
        six==1.17.0 \\
            --hash={h1} \\
            --hash={h2}
            # via x
        """,
    )
    # The same pins and hashes, laid out and commented differently: the same layer.
    relaid = write_lock(tmp_path / "b.txt", f"six==1.17.0 --hash={h2} --hash={h1}\n")
    other_version = write_lock(tmp_path / "c.txt", f"six==1.16.0 --hash={h1} --hash={h2}\n")
    other_hash = write_lock(tmp_path / "d.txt", f"six==1.17.0 --hash={h1}\n")
    assert layer_asset_hash("pip", base) == layer_asset_hash("pip", relaid)
    assert len({layer_asset_hash("pip", p) for p in (base, other_version, other_hash)}) == 3
    assert layer_asset_hash("pip", base) != layer_asset_hash("stub", base)


def test_an_unhashed_or_unpinned_lock_line_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no --hash"):
        parse(write_lock(tmp_path / "a.txt", "six==1.17.0\n"))
    with pytest.raises(ValueError, match="not a pinned requirement"):
        parse(write_lock(tmp_path / "b.txt", "six>=1 --hash=sha256:" + "1" * 64 + "\n"))


def test_the_locks_pin_with_hashes_every_dependency_of_pyproject() -> None:
    """A dependency added to pyproject.toml without `scripts/lock` fails here (and in scripts/bootstrap)."""
    assert stale() == [], "run scripts/lock"
    with c.PYPROJECT.open("rb") as fh:
        project = tomllib.load(fh)["project"]
    dev = {p.name: p for p in parse(DEV_LOCK)}
    layer = {p.name: p for p in parse(LAYER_LOCK)}
    self_name = normalize(project["name"])
    runtime = [Requirement(r) for r in project["dependencies"]]
    everything = runtime + [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    for req in everything:
        if normalize(req.name) == self_name:
            continue
        pin = dev[normalize(req.name)]
        assert req.specifier.contains(pin.version, prereleases=True), (req, pin.version)
        assert pin.hashes
    for req in runtime:
        pin = layer[normalize(req.name)]
        assert req.specifier.contains(pin.version, prereleases=True), (req, pin.version)
        # The layer ships exactly the versions the tests run with.
        assert dev[pin.name].version == pin.version, pin.name
    assert not [p for p in layer.values() if p.marker], "the layer lock is for one platform: no markers"


def test_cdk_library_and_rule_packs_are_pinned_exactly() -> None:
    with c.PYPROJECT.open("rb") as fh:
        dev = tomllib.load(fh)["project"]["optional-dependencies"]["dev"]
    pinned = {Requirement(r).name: str(Requirement(r).specifier) for r in dev}
    assert pinned["aws-cdk-lib"].startswith("==") and pinned["cdk-nag"].startswith("==")


def shared_objects(root: Path) -> list[Path]:
    return sorted(root.rglob("*.so")) + sorted(root.rglob("*.so.*"))


@pytest.fixture(scope="module")
def lambda_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer built for the Lambda runtime (Python 3.13, arm64) by the bundler cdk synth uses."""
    cache = tmp_path_factory.mktemp("layer-cache")
    out = tmp_path_factory.mktemp("layer")
    assert PipLayerBundling(cache_dir=cache).try_bundle(str(out)) is True
    # A second bundle reuses the cached pip result.
    again = tmp_path_factory.mktemp("layer-again")
    assert PipLayerBundling(cache_dir=cache).try_bundle(str(again)) is True
    assert len([p for p in cache.iterdir() if p.name.startswith("deps-")]) == 1
    assert not [p for p in cache.iterdir() if p.name.startswith("build-")]
    assert sorted(p.name for p in (again / "python").iterdir()) == sorted(p.name for p in (out / "python").iterdir())
    return out


def test_lambda_layer_holds_the_core_package(lambda_layer: Path) -> None:
    package = lambda_layer / "python" / "rmm_alerts"
    assert (package / "__init__.py").is_file()
    assert (package / "config.py").is_file()
    source = {p.relative_to(c.CORE_PACKAGE_DIR) for p in c.CORE_PACKAGE_DIR.rglob("*.sql")}
    assert source == {p.relative_to(package) for p in package.rglob("*.sql")}
    assert not list(package.rglob("__pycache__"))
    assert not (lambda_layer / "python" / "bin").exists()


def test_lambda_layer_wheels_are_for_cpython_313_on_aarch64(lambda_layer: Path) -> None:
    python = lambda_layer / "python"
    tag = f"cpython-{c.RUNTIME_PYTHON_VERSION.replace('.', '')}-aarch64-linux-gnu"
    assert list((python / "pydantic_core").glob(f"_pydantic_core.{tag}.so"))
    assert list(python.glob(f"_re2.{tag}.so")) or list((python / "re2").glob(f"*.{tag}.so"))
    assert list((python / "psycopg_binary").glob(f"*.{tag}.so"))
    for so in shared_objects(python):
        assert "x86_64" not in so.name and "cpython-311" not in so.name, so
        if "cpython-" in so.name:
            assert tag in so.name, so
    wheels = (python / "pydantic_core-*.dist-info").as_posix()
    (wheel_file,) = [p / "WHEEL" for p in python.glob(Path(wheels).name)]
    assert "aarch64" in wheel_file.read_text()


def this_machine_target() -> LayerTarget:
    machine = platform.machine()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return LayerTarget(python_version=version, platforms=(f"manylinux2014_{machine}", f"manylinux_2_28_{machine}"))


def test_layer_built_for_this_machine_imports_without_the_virtualenv(tmp_path: Path) -> None:
    out = tmp_path / "layer"
    assert PipLayerBundling(target=this_machine_target(), cache_dir=tmp_path / "cache").try_bundle(str(out))
    python = out / "python"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(python)!r})
        assert not any("site-packages" in p for p in sys.path), sys.path
        import rmm_alerts, rmm_alerts.config, pydantic, pydantic_core, psycopg, psycopg_pool, re2, httpx
        import aws_lambda_powertools, boto3
        from psycopg import pq
        assert pq.__impl__ == "binary", pq.__impl__
        assert re2.search("a+", "baaa") is not None
        rmm_alerts.config.load(rmm_alerts.config.WebhookSettings,
                               {{"DB_HOST": "h", "DB_NAME": "n", "DB_SECRET_ARN": "arn"}})
        for module in (rmm_alerts, pydantic, pydantic_core, psycopg, re2, aws_lambda_powertools):
            assert module.__file__.startswith({str(python)!r}), module.__file__
        print("ok")
        """
    )
    # -I: isolated (no PYTHON* env, no user site); -S: no site-packages of the virtualenv.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_layer_lock_is_made_for_the_lambda_runtime() -> None:
    """scripts/lock resolves requirements/layer.txt for the runtime and architecture of the functions."""
    script = (c.REPO_ROOT / "scripts" / "lock").read_text()
    layer_line = script[script.index("compile requirements/layer.txt") :]
    assert f"--python-version {c.RUNTIME_PYTHON_VERSION}" in layer_line
    assert f"--python-platform {c.RUNTIME_MACHINE}-manylinux" in layer_line
    assert "--only-binary :all:" in layer_line
    assert "--constraint requirements/dev.txt" in layer_line
