"""What the flytekit end-to-end modules share: `roost start` with flytekit's image mapped to flytekit's
virtualenv, a pyflyte config for it, a copy of ``flytekit_project`` to run pyflyte and the FlyteRemote driver
in, and checks of the driver's results.

Loaded as a pytest plugin (``pytest_plugins = ["flytekit_support"]``); the ``flytekit`` fixture is
module-scoped, so each test module gets a server of its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Starter
from flytekit_env import FlytekitEnv

from roost_admin.testing.server import RoostServer

pytest_plugins = ["flytekit_env"]

PROJECT_SOURCE = Path(__file__).parent / "flytekit_project"
PROJECT = "flytesnacks"
DOMAIN = "development"
COMMAND_TIMEOUT = 180
"""Seconds a pyflyte command may take (a flytekit process alone takes a few seconds to start)."""
BOOKENDS = ("start-node", "end-node")
"""The ids (and spec node ids) of every workflow's start and end nodes."""


@dataclass
class Flytekit:
    """A Roost server, and a flytekit client configured for it."""

    server: RoostServer
    env: FlytekitEnv
    project: Path
    """A copy of flytekit_project (the source root flytekit packages)."""
    config: Path
    task_logs: Path
    temp: Path
    """The server's temporary folder (its ``TMPDIR``), where its task attempts get theirs."""
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list, repr=False)

    def command(self, *args: str) -> list[str]:
        """A pyflyte command line with the client configuration."""
        return [self.env.tool("pyflyte"), "--config", str(self.config), *args]

    def run(self, command: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run a command in the project folder."""
        return self.run_all({"": command}, timeout)[""]

    def run_all(
        self, commands: dict[str, list[str]], timeout: float = COMMAND_TIMEOUT
    ) -> dict[str, subprocess.CompletedProcess[str]]:
        """Run commands in parallel in the project folder; one that outlives ``timeout`` is killed."""
        processes = {
            key: subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.project
            )
            for key, command in commands.items()
        }
        results = {}
        for key, process in processes.items():
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
                stderr += f"\n(killed after {timeout} s)"
            results[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            self.runs.append(results[key])
        return results

    def register(self, module: str, version: str) -> subprocess.CompletedProcess[str]:
        """`pyflyte register` of one module of the project (fast registration through the DataProxy)."""
        return self.run(
            self.command("register", "--project", PROJECT, "--domain", DOMAIN, "--version", version, module)
        )

    def drive(self, plan: dict[str, Any], timeout: float) -> dict[str, dict[str, Any]]:
        """Run ``driver.py`` with ``plan`` (see its docstring); its results by key."""
        plan_file = self.project.parent / f"plan-{len(self.runs)}.json"
        plan_file.write_text(json.dumps(plan))
        result = self.run([self.env.python, "driver.py", str(self.config), str(plan_file)], timeout=timeout)
        try:
            results: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            pytest.fail(f"the FlyteRemote driver printed no results:\n{self.explain(result)}", pytrace=False)
        assert result.returncode == 0, self.explain(result)
        return results

    def explain(self, result: subprocess.CompletedProcess[str] | None = None, focus: str = "") -> str:
        """What a failure message needs, the most telling first (a long failure is often cut short): with a
        ``focus``, the stacks of the task processes working in a folder that names it, then the server's (see
        :meth:`RoostServer.stacks`); the tasks' error logs (first those whose attempt folder names ``focus``), the
        server's log, then the command's output (or every command's)."""
        logs = sorted(
            (log for log in self.task_logs.glob("*/stderr.log") if log.stat().st_size),
            key=lambda log: (not focus or focus not in log.parent.name, log.parent.name),
        )
        task_logs = "\n".join(
            f"--- {log.parent.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs
        )
        shown = [result] if result is not None else self.runs
        commands = "\n".join(
            f"$ {' '.join(map(str, run.args))}\nexit {run.returncode}\nstdout:\n{run.stdout[-4000:]}\n"
            f"stderr:\n{run.stderr[-4000:]}"
            for run in shown
        )
        stacks = f"stacks:\n{self.server.stacks(focus)}\n" if focus else ""
        return f"{stacks}task stderr logs:\n{task_logs}\nserver:\n{self.server.log()[-6000:]}\n{commands}"


@pytest.fixture(scope="module")
def flytekit_storage() -> dict[str, Any]:
    """Where the ``flytekit`` server keeps its data: ``{"storage": URI, "storage_options": {...}}``, or the
    embedded default (a local folder) when empty. A module overrides this fixture to choose."""
    return {}


@pytest.fixture(scope="module")
def flytekit(
    module_roost_server: Starter,
    flytekit_env: FlytekitEnv,
    flytekit_storage: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Flytekit:
    """`roost start` with flytekit's image mapped to its virtualenv, and a pyflyte config file for it."""
    folder = tmp_path_factory.mktemp("flytekit")
    local_process = {
        "image_environments": {flytekit_env.default_image: str(flytekit_env.folder)},
        "work_dir": str(folder / "attempts"),
        "log_dir": str(folder / "task-logs"),
    }
    settings: dict[str, Any] = {"engine": {"handlers": {"local-process": local_process}}}
    if "storage_options" in flytekit_storage:
        settings["storage_options"] = flytekit_storage["storage_options"]
    temp = folder / "tmp"
    temp.mkdir()
    server = module_roost_server(
        storage=flytekit_storage.get("storage", ""), settings=settings, env={"TMPDIR": str(temp)}
    )
    config = folder / "pyflyte.yaml"
    config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///{server.grpc_endpoint}", "insecure": True}})
    )
    project = shutil.copytree(
        PROJECT_SOURCE, folder / "project", ignore=shutil.ignore_patterns("__pycache__")
    )
    return Flytekit(server, flytekit_env, project, config, folder / "task-logs", temp)


def execution(flytekit: Flytekit, executions: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    """One execution's result, after checking that the driver could wait for it."""
    result = executions[key]
    # An eager execution's children are named after the first characters of its name.
    focus = result.get("execution", "")[:5]
    assert "exception" not in result, (
        f"FlyteRemote failed on {key}:\n{result['exception']}\n{flytekit.explain(focus=focus)}"
    )
    return result


def succeeded(flytekit: Flytekit, executions: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    """One execution's result, after checking that it and every node in it succeeded (or was a skipped
    branch)."""
    result = execution(flytekit, executions, key)
    assert result["phase"] == "SUCCEEDED", f"{key}: {result}\n{flytekit.explain()}"

    def check(nodes: dict[str, Any]) -> None:
        for node_id, node in nodes.items():
            assert node["phase"] in {"SUCCEEDED", "SKIPPED"}, f"{key}: node {node_id}: {node}"
            check(node.get("children", {}))

    check(result["nodes"])
    return result


def user_nodes(nodes: dict[str, Any]) -> dict[str, Any]:
    """The nodes of a driver result without the start and end nodes."""
    return {node_id: node for node_id, node in nodes.items() if not node_id.endswith(BOOKENDS)}
