"""`roost plugin new` for each kind: the generated package, unchanged, installs with pip beside the local
roost-core, roost, roost-admin and roost-k8s-pod, and its own tests pass (the conformance suite, its example
run with `roost run` and on `roost start`; the k8s kind's against roost-k8s-pod's Kubernetes API test server).
One virtual environment, built with uv, serves every kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roost.cli.scaffold import KINDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the local core, SDK, admin and Kubernetes toolkit installed (editable; the
    k8s kind depends on roost-k8s-pod, its tests on its testing extra)."""
    folder = tmp_path_factory.mktemp("plugin_new") / "venv"
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", "-p", sys.executable, str(folder)], check=True)
    packages = ("core", "sdk", "admin", "plugins/k8s_pod[testing]")
    local = [arg for package in packages for arg in ("-e", str(ROOT / package))]
    pip = [*uv, "pip", "install", "-q", "--python", str(folder / "bin" / "python")]
    subprocess.run([*pip, *local, "pytest>=8"], check=True)
    return folder


@pytest.mark.parametrize("kind", KINDS)
def test_a_generated_plugin_installs_and_passes_its_own_tests(venv: Path, tmp_path: Path, kind: str) -> None:
    name = f"scaffolded_{kind.replace('-', '_')}"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("roost")),
            "plugin",
            "new",
            name,
            "--kind",
            kind,
            "--dir",
            str(tmp_path),
        ],
        check=True,
    )
    package = tmp_path / f"roost-{name.replace('_', '-')}"
    pip = [sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    subprocess.run([*pip, f"{package}[test]"], check=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ROOST_", "VIRTUAL_ENV"))}
    result = subprocess.run(
        [str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        f"the generated {kind} plugin's tests failed:\n{result.stdout}\n{result.stderr}"
    )
    assert " passed" in result.stdout and "failed" not in result.stdout
