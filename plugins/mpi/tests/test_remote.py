"""MPI tasks on `roost start`: the example, sent with `roost run --remote`, runs through the mpi-local handler
(the default for `mpi` on a server too) and gives the same answer as locally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_examples import EXAMPLES, RUNS

from roost_admin.testing.server import RoostServer, run_roost, start_roost


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RoostServer]:
    started = start_roost(tmp_path / "server")
    yield started
    started.stop()


def test_example_runs_on_roost_start(server: RoostServer, tmp_path: Path) -> None:
    args, answer = RUNS["mpi_allreduce.py"]
    result = run_roost(
        server.client_env(tmp_path),
        *("run", "--remote", "--wait", "--no-progress", "-o", "json", "mpi_allreduce.py", *args),
        cwd=EXAMPLES,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stderr}\nserver:\n{server.log()}"
    assert json.loads(result.stdout) == answer
