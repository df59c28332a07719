"""flytekit features that rely on the server behaving as Flyte's does, on `roost start` with the real flytekit
(1.16.31, in its own virtualenv): FlyteRemote syncing node executions (start and end nodes included), an
``@eager`` workflow calling back into the admin from its task process, a workflow calling a launch plan that
`pyflyte register` registered (the child inheriting the parent's environment), a checkpointed task resuming
across retries, ``Echo`` in a conditional, files inside a dataclass reached by attribute, and a map task whose
indices read their inputs from the object store.

``flytekit_project/parity.py`` is registered with `pyflyte register`; the FlyteRemote driver
(``flytekit_project/driver.py``) starts every execution and waits for all of them.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flytekit_support import Flytekit, succeeded, user_nodes

from roost_admin.testing.server import tool

pytest_plugins = ["flytekit_support"]

VERSION = "parity-v1"
WAIT_TIMEOUT = 180
"""Seconds FlyteRemote.wait waits for each execution (they run side by side; the eager one starts more)."""
DRIVER_TIMEOUT = 360

LAUNCHES: list[dict[str, Any]] = [
    {"key": "outer", "kind": "workflow", "name": "parity.outer", "inputs": {"x": 3}},
    {"key": "eager", "kind": "task", "name": "parity.eager_sum", "inputs": {"x": 4}},
    {
        "key": "launch-plan-node",
        "kind": "workflow",
        "name": "parity.calls_launch_plan",
        "inputs": {"x": 5},
        "envs": {"STAGE": "parity"},
        "labels": {"team": "e2e"},
    },
    {"key": "checkpoint", "kind": "workflow", "name": "parity.checkpointed", "inputs": {"x": 1}},
    {"key": "echo", "kind": "workflow", "name": "parity.echo_branch", "inputs": {"x": -4}},
    {"key": "no-echo", "kind": "workflow", "name": "parity.echo_branch", "inputs": {"x": 3}},
    {"key": "attribute", "kind": "workflow", "name": "parity.by_attribute", "inputs": {"size": 3}},
    {"key": "map", "kind": "workflow", "name": "parity.squares", "inputs": {"xs": list(range(12))}},
]
"""What the driver starts with FlyteRemote.execute."""


@pytest.fixture(scope="module")
def flytekit_storage(seaweed: Any) -> dict[str, Any]:
    """S3 on a real SeaweedFS server, as Flyte's sandbox keeps its data in an object store (files and folders
    on the default local store are ``test_flytekit_files.py``'s)."""
    return {"storage": "s3://roost/flytekit-parity", "storage_options": {"s3": seaweed.store_config()}}


@pytest.fixture(scope="module")
def registered(flytekit: Flytekit) -> subprocess.CompletedProcess[str]:
    """`pyflyte register` of parity.py."""
    return flytekit.register("parity.py", VERSION)


@pytest.fixture(scope="module")
def executions(flytekit: Flytekit, registered: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """What FlyteRemote.wait returned for every execution (see driver.py)."""
    assert registered.returncode == 0, flytekit.explain(registered)
    return flytekit.drive({"version": VERSION, "timeout": WAIT_TIMEOUT, "launch": LAUNCHES}, DRIVER_TIMEOUT)


def literal_ints(data: dict[str, Any]) -> dict[str, int]:
    """``{name: int}`` of a LiteralMap in protobuf's JSON form."""
    return {
        name: int(literal["scalar"]["primitive"]["integer"])
        for name, literal in data.get("literals", {}).items()
    }


def test_remote_sync_lists_start_and_end_nodes_of_every_scope(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = succeeded(flytekit, executions, "outer")
    assert result["outputs"] == {"o0": (3 * 3 + 3) ** 2}
    nodes = result["nodes"]
    assert sorted(nodes) == ["end-node", "n0", "n1", "start-node"]
    # flyteadmin's data of the bookkeeping nodes: the start node outputs the workflow's inputs, the end
    # node takes its outputs.
    assert literal_ints(nodes["start-node"]["data"]["outputs"]) == {"x": 3}
    assert literal_ints(nodes["start-node"]["data"]["inputs"]) == {}
    assert literal_ints(nodes["end-node"]["data"]["inputs"]) == {"o0": 144}
    inner = nodes["n0"]["children"]
    assert sorted(inner) == ["n0-0-end-node", "n0-0-n0", "n0-0-n1", "n0-0-start-node"]
    assert literal_ints(inner["n0-0-start-node"]["data"]["outputs"]) == {"x": 3}
    assert literal_ints(inner["n0-0-end-node"]["data"]["inputs"]) == {"o0": 12}
    assert sorted(node["outputs"]["o0"] for node in user_nodes(inner).values()) == [9, 12]


def test_an_eager_workflow_runs_its_tasks_through_the_admin(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    assert succeeded(flytekit, executions, "eager")["outputs"] == {"o0": 4 * 4 + 1}


def test_a_launch_plan_node_runs_a_child_that_inherits_the_parents_environment(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = succeeded(flytekit, executions, "launch-plan-node")
    assert result["outputs"] == {"o0": "parity 5"}


def test_a_retried_task_resumes_from_every_earlier_attempts_checkpoint(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = succeeded(flytekit, executions, "checkpoint")
    # Attempt 0 wrote "0|", attempt 1 read it and wrote "0|1|", attempt 2 read that.
    assert result["outputs"] == {"o0": "0|1| 1"}
    (node,) = user_nodes(result["nodes"]).values()
    assert node["task_executions"] == 3


def test_echo_in_a_conditional_passes_its_input_through(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    assert succeeded(flytekit, executions, "echo")["outputs"] == {"o0": -4}
    assert succeeded(flytekit, executions, "no-echo")["outputs"] == {"o0": 9}


def test_a_dataset_file_and_folder_inside_a_dataclass_bind_by_attribute(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = succeeded(flytekit, executions, "attribute")
    assert result["outputs"] == {"o0": "s3://elsewhere/table.parquet parquet 3 rows ['a.txt'] 3"}


def test_pyflyte_info_shows_the_admins_version(flytekit: Flytekit) -> None:
    info = flytekit.run(flytekit.command("info"))
    assert info.returncode == 0, flytekit.explain(info)
    assert f"Flyte Backend Version: v{importlib.metadata.version('roost-admin')}" in info.stdout, info.stdout


def test_the_roost_cli_names_flytekits_nodes_by_what_they_run(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    name = succeeded(flytekit, executions, "outer")["execution"]
    shown = subprocess.run(
        [tool("roost"), "get", "execution", name, "--nodes", "-o", "json"],
        capture_output=True,
        text=True,
        env=flytekit.server.client_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert [(row["node"], row["name"]) for row in rows] == [("n0", "inner"), ("n1", "square")]


def test_a_map_tasks_indices_read_their_inputs_from_the_object_store(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    assert succeeded(flytekit, executions, "map")["outputs"] == {"o0": [x * x for x in range(12)]}
