"""The MPI examples under examples/ run with `roost run` as a user runs them, and give the right answer (the
examples session leaves them to this package's session, which installs Open MPI and mpi4py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
RUNS = {"mpi_allreduce.py": (["wf", "--n", "100"], {"total": 5050, "ranks": 4})}
"""Example → (`roost run` arguments after the file, outputs as `-o json` prints them)."""


def test_every_mpi_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("mpi_*.py")) == sorted(RUNS)


@pytest.mark.parametrize("example", sorted(RUNS))
def test_example_runs_with_roost_run(example: str, tmp_path: Path) -> None:
    args, answer = RUNS[example]
    roost = Path(sys.executable).with_name("roost")
    env = {**os.environ, "ROOST_CACHE_DIR": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run(
        [str(roost), "run", "--no-progress", "-o", "json", example, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=EXAMPLES,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == answer
