"""A virtualenv with a real flytekit, for the end-to-end tests that drive Roost with flytekit.

It is built with uv on first use and kept in pytest's cache folder, keyed by the requirements and the
Python version, so later runs reuse it (with the cache disabled it is built in a temporary folder).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FLYTEKIT = "flytekit==1.16.31"
REQUIREMENTS = (FLYTEKIT,)
BUILD_TIMEOUT = 900
DEFAULT_IMAGE = "from flytekit.configuration import DefaultImages; print(DefaultImages.default_image())"


@dataclass(frozen=True)
class FlytekitEnv:
    """A virtualenv holding flytekit."""

    folder: Path
    default_image: str
    """``DefaultImages.default_image()``: the image flytekit registers tasks with unless told otherwise
    (``cr.flyte.org/flyteorg/flytekit:py3.11-1.16.31``)."""

    @property
    def python(self) -> str:
        """Its interpreter."""
        return str(self.folder / "bin" / "python")

    def tool(self, name: str) -> str:
        """One of its console scripts (``pyflyte``)."""
        return str(self.folder / "bin" / name)


@pytest.fixture(scope="session")
def flytekit_env(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> FlytekitEnv:
    """The flytekit virtualenv, built with uv on first use."""
    import uv

    key_text = " ".join([*REQUIREMENTS, f"python{sys.version_info.major}.{sys.version_info.minor}"])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir(f"e2e-flytekit-venv-{key}") if cache else tmp_path_factory.mktemp("flytekit-venv")
    venv = folder / "venv"
    done = folder / "default-image"
    if not done.exists():
        uv_bin = uv.find_uv_bin()
        commands = [
            [uv_bin, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
            [uv_bin, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *REQUIREMENTS],
            [str(venv / "bin" / "python"), "-c", DEFAULT_IMAGE],
        ]
        for command in commands:
            run = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
            if run.returncode != 0:
                pytest.fail(
                    f"building flytekit's virtualenv failed: {' '.join(command)}\n{run.stdout}\n{run.stderr}",
                    pytrace=False,
                )
        # Written last: its presence says the virtualenv is complete.
        done.write_text(run.stdout.strip())
    return FlytekitEnv(venv, done.read_text())
