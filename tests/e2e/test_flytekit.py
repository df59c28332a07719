"""A real flytekit (1.16.31, in its own virtualenv) drives `roost start` as it would drive Flyte: `pyflyte
register` of a module of typical workflows, `pyflyte run --remote`, and `FlyteRemote.execute` / `wait`.

The tasks run on Roost's engine as local processes in flytekit's virtualenv, which the settings map to
flytekit's default image. Everything flytekit does happens in subprocesses with that virtualenv's python;
the FlyteRemote side is ``flytekit_project/driver.py``, which prints its results as JSON. One server serves
the whole module: register, then the `pyflyte run --remote` runs (in parallel), then one driver process that
starts the FlyteRemote executions and waits for all of them; the tests check the results.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from conftest import WARM
from flytekit_support import DOMAIN, PROJECT, Flytekit, execution, succeeded, user_nodes

pytest_plugins = ["flytekit_support"]

VERSION = "e2e-v1"
WAIT_TIMEOUT = 150
"""Seconds FlyteRemote.wait waits for each execution (they run at the same time, so the first wait is the
longest)."""
DRIVER_TIMEOUT = 300
"""Seconds the driver may take to start its executions and wait for all of them."""

PYFLYTE_RUNS: dict[str, list[str]] = {
    "square-plus": ["square_plus", "--x", "3"],
    "sum-of-squares": ["sum_of_squares", "--xs", "[1, 2, 3]"],
    "classify": ["classify", "--x", "-3"],
    "dynamic-sum": ["dynamic_sum", "--n", "3"],
    "lineage": ["lineage_chain"],
}
"""Executions started with `pyflyte run --remote --name <key> flows.py <workflow> <inputs>`."""

REMOTE_LAUNCHES: list[dict[str, Any]] = [
    {"key": "nested", "kind": "workflow", "name": "flows.nested", "inputs": {"x": 3}},
    {"key": "defaults", "kind": "launch_plan", "name": "square_plus_defaults", "inputs": {"x": 3}},
    {"key": "fixed", "kind": "launch_plan", "name": "square_plus_fixed", "inputs": {"x": 5}},
    {"key": "task", "kind": "task", "name": "flows.add", "inputs": {"a": 2, "b": 40}},
    {"key": "failing", "kind": "workflow", "name": "flows.failing", "inputs": {"x": 7}},
]
"""Registered entities the driver starts with FlyteRemote.execute (see driver.py)."""


@pytest.fixture(scope="module")
def registered(flytekit: Flytekit) -> subprocess.CompletedProcess[str]:
    """`pyflyte register` of flows.py (fast registration: the code goes up through the DataProxy)."""
    return flytekit.register("flows.py", VERSION)


@pytest.fixture(scope="module")
def pyflyte_runs(
    flytekit: Flytekit, registered: subprocess.CompletedProcess[str]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """The `pyflyte run --remote` commands, run in parallel; each starts one execution named by its key."""
    return flytekit.run_all(
        {
            name: flytekit.command(
                "run", "--remote", "--project", PROJECT, "--domain", DOMAIN, "--name", name, "flows.py", *args
            )
            for name, args in PYFLYTE_RUNS.items()
        }
    )


@pytest.fixture(scope="module")
def executions(
    flytekit: Flytekit,
    registered: subprocess.CompletedProcess[str],
    pyflyte_runs: dict[str, subprocess.CompletedProcess[str]],
) -> dict[str, dict[str, Any]]:
    """The driver's results: what FlyteRemote.wait returned for every execution (see driver.py)."""
    plan = {
        "version": VERSION,
        "timeout": WAIT_TIMEOUT,
        "launch": REMOTE_LAUNCHES,
        "attach": [
            {"key": name, "execution": name} for name, run in pyflyte_runs.items() if run.returncode == 0
        ],
    }
    return flytekit.drive(plan, DRIVER_TIMEOUT)


