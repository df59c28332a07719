"""A virtualenv with a real flytekit, for the end-to-end tests that drive Roost with flytekit.

It is built with uv on first use and kept in pytest's cache folder, keyed by the requirements and the
Python version, so later runs reuse it (with the cache disabled it is built in a temporary folder).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from roost_core.testing.virtualenv import (
    VirtualenvBuildError,
    cached_virtualenv,
    kept_folder,
    requirements_key,
)

FLYTEKIT = "flytekit==1.16.31"
REQUIREMENTS = (FLYTEKIT,)
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
    name = f"e2e-flytekit-venv-{requirements_key(REQUIREMENTS)}"
    folder = kept_folder(pytestconfig, tmp_path_factory.mktemp, name)
    try:
        venv = cached_virtualenv(folder, REQUIREMENTS)
    except VirtualenvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    image = folder / "default-image"
    if not image.exists():
        asked = [str(venv / "bin" / "python"), "-c", DEFAULT_IMAGE]
        image.write_text(
            subprocess.run(asked, capture_output=True, text=True, timeout=120, check=True).stdout.strip()
        )
    return FlytekitEnv(venv, image.read_text())
