"""flytekit interop: a flytekit 1.16 workflow with flytekitplugins-spark tasks, registered with `pyflyte
register` on `roost start`, runs through the spark handler (flytekit's image mapped to its virtualenv)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from roost_admin.testing.server import RoostServer, start_roost

PROJECT = Path(__file__).parent / "flytekit_project"
DEFAULT_IMAGE = "from flytekit.configuration import DefaultImages; print(DefaultImages.default_image())"
VERSION = "spark-v1"


class Flytekit:
    """`roost start` with flytekit's image mapped to the flytekit virtualenv, and pyflyte configured for it."""

    def __init__(self, server: RoostServer, venv: Path, folder: Path) -> None:
        self.server = server
        self.venv = venv
        self.folder = folder
        self.config = folder / "pyflyte.yaml"
        self.config.write_text(
            yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc_endpoint}", "insecure": True}})
        )
        self.project = Path(shutil.copytree(PROJECT, folder / "project"))

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command), capture_output=True, text=True, cwd=self.project, timeout=600, check=False
        )

    def explain(self, result: subprocess.CompletedProcess[str]) -> str:
        logs = "\n".join(
            f"--- {log.parent.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted((self.folder / "task-logs").glob("*/stderr.log"))
        )
        return (
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{logs}\nserver:\n{self.server.log()[-4000:]}"
        )

    def execute(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        python = str(self.venv / "bin" / "python")
        ran = self.run(python, "run_workflow.py", str(self.config), name, VERSION, json.dumps(inputs))
        assert ran.returncode == 0, self.explain(ran)
        result: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
        result["explain"] = self.explain(ran)
        return result


@pytest.fixture(scope="module")
def flytekit(flytekit_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flytekit]:
    folder = tmp_path_factory.mktemp("flytekit-interop")
    image = subprocess.run(
        [str(flytekit_venv / "bin" / "python"), "-c", DEFAULT_IMAGE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    processes = {
        "image_environments": {image: str(flytekit_venv)},
        "work_dir": str(folder / "attempts"),
        "log_dir": str(folder / "task-logs"),
    }
    settings = {"engine": {"handlers": {"local-process": processes, "spark": processes}}}
    server = start_roost(folder / "server", settings)
    client = Flytekit(server, flytekit_venv, folder)
    registered = client.run(
        str(flytekit_venv / "bin" / "pyflyte"),
        "--config",
        str(client.config),
        "register",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--version",
        VERSION,
        "spark_flows.py",
    )
    assert registered.returncode == 0, client.explain(registered)
    yield client
    server.stop()


def test_a_flytekit_spark_workflow_runs_on_the_spark_handler(flytekit: Flytekit) -> None:
    result = flytekit.execute("spark_flows.pipeline", {"rows": 20})
    assert result["phase"] == "SUCCEEDED", result
    assert result["outputs"] == {"o0": "customer 1: 770 cents on local[2]; all: 2090 cents"}


def test_a_flytekit_task_with_a_bad_setting_fails_naming_it(flytekit: Flytekit) -> None:
    result = flytekit.execute("spark_flows.broken", {"rows": 1})
    assert result["phase"] == "FAILED", result
    assert (
        "task 'spark_flows.misconfigured': spark_conf['spark.executor.instances'] = 'many': expected a whole "
        "number such as '2'; fix the task's Spark(...) config"
    ) in result["error"], result
