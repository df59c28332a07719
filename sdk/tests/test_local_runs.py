"""Local execution: workflows run on the core engine in this process, as they would on the server."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from roost import (
    Cache,
    Directory,
    File,
    LaunchPlan,
    StructuredDataset,
    approve,
    conditional,
    current_context,
    dynamic,
    map_task,
    sleep,
    task,
    wait_for_input,
    workflow,
)
from roost.errors import ExecutionFailedError, RecoverableError, TaskExecutionError
from roost.local.runner import local_options, run_local

pytestmark = pytest.mark.usefixtures("no_progress")


@task
def double(x: int) -> int:
    return 2 * x


@task
def add(a: int, b: int) -> int:
    return a + b


@workflow
def diamond(x: int = 3) -> int:
    left = double(x=x)
    right = double(x=x)
    return add(a=left, b=right)


def test_calling_a_workflow_runs_it():
    assert diamond(x=5) == 20
    assert diamond() == 12


def test_progress_shows_the_workflows_nodes_but_not_its_start_and_end_nodes(caplog):
    with caplog.at_level(logging.INFO, logger="roost.run"):
        assert diamond(x=1) == 4
    assert "n2 succeeded (add)" in caplog.text
    assert "start-node" not in caplog.text and "end-node" not in caplog.text


def test_calling_a_task_runs_it_through_literals():
    assert double(x=21) == 42


@task
def liar(x: int) -> int:
    return "not a number"  # type: ignore[return-value]


def test_a_task_returning_the_wrong_type_names_the_task_and_the_output():
    with pytest.raises(TaskExecutionError) as raised:
        liar(x=1)
    assert str(raised.value).startswith("task 'liar' output 'o0': expected int but got str")

    @workflow
    def wf(x: int) -> int:
        return liar(x=x)

    with pytest.raises(ExecutionFailedError) as failed:
        wf(x=1)
    assert "node 'n0': task 'liar' output 'o0': expected int but got str" in str(failed.value)


def test_a_missing_input_of_a_local_run_is_named():
    @workflow
    def wf(x: int) -> int:
        return double(x=x)

    from roost.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match=r"^workflow 'wf' input 'x' is missing$"):
        wf()


attempts: dict[str, int] = {}


@task(retries=2)
def flaky(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise RecoverableError(f"attempt {attempts[key]} failed")
    return f"ok after {attempts[key]}"


def test_retries_happen_locally_as_on_the_server():
    @workflow
    def wf() -> str:
        return flaky(key="retry-test")

    assert wf() == "ok after 3"


@task
def always_fails(x: int) -> int:
    raise ValueError(f"bad value {x}")


def test_a_failing_task_fails_the_run_with_its_error():
    @workflow
    def wf(x: int) -> int:
        return always_fails(x=x)

    with pytest.raises(ExecutionFailedError) as failed:
        wf(x=4)
    assert str(failed.value).startswith(
        "workflow 'wf' failed: node 'n0': task 'always_fails' raised ValueError: bad value 4"
    )
    assert 'raise ValueError(f"bad value {x}")' in str(failed.value)


spans: list[tuple[float, float]] = []
spans_lock = threading.Lock()


@task
def nap(i: int) -> int:
    started = time.monotonic()
    time.sleep(0.5)
    with spans_lock:
        spans.append((started, time.monotonic()))
    return i


def test_independent_tasks_run_at_the_same_time():
    @workflow
    def wf() -> list[int]:
        return [nap(i=i) for i in range(8)]

    spans.clear()
    assert wf() == list(range(8))
    latest_start = max(start for start, _ in spans)
    earliest_end = min(end for _, end in spans)
    assert latest_start < earliest_end, "every nap overlapped every other"


def test_max_parallelism_bounds_local_runs():
    @workflow
    def wf() -> list[int]:
        return [nap(i=i) for i in range(4)]

    spans.clear()
    with local_options(max_parallelism=1):
        wf()
    ordered = sorted(spans)
    assert all(ordered[i][1] <= ordered[i + 1][0] for i in range(3)), "one at a time"


@task
def pid() -> int:
    return os.getpid()


def test_processes_mode_runs_tasks_in_other_processes():
    @workflow
    def wf() -> list[int]:
        return [pid(), pid()]

    with local_options(processes=True, max_workers=2):
        pids = wf()
    assert os.getpid() not in pids


runs: list[int] = []


@task(cache=Cache(version="1", ignored_inputs=("note",)))
def cached_square(x: int, note: str = "") -> int:
    runs.append(x)
    return x * x


def test_the_local_cache_keeps_results_between_runs():
    @workflow
    def wf(x: int, note: str) -> int:
        return cached_square(x=x, note=note)

    runs.clear()
    assert wf(x=3, note="a") == 9
    assert wf(x=3, note="b") == 9
    assert runs == [3]
    with local_options(overwrite_cache=True):
        wf(x=3, note="c")
    assert runs == [3, 3]
    with local_options(cache=False):
        wf(x=3, note="d")
    assert runs == [3, 3, 3]
    from roost.local.cache import clear_cache

    assert clear_cache() == 1
    wf(x=3, note="e")
    assert runs == [3, 3, 3, 3]


def test_map_conditional_and_dynamic_run_locally():
    @dynamic
    def chain(n: int) -> int:
        value = 1
        for _ in range(n):
            value = double(x=value)
        return value

    @workflow
    def wf(xs: list[int], n: int) -> tuple[list[int], list[int], int, int]:
        mapped = map_task(double, concurrency=2)(x=xs)
        added = map_task(functools.partial(add, b=100))(a=xs)
        chosen = conditional("pick").if_(n > 3).then(double(x=n)).else_().then(add(a=n, b=1))
        return mapped, added, chosen, chain(n=n)

    assert wf(xs=[1, 2, 3], n=5) == ([2, 4, 6], [101, 102, 103], 10, 32)
    assert wf(xs=[], n=2) == ([], [], 3, 4)


@dataclasses.dataclass
class Bundle:
    table: StructuredDataset
    notes: File
    folder: Directory
    size: int


@task
def bundle(folder: str) -> Bundle:
    import pandas

    (Path(folder) / "notes.txt").write_text("three rows")
    (Path(folder) / "sub").mkdir()
    (Path(folder) / "sub" / "a.txt").write_text("a")
    table = StructuredDataset(dataframe=pandas.DataFrame({"a": [1, 2, 3]}))
    return Bundle(table, File(str(Path(folder) / "notes.txt")), Directory(str(Path(folder) / "sub")), 3)


@task
def describe_bundle(table: StructuredDataset, notes: File, folder: Directory, size: int) -> str:
    import pandas

    frame = table.open(pandas.DataFrame).all()
    names = sorted(p.name for p in Path(folder.download()).iterdir())
    return f"{list(frame['a'])} {Path(notes.download()).read_text()} {names} {size}"


def test_datasets_and_files_inside_a_dataclass_bind_by_attribute(tmp_path):
    @workflow
    def wf(folder: str) -> str:
        made = bundle(folder=folder)
        return describe_bundle(table=made.table, notes=made.notes, folder=made.folder, size=made.size)

    assert wf(folder=str(tmp_path)) == "[1, 2, 3] three rows ['a.txt'] 3"


def test_a_failing_conditional_reports_its_message():
    @workflow
    def wf(n: int) -> int:
        return conditional("pick").if_(n > 3).then(double(x=n)).else_().fail("n must be above 3")

    with pytest.raises(ExecutionFailedError, match="n must be above 3"):
        wf(n=1)


def test_gates_sleep_approve_and_signal_locally():
    @workflow
    def wf(x: int) -> int:
        pause = sleep(datetime.timedelta(seconds=30))
        first = double(x=x)
        pause >> first
        approved = approve(first, "ship-it")
        extra = wait_for_input("extra", expected_type=int)
        approved >> extra
        return add(a=approved, b=extra)

    with local_options(skip_sleep=True, approvals=frozenset({"ship-it"}), signals={"extra": "5"}):
        assert wf(x=2) == 9
    with local_options(skip_sleep=True), pytest.raises(ExecutionFailedError) as failed:
        wf(x=2)
    assert str(failed.value) == (
        "workflow 'wf' failed: node 'n2': approval 'ship-it' needs an answer: run on a "
        "terminal, or pass --approve ship-it"
    )
    with (
        local_options(skip_sleep=True, approvals=frozenset({"ship-it"})),
        pytest.raises(ExecutionFailedError) as failed,
    ):
        wf(x=2)
    assert str(failed.value) == (
        "workflow 'wf' failed: node 'n3': signal 'extra' needs an answer: run on a "
        "terminal, or pass --signal extra=VALUE"
    )


def test_a_launch_plan_runs_as_a_child_execution():
    lp = LaunchPlan.get_or_create(diamond, "diamond_lp", default_inputs={"x": 10})

    @workflow
    def parent() -> int:
        return add(a=lp(), b=1)

    assert lp() == 40
    assert parent() == 41


def test_current_context_and_decks():
    @task(deck=True)
    def introspect() -> str:
        ctx = current_context()
        ctx.add_deck("summary", "<p>hello</p>")
        assert Path(ctx.working_directory).is_dir()
        return f"{ctx.execution_name}:{ctx.attempt}"

    @workflow
    def wf() -> str:
        return introspect()

    assert wf().endswith(":0")


def test_no_temporary_folders_are_left_behind():
    before = set(Path(tempfile.gettempdir()).glob("roost-*"))
    diamond(x=1)
    double(x=1)
    assert set(Path(tempfile.gettempdir()).glob("roost-*")) == before


def test_importing_roost_writes_nothing_and_imports_little():
    code = (
        "import sys, roost; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'numpy', 'flyteidl', 'rich', 'click', 'roost_core.engine') "
        "if m in sys.modules]; print(heavy)"
    )
    env = {**os.environ, "HOME": tempfile.mkdtemp(prefix="roost-home-test-")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
    assert list(Path(env["HOME"]).iterdir()) == []
    os.rmdir(env["HOME"])


def test_run_local_reports_the_execution_and_keeps_returned_files(tmp_path):
    @task
    def write() -> File:
        path = Path(current_context().working_directory) / "out.txt"
        path.write_text("kept")
        return File(str(path))

    @workflow
    def wf() -> File:
        return write()

    result = run_local(wf, {})
    assert result.name.startswith("local-")
    assert Path(result.outputs.download()).read_text() == "kept"
    assert result.outputs_folder is not None and str(result.outputs_folder).startswith(str(tmp_path))
