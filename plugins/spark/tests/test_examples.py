"""examples/spark_pipeline.py (Spark → pandas → Spark) with `roost run`, and on `roost start` with
`roost run --remote`, where the engine's spark handler runs its Spark tasks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost_admin.testing.server import RoostServer, run_roost, start_roost

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ARGUMENTS = ["spark_pipeline.py", "wf", "--rows", "20"]
ANSWER = {"o0": "customer 1: 770 cents"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    started = start_roost(tmp_path_factory.mktemp("roost-start"))
    yield started
    started.stop()


def test_roost_run(tmp_path: Path) -> None:
    env = {**os.environ, "ROOST_CACHE_DIR": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data")}
    ran = run_roost(env, "run", "--no-progress", "-o", "json", *ARGUMENTS, cwd=EXAMPLES)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == ANSWER


def test_roost_run_remote_on_roost_start(server: RoostServer, tmp_path: Path) -> None:
    env = server.client_env(tmp_path)
    ran = run_roost(env, "run", "--remote", "--wait", "--no-progress", "-o", "json", *ARGUMENTS, cwd=EXAMPLES)
    assert ran.returncode == 0, f"{ran.stderr}\n{server.log()}"
    assert json.loads(ran.stdout) == ANSWER
