"""FlyteFile and FlyteDirectory with the real flytekit (1.16.31) on `roost start`'s default store, a local
folder: files and folders that tasks return flow to the next task (also through a raw ContainerTask and
inside a dataclass), files and folders on the client's disk become workflow inputs (uploaded through the
DataProxy by ``FlyteRemote.execute`` and by ``pyflyte run --remote``), and FlyteRemote downloads the files
and folders an execution returns.

flytekit takes a ``file://`` blob for a path it cannot open, so Roost hands flytekit the local store's data
as plain absolute paths (see docs/porting-from-flytekit.md); these tests fail where it does not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from flytekit_support import DOMAIN, PROJECT, Flytekit, succeeded, user_nodes

pytest_plugins = ["flytekit_support"]

VERSION = "files-v1"
WAIT_TIMEOUT = 150
DRIVER_TIMEOUT = 300
NOTE = "hello from the laptop"
FOLDER = {"a.txt": "first", "b.txt": "second"}


@pytest.fixture(scope="module")
def local_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A file and a folder on the client's disk, as a user passes them."""
    folder = tmp_path_factory.mktemp("client-data")
    note = folder / "note.txt"
    note.write_text(NOTE)
    data = folder / "data"
    data.mkdir()
    for name, text in FOLDER.items():
        (data / name).write_text(text)
    return {"note": note, "folder": data}


@pytest.fixture(scope="module")
def registered(flytekit: Flytekit) -> subprocess.CompletedProcess[str]:
    """`pyflyte register` of files.py."""
    return flytekit.register("files.py", VERSION)


@pytest.fixture(scope="module")
def pyflyte_runs(
    flytekit: Flytekit, registered: subprocess.CompletedProcess[str], local_data: dict[str, Path]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """`pyflyte run --remote` with a local file and a local folder as inputs."""
    assert registered.returncode == 0, flytekit.explain(registered)
    runs = {
        "run-note": ["note_input", "--note", str(local_data["note"])],
        "run-folder": ["folder_input", "--folder", str(local_data["folder"])],
    }
    return flytekit.run_all(
        {
            name: flytekit.command(
                "run", "--remote", "--project", PROJECT, "--domain", DOMAIN, "--name", name, "files.py", *args
            )
            for name, args in runs.items()
        }
    )


@pytest.fixture(scope="module")
def executions(
    flytekit: Flytekit,
    local_data: dict[str, Path],
    pyflyte_runs: dict[str, subprocess.CompletedProcess[str]],
) -> dict[str, dict[str, Any]]:
    """FlyteRemote's results for the executions it starts and for the `pyflyte run --remote` ones."""
    note = {"file": str(local_data["note"])}
    launches = [
        {"key": "note-flow", "kind": "workflow", "name": "files.note_flow", "inputs": {"text": "passed on"}},
        {"key": "folder-flow", "kind": "workflow", "name": "files.folder_flow", "inputs": {"n": 3}},
        {
            "key": "container-flow",
            "kind": "workflow",
            "name": "files.container_flow",
            "inputs": {"text": "through a container"},
        },
        {
            "key": "dataclass",
            "kind": "workflow",
            "name": "files.dataclass_flow",
            "inputs": {"text": "packed"},
        },
        {"key": "note-input", "kind": "workflow", "name": "files.note_input", "inputs": {"note": note}},
        {
            "key": "folder-input",
            "kind": "workflow",
            "name": "files.folder_input",
            "inputs": {"folder": {"folder": str(local_data["folder"])}},
        },
        {"key": "shouted", "kind": "workflow", "name": "files.shouted", "inputs": {"note": note}},
        {"key": "folder-output", "kind": "workflow", "name": "files.folder_output", "inputs": {"n": 2}},
    ]
    plan = {
        "version": VERSION,
        "timeout": WAIT_TIMEOUT,
        "launch": launches,
        "attach": [
            {"key": name, "execution": name} for name, run in pyflyte_runs.items() if run.returncode == 0
        ],
    }
    return flytekit.drive(plan, DRIVER_TIMEOUT)


def test_a_file_flows_from_task_to_task(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    result = succeeded(flytekit, executions, "note-flow")
    assert result["outputs"] == {"o0": "passed on"}
    # FlyteRemote downloads the file the first task returned, as a node output.
    outputs = sorted(str(node["outputs"]) for node in user_nodes(result["nodes"]).values())
    assert outputs == [str({"o0": "passed on"}), str({"o0": {"file": "passed on"}})], result["nodes"]


def test_a_folder_flows_from_task_to_task(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    result = succeeded(flytekit, executions, "folder-flow")
    assert result["outputs"] == {"o0": "part-0.txt=0 part-1.txt=1 part-2.txt=2"}


def test_a_file_flows_through_a_raw_container(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    assert succeeded(flytekit, executions, "container-flow")["outputs"] == {"o0": "THROUGH A CONTAINER"}


def test_files_inside_a_dataclass_flow_whole_and_by_attribute(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    result = succeeded(flytekit, executions, "dataclass")
    assert result["outputs"] == {"o0": "packed", "o1": "packed ['inside.txt']"}


def test_remote_execute_uploads_a_local_file_input(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    assert succeeded(flytekit, executions, "note-input")["outputs"] == {"o0": NOTE}


def test_remote_execute_uploads_a_local_folder_input(
    flytekit: Flytekit, executions: dict[str, dict[str, Any]]
) -> None:
    expected = " ".join(f"{name}={text}" for name, text in sorted(FOLDER.items()))
    assert succeeded(flytekit, executions, "folder-input")["outputs"] == {"o0": expected}


def test_remote_fetches_a_file_output(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    assert succeeded(flytekit, executions, "shouted")["outputs"] == {"o0": {"file": NOTE.upper()}}


def test_remote_fetches_a_folder_output(flytekit: Flytekit, executions: dict[str, dict[str, Any]]) -> None:
    result = succeeded(flytekit, executions, "folder-output")
    assert result["outputs"] == {"o0": {"folder": {"part-0.txt": "0", "part-1.txt": "1"}}}


@pytest.mark.parametrize("name", ["run-note", "run-folder"])
def test_pyflyte_run_remote_uploads_local_data(
    flytekit: Flytekit,
    pyflyte_runs: dict[str, subprocess.CompletedProcess[str]],
    executions: dict[str, dict[str, Any]],
    name: str,
) -> None:
    run = pyflyte_runs[name]
    assert run.returncode == 0, flytekit.explain(run)
    expected = NOTE if name == "run-note" else " ".join(f"{n}={t}" for n, t in sorted(FOLDER.items()))
    assert succeeded(flytekit, executions, name)["outputs"] == {"o0": expected}