def test_pyflyte_register(flytekit: Flytekit, registered: subprocess.CompletedProcess[str]) -> None:
    assert registered.returncode == 0, flytekit.explain(registered)
    # 9 tasks (the map task's included), 7 workflows with their default launch plans, and 2 launch plans.
    assert "Successfully registered 25 entities" in registered.stdout, flytekit.explain(registered)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("square-plus", 11),
        ("sum-of-squares", 14),
        ("classify", "-3 is negative"),
        ("dynamic-sum", 5),
        # Fast-registered tasks run warm: pyflyte-execute in the process forked for the attempt, each fresh.
        ("lineage", "/warm:none/warm:none" if WARM else "/cold:none/cold:none"),
    ],
)
def test_pyflyte_run_remote(
    flytekit: Flytekit,
    pyflyte_runs: dict[str, subprocess.CompletedProcess[str]],
    executions: dict[str, dict[str, Any]],
    name: str,
    expected: Any,
) -> None:
    run = pyflyte_runs[name]
    assert run.returncode == 0, flytekit.explain(run)
    assert f"executions/{name}" in run.stdout, flytekit.explain(run)
    result = succeeded(flytekit, executions, name)
    assert result["outputs"] == {"o0": expected}


def test_map_task_runs_every_item(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    nodes = succeeded(flytekit, executions, "sum-of-squares")["nodes"]
    assert nodes["n0"]["outputs"] == {"o0": [1, 4, 9]}, nodes  # the array node
    assert nodes["n1"]["outputs"] == {"o0": 14}, nodes
    # Its indices (pyflyte-map-execute) started in batches of warm processes, not an engine attempt each; with warm
    # processes off, each is an ordinary attempt of its own.
    batched = re.search(
        r"execution sum-of-squares: map task '[^']+' starts its indices in warm batches",
        flytekit.server.log(),
    )
    assert bool(batched) is WARM, flytekit.server.log()


def test_conditional_takes_one_branch(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    branch = succeeded(flytekit, executions, "classify")["nodes"]["n0"]["children"]
    taken = {node["phase"]: node for node in branch.values()}
    assert sorted(node["phase"] for node in branch.values()) == ["SKIPPED", "SKIPPED", "SUCCEEDED"], branch
    assert taken["SUCCEEDED"]["outputs"] == {"o0": "-3 is negative"}, branch


def test_dynamic_workflow_runs_the_nodes_it_generates(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    dynamic = succeeded(flytekit, executions, "dynamic-sum")["nodes"]["n0"]
    assert dynamic["outputs"] == {"o0": [0, 1, 4]}, dynamic
    generated = sorted(node["outputs"]["o0"] for node in user_nodes(dynamic["children"]).values())
    assert generated == [0, 1, 4], dynamic  # square(0), square(1), square(2)


def test_remote_execute_workflow_with_subworkflow(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = succeeded(flytekit, executions, "nested")
    assert result["outputs"] == {"o0": 3 * 3 + 1 + 3}
    subworkflow = result["nodes"]["n0"]
    assert subworkflow["outputs"] == {"o0": 3 * 3 + 1}, subworkflow
    inner = sorted(node["outputs"]["o0"] for node in user_nodes(subworkflow["children"]).values())
    assert inner == [9, 10], subworkflow  # square, then add


def test_remote_execute_launch_plan_fills_in_its_defaults(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    # Only x is given: y comes from the launch plan's default (10), not the workflow's (2).
    assert succeeded(flytekit, executions, "defaults")["outputs"] == {"o0": 3 * 3 + 10}


def test_remote_execute_launch_plan_with_fixed_inputs(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    assert succeeded(flytekit, executions, "fixed")["outputs"] == {"o0": 5 * 5 + 100}


def test_remote_execute_task(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    assert succeeded(flytekit, executions, "task")["outputs"] == {"o0": 42}


def test_failing_task_fails_the_execution_with_the_users_message(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = execution(flytekit, executions, "failing")
    assert result["phase"] == "FAILED", result
    assert result["outputs"] is None
    assert "ValueError: the input 7 is not allowed" in result["error"], result["error"]


def test_the_failure_handler_gets_the_error_as_flytekits_flyte_error(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    # The handler raised with what its err input held; its error masks the workflow's, as on Flyte.
    error = execution(flytekit, executions, "failing")["error"]
    assert "RuntimeError: handled n0: " in error, error
    assert error.count("the input 7 is not allowed") >= 1
