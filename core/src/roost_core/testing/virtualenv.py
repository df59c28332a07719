"""A virtualenv with pinned requirements, built once with uv and reused: for tests that run another tool
(flytekit) in its own interpreter. ``uv`` must be installed (imported only when a build is needed)."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from roost_core.errors import RoostError

BUILD_TIMEOUT = 900.0
_DONE = "installed"


class VirtualenvBuildError(RoostError):
    """Building the virtualenv failed; the message holds the command and its output."""


def requirements_key(requirements: Sequence[str]) -> str:
    """A short key naming the requirements and this Python version (for the folder the virtualenv lives in)."""
    text = " ".join([*requirements, f"python{sys.version_info.major}.{sys.version_info.minor}"])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_virtualenv(folder: Path, requirements: Sequence[str]) -> Path:
    """The folder of a virtualenv under ``folder`` holding ``requirements``, built on first use.

    A marker written after the install says the build finished, so an interrupted build is redone. A lock
    on the folder makes concurrent test processes (pytest-xdist workers) wait for one build instead of racing.
    """
    venv = folder / "venv"
    done = folder / _DONE
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            _build(venv, requirements)
            done.write_text("\n".join(requirements))
    return venv


def _build(venv: Path, requirements: Sequence[str]) -> None:
    import uv

    uv_bin = uv.find_uv_bin()
    python = str(venv / "bin" / "python")
    for command in (
        [uv_bin, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
        [uv_bin, "pip", "install", "--quiet", "--python", python, *requirements],
    ):
        run = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
        if run.returncode != 0:
            raise VirtualenvBuildError(
                f"building the virtualenv {venv} failed: {' '.join(command)}\n{run.stdout}\n{run.stderr}"
            )


def kept_folder(pytestconfig: object, mktemp: Callable[[str], Path], name: str) -> Path:
    """``name`` in pytest's cache folder (kept between runs), or a temporary folder when the cache is off."""
    cache = getattr(pytestconfig, "cache", None)
    return Path(cache.mkdir(name)) if cache is not None else mktemp(name)
