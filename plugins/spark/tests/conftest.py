"""Fixtures of roost-spark's tests: flytekit's virtualenv (with flytekitplugins-spark), kept between runs."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from roost_core.testing.virtualenv import cached_virtualenv, kept_folder, requirements_key

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

FLYTEKIT_REQUIREMENTS = ("flytekit==1.16.31", "flytekitplugins-spark==1.16.31")


@pytest.fixture(scope="session")
def flytekit_venv(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with flytekit 1.16.31, flytekitplugins-spark 1.16.31, this session's pyspark and the
    kubernetes client (flytekit's pod templates need it), kept in pytest's cache folder between runs."""
    requirements = [
        *FLYTEKIT_REQUIREMENTS,
        f"pyspark=={importlib.metadata.version('pyspark')}",
        "pandas<3",
        "pyarrow>=15",
        "kubernetes>=30,<37",
    ]
    folder = kept_folder(
        pytestconfig, tmp_path_factory.mktemp, f"flytekit-spark-{requirements_key(requirements)}"
    )
    return cached_virtualenv(folder, requirements)
