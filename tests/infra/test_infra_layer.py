"""The layer build, the way ``cdk synth`` runs it: pip with target platform wheels, no Docker.

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

from infra import constants as c
from infra.layer import LAMBDA_TARGET, LayerTarget, PipLayerBundling, deps_key, runtime_dependencies


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


def test_cache_key_depends_on_dependencies_and_target() -> None:
    deps = runtime_dependencies()
    key = deps_key(deps, LAMBDA_TARGET)
    assert key == deps_key(list(reversed(deps)), LAMBDA_TARGET)
    assert key != deps_key([*deps, "six"], LAMBDA_TARGET)
    assert key != deps_key(deps, LayerTarget(python_version="3.12"))


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
