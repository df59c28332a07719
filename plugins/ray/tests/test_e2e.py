"""End to end on this machine: the Ray example with `roost run`, and with `roost start` + `roost run --remote`;
and a flytekit 1.16 workflow with a flytekitplugins-ray task, registered with `pyflyte register` and run through
FlyteRemote on `roost start`, which runs its Ray task through the ray-local handler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from runtime_processes import foreign_runtime_sessions

from roost_admin.testing.server import RoostServer, run_roost, start_roost
from roost_core.testing.driver import wait_until

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "examples"
EXAMPLE = "ray_fanout.py"
ANSWER = "the squares below 100 sum to 328350"
PROJECT = ("--project", "flytesnacks", "--domain", "development")


def _roost(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_roost(env, *args, cwd=EXAMPLES, timeout=timeout)


def test_the_example_runs_with_roost_run(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
        "ROOST_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    run = _roost(env, "run", "--no-progress", "-o", "json", EXAMPLE, "wf", "--n", "100")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"o0": ANSWER}


@pytest.fixture(scope="module")
def server(
    flytekit_venv: Path, flytekit_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RoostServer]:
    folder = tmp_path_factory.mktemp("roost-start")
    ray_local = {
        "image_environments": {flytekit_image: str(flytekit_venv)},
        "work_dir": str(folder / "attempts"),
        "log_dir": str(folder / "task-logs"),
        "idle_timeout": 20,
    }
    # flytekit's plain tasks run through local-process, which needs the same image mapping.
    local_process = {"image_environments": ray_local["image_environments"], "log_dir": ray_local["log_dir"]}
    handlers = {"ray-local": ray_local, "local-process": local_process}
    started = start_roost(folder, {"engine": {"handlers": handlers}}, drop_env=("ROOST_", "RAY_"))
    yield started
    started.stop(timeout=60)


def test_the_runtimes_of_roost_start_end_with_it(tmp_path: Path) -> None:
    """A runtime kept for reuse (idle_timeout) by an engine worker of `roost start` stops when the server does."""
    before = foreign_runtime_sessions()
    handlers = {"ray-local": {"idle_timeout": 600, "work_dir": str(tmp_path / "attempts")}}
    started = start_roost(
        tmp_path / "server", {"engine": {"handlers": handlers}}, drop_env=("ROOST_", "RAY_")
    )
    try:
        env = started.client_env(tmp_path / "client")
        run = _roost(env, "run", "--remote", "--wait", "-o", "json", EXAMPLE, "wf", "--n", "10")
        assert run.returncode == 0, _explain(started, run)
        kept = foreign_runtime_sessions() - before
        assert kept, "the runtime was not kept for reuse"
    finally:
        assert started.stop(timeout=60) is not None
    wait_until(lambda: not (foreign_runtime_sessions() & kept), "the runtimes to end", timeout=30)


def _explain(server: RoostServer, run: subprocess.CompletedProcess[str]) -> str:
    logs = "\n".join(
        f"--- {log.parent.name}\n{log.read_text(errors='replace')[-3000:]}"
        for log in sorted((server.folder / "task-logs").glob("*/stderr.log"))
        if log.stat().st_size
    )
    return f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}\ntasks:\n{logs}\nserver:\n{server.log()[-3000:]}"


def test_the_example_runs_on_roost_start(server: RoostServer) -> None:
    run = _roost(
        server.client_env(server.folder / "client"),
        "run",
        "--remote",
        "--wait",
        "-o",
        "json",
        EXAMPLE,
        "wf",
        "--n",
        "100",
    )
    assert run.returncode == 0, _explain(server, run)
    printed = run.stdout[run.stdout.index("\n{") :] if "\n{" in run.stdout else run.stdout
    assert json.loads(printed) == {"o0": ANSWER}, _explain(server, run)


def test_a_flytekit_ray_workflow_registered_with_pyflyte_runs(
    server: RoostServer, flytekit_venv: Path, tmp_path: Path
) -> None:
    project = shutil.copytree(HERE / "flytekit_project", tmp_path / "project")
    config = tmp_path / "pyflyte.yaml"
    config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc_endpoint}", "insecure": True}})
    )
    env = {
        "PATH": f"{flytekit_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FLYTE_SDK_LOGGING_LEVEL": "40",
    }
    pyflyte = str(flytekit_venv / "bin" / "pyflyte")
    register = subprocess.run(
        [pyflyte, "--config", str(config), "register", *PROJECT, "--version", "ray1", "ray_flows.py"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=300,
        check=False,
    )
    assert register.returncode == 0, _explain(server, register)
    run = subprocess.run(
        [str(flytekit_venv / "bin" / "python"), "run_remote.py", str(config), "ray_flows.wf", "ray1", "12"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=400,
        check=False,
    )
    assert run.returncode == 0, _explain(server, run)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"phase": "SUCCEEDED", "o0": f"total={sum(i * i for i in range(12))}"}, _explain(
        server, run
    )
