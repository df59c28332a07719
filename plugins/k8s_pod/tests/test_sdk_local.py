"""Local runs: ContainerTasks through core's local-process handler, Pod-config tasks as plain functions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sdk_tasks

from roost import workflow
from roost.errors import ExecutionFailedError
from roost.local.runner import local_options
from roost.types import File
from roost_k8s_pod import ContainerTask


@pytest.fixture(autouse=True)
def quiet_local_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No progress table, no cache, returned files kept under the test's folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    with local_options(progress=False, cache=False):
        yield


def test_a_workflow_with_a_container_task_and_a_pod_task_runs_locally(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox")
    words, shout = sdk_tasks.words_times(text=File(text), times=2)
    assert words == 4 * 3  # four words, times add_one(2)
    assert Path(shout.download()).read_text() == "THE QUICK BROWN FOX"


def test_calling_a_container_task_runs_its_command_here(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("one two")
    words, shout = sdk_tasks.count_words(text=File(text), times=5)
    assert words == 10
    assert Path(shout.download()).read_text() == "ONE TWO"


def test_a_pod_task_runs_as_its_function() -> None:
    assert sdk_tasks.pod_task(x=7) == 7
    assert sdk_tasks.add_one(x=1) == 2
    assert sdk_tasks.overridden(x=3) == 3  # the node's pod template does not matter locally


def test_templated_inputs_and_default_folders(tmp_path: Path) -> None:
    greet = ContainerTask(
        name="greet",
        image="busybox",
        command=["sh", "-c", "printf 'hello %s' {{.inputs.name}} > /var/flyte/outputs/greeting"],
        inputs={"name": str},
        outputs={"greeting": str},
    )

    @workflow
    def greeting(name: str) -> str:
        return greet(name=name)

    assert greeting(name="roost") == "hello roost"


def test_the_error_file_fails_the_run() -> None:
    refuse = ContainerTask(
        name="refuse",
        image="busybox",
        command=["sh", "-c", "echo 'x must be positive' > /var/outputs/_ERROR"],
        inputs={"x": int},
        outputs={"y": int},
        input_data_dir="/var/inputs",
        output_data_dir="/var/outputs",
    )
    with pytest.raises(ExecutionFailedError) as caught:
        refuse(x=-1)
    assert str(caught.value).endswith("User Error: x must be positive\n")


def test_a_missing_output_fails_the_run() -> None:
    silent = ContainerTask(
        name="silent",
        image="busybox",
        command=[sys.executable, "-c", "pass"],
        outputs={"y": int},
        output_data_dir="/var/outputs",
    )
    with pytest.raises(
        ExecutionFailedError, match=r"output 'y': the task wrote no file '.*/y' in its output folder"
    ):
        silent()
