"""flytekit 1.16 with flytekitplugins-kfmpi against `roost start`: `pyflyte register` of a module with MPI tasks,
then FlyteRemote runs its workflows, whose MPI tasks go through the mpi-local handler (flytekit's image mapped
to flytekit's virtualenv, which holds the same Open MPI and mpi4py): rank 0's outputs come back, and a rank
that raises (flytekit writes error.pb and exits 0, then its MPI finalize waits for the others) fails the run
within seconds, naming the rank."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from roost_admin.testing.server import RoostServer, start_roost

HERE = Path(__file__).parent
DEFAULT_IMAGE = "from flytekit.configuration import DefaultImages; print(DefaultImages.default_image())"
VERSION = "v1"


@dataclass
class Flytekit:
    """A server with flytekit's image mapped, a pyflyte config for it, and a copy of flytekit_project."""

    server: RoostServer
    venv: Path
    config: Path
    project: Path

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(command), capture_output=True, text=True, cwd=self.project, timeout=300, check=False
        )
        assert result.returncode == 0, (
            f"{command}:\n{result.stdout}\n{result.stderr}\nserver:\n{self.server.log()}"
        )
        return result

    def launch(self, name: str, inputs: dict[str, Any], outputs: str = "") -> dict[str, Any]:
        python = str(self.venv / "bin" / "python")
        result = self.run(python, "launch.py", str(self.config), name, VERSION, json.dumps(inputs), outputs)
        launched: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return launched


@pytest.fixture(scope="module")
def flytekit(flytekit_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flytekit]:
    folder = tmp_path_factory.mktemp("flytekit-mpi")
    python = str(flytekit_venv / "bin" / "python")
    image = subprocess.run(
        [python, "-c", DEFAULT_IMAGE], capture_output=True, text=True, check=True
    ).stdout.strip()
    mapped = {
        "image_environments": {image: str(flytekit_venv)},
        "work_dir": str(folder / "attempts"),
        "log_dir": str(folder / "task-logs"),
    }
    server = start_roost(
        folder / "server", {"engine": {"handlers": {"local-process": mapped, "mpi-local": mapped}}}
    )
    config = folder / "pyflyte.yaml"
    config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc_endpoint}", "insecure": True}})
    )
    project = Path(shutil.copytree(HERE / "flytekit_project", folder / "project"))
    client = Flytekit(server, flytekit_venv, config, project)
    pyflyte = str(flytekit_venv / "bin" / "pyflyte")
    client.run(
        pyflyte, "--config", str(config), "register", "--project", "flytesnacks", "--domain", "development",
        "--version", VERSION, "mpi_flows.py",
    )  # fmt: skip
    yield client
    server.stop()


def test_a_kfmpi_task_runs_every_rank_and_returns_rank_zeros_outputs(flytekit: Flytekit) -> None:
    result = flytekit.launch("mpi_flows.wf", {"n": 100}, "total,ranks")
    assert result == {"phase": "SUCCEEDED", "error": None, "outputs": {"total": 5050, "ranks": 4}}


def test_a_kfmpi_rank_that_raises_fails_the_run_naming_the_rank(flytekit: Flytekit) -> None:
    result = flytekit.launch("mpi_flows.crashing", {"rank": 1})
    assert result["phase"] == "FAILED"
    assert "task 'mpi_flows.crash': rank 1 of 4 failed: " in result["error"]
    assert "rank 1 refuses" in result["error"]
