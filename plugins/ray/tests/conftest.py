"""Fixtures: a flytekit + flytekitplugins-ray virtualenv (built with uv on first use, kept in pytest's cache), and
a check that no local Ray runtime outlives the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import runtime_processes
from runtime_processes import foreign_runtime_sessions

from roost_core.testing.driver import wait_until
from roost_core.testing.virtualenv import (
    VirtualenvBuildError,
    cached_virtualenv,
    kept_folder,
    requirements_key,
)
from roost_ray.runtime import session_processes, started_sessions

FLYTEKIT_REQUIREMENTS = ("flytekit==1.16.31", "flytekitplugins-ray==1.16.31", "kubernetes>=30,<37")
DEFAULT_IMAGE = "from flytekit.configuration import DefaultImages; print(DefaultImages.default_image())"


def pytest_configure(config: pytest.Config) -> None:
    """On a pytest-xdist worker, the worker and the processes the tests start get a temporary folder of the
    worker's own (``TMPDIR``, where local Ray runtimes put theirs), so the checks that no runtime was left running
    look only at this worker's runtimes, and what is left goes with the worker. The name is short: Ray's socket
    paths under it must stay below 108 bytes."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        folder = tempfile.mkdtemp(prefix=f"{worker}-")
        # tempfile read TMPDIR once already: the runtimes this process starts go there too.
        os.environ["TMPDIR"] = tempfile.tempdir = runtime_processes.worker_tmp = folder


LOCAL_CHECKS_LEFT_TO_EXHAUSTIVE = {
    "test_handle_is_idempotent",
    "test_finalize_is_idempotent",
    "test_state_round_trips_through_json",
    "test_restart_reattaches_without_a_second_submission",
}
"""Checks of ``ray-local``'s conformance suite CI leaves to `-m exhaustive` (about 40 s each here, a Ray runtime
started and stopped): CI runs the rest of the suite, and test_local_handler.py shows a driver re-attached by the
next engine."""


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark :data:`LOCAL_CHECKS_LEFT_TO_EXHAUSTIVE` exhaustive."""
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.cls is not None
            and item.cls.__name__ == "TestRayLocalConformance"
            and item.originalname in LOCAL_CHECKS_LEFT_TO_EXHAUSTIVE
        ):
            item.add_marker(pytest.mark.exhaustive)


def pytest_unconfigure(config: pytest.Config) -> None:
    if runtime_processes.worker_tmp:
        shutil.rmtree(runtime_processes.worker_tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def flytekit_venv(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtualenv holding flytekit and flytekitplugins-ray 1.16.31."""
    name = f"ray-flytekit-venv-{requirements_key(FLYTEKIT_REQUIREMENTS)}"
    folder = kept_folder(pytestconfig, tmp_path_factory.mktemp, name)
    try:
        return cached_virtualenv(folder, FLYTEKIT_REQUIREMENTS)
    except VirtualenvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def flytekit_image(flytekit_venv: Path) -> str:
    """The image flytekit registers its tasks with (what ``image_environments`` maps to the virtualenv)."""
    asked = [str(flytekit_venv / "bin" / "python"), "-c", DEFAULT_IMAGE]
    return subprocess.run(asked, capture_output=True, text=True, timeout=120, check=True).stdout.strip()


@pytest.fixture(autouse=True, scope="session")
def no_runtime_left() -> Iterator[None]:
    """Every local Ray runtime the tests started, or a `roost start` or `roost run` they started did, is gone
    when they end."""
    before = foreign_runtime_sessions()
    yield
    from roost_ray import driver

    driver.close_local_runtimes()
    left = {session: session_processes(session) for session in started_sessions()}
    left = {session: pids for session, pids in left.items() if pids}
    assert not left, f"processes of local Ray runtimes were left running (session: pids): {left}"
    # Other processes' pools stop their runtimes as those processes end, which may take a moment.
    wait_until(
        lambda: not foreign_runtime_sessions() - before,
        "the Ray runtimes of roost processes the tests started to end",
        timeout=30,
    )
