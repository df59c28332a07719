"""Fixtures of roost-mpi's tests: a flytekit virtualenv with flytekitplugins-kfmpi (and the same Open MPI and
mpi4py as this one, so flytekit's MPI tasks run under this machine's mpirun)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from roost_core.testing.virtualenv import (
    VirtualenvBuildError,
    cached_virtualenv,
    kept_folder,
    requirements_key,
)

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

FLYTEKIT_REQUIREMENTS = ("flytekit==1.16.31", "flytekitplugins-kfmpi==1.16.31")


def flytekit_requirements() -> list[str]:
    """flytekit, its MPI plugin, and this environment's Open MPI and mpi4py."""
    return [
        *FLYTEKIT_REQUIREMENTS,
        *(f"{name}=={importlib.metadata.version(name)}" for name in ("openmpi", "mpi4py")),
    ]


@pytest.fixture(scope="session")
def flytekit_venv(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a virtualenv with flytekit 1.16.31 and flytekitplugins-kfmpi, kept between runs."""
    requirements = flytekit_requirements()
    name = f"mpi-flytekit-venv-{requirements_key(requirements)}"
    folder = kept_folder(pytestconfig, tmp_path_factory.mktemp, name)
    try:
        return cached_virtualenv(folder, requirements)
    except VirtualenvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
