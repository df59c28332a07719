"""`roost run --resume-from RUN`: a local run resumes from a kept local run, reusing the nodes of deterministic
tasks whose code and inputs are unchanged, and refuses runs of another workflow or interface."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from roost.errors import ExecutionFailedError, ResumeError
from roost.local.resume import runs_folder
from roost.local.runner import local_options, run_local
from roost.tasks import DETERMINISTIC_TAG
from roost_core.engine.recovery import DETERMINISTIC_TAG as ENGINE_TAG

MODULE = "resumable_steps"
MAP_MODULE = "resumable_squares"
SOURCE = """
import os

from roost import task, workflow

LOG = {log!r}
FLAG = {flag!r}


def _note(what):
    with open(LOG, "a") as out:
        out.write(what + "\\n")


@task(deterministic=True)
def a(x: {x_type}) -> int:
    _note("a")
    return int(x) + 1


@task(deterministic=True)
def b(x: int) -> int:
    _note("b")
    return {b_body}


@task(deterministic=True)
def c(x: int) -> int:
    _note("c")
    if os.path.exists(FLAG):
        raise RuntimeError("the flag is up")
    return x + 3


@task
def d(x: int) -> int:
    _note("d")
    return x + 4


@workflow
def steps(x: {x_type}) -> int:
    return d(x=c(x=b(x=a(x=x))))


@workflow
def other(x: int) -> int:
    return a(x=x)
"""


MAP_SOURCE = """
import os

from roost import map_task, task, workflow

LOG = {log!r}
FLAG = {flag!r}


@task(deterministic=True)
def square(x: int) -> int:
    with open(LOG, "a") as out:
        out.write("square\\n")
    return x * x


@task
def total(ys: list[int]) -> int:
    if os.path.exists(FLAG):
        raise RuntimeError("the flag is up")
    return sum(ys)


@workflow
def squares(xs: list[int]) -> int:
    return total(ys=map_task(square)(x=xs))
"""


class Steps:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "ran.log"
        self.flag = folder / "flag"

    def load(self, b_body: str = "x + 2", x_type: str = "int") -> ModuleType:
        text = SOURCE.format(log=str(self.log), flag=str(self.flag), b_body=b_body, x_type=x_type)
        (self.folder / f"{MODULE}.py").write_text(text)
        sys.modules.pop(MODULE, None)
        importlib.invalidate_caches()
        return importlib.import_module(MODULE)

    def load_map(self) -> ModuleType:
        (self.folder / f"{MAP_MODULE}.py").write_text(
            MAP_SOURCE.format(log=str(self.log), flag=str(self.flag))
        )
        sys.modules.pop(MAP_MODULE, None)
        importlib.invalidate_caches()
        return importlib.import_module(MAP_MODULE)

    def runs(self) -> Counter[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return Counter(lines)


@pytest.fixture
def steps(tmp_path: Path):
    sys.path.insert(0, str(tmp_path))
    try:
        yield Steps(tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(MODULE, None)
        sys.modules.pop(MAP_MODULE, None)


def _failed_run(steps: Steps) -> str:
    module = steps.load()
    steps.flag.touch()
    with (
        local_options(keep_for_resume=True, cache=False, progress=False),
        pytest.raises(ExecutionFailedError),
    ):
        run_local(module.steps, {"x": 0})
    assert steps.runs() == Counter(a=1, b=1, c=1)
    steps.flag.unlink()
    kept = sorted(p.name for p in runs_folder().iterdir())
    assert len(kept) == 1
    return kept[0]


def test_the_tag_is_the_engines():
    assert DETERMINISTIC_TAG == ENGINE_TAG


def test_resume_reruns_the_failed_step_and_what_is_not_deterministic(steps: Steps):
    name = _failed_run(steps)
    with local_options(resume_from=name, cache=False, progress=False):
        result = run_local(steps.load().steps, {"x": 0})
    assert result.outputs == 10
    assert steps.runs() == Counter(c=1, d=1)


def test_resume_after_editing_a_step_reruns_it_and_everything_after(steps: Steps):
    name = _failed_run(steps)
    with local_options(resume_from=name, cache=False, progress=False):
        result = run_local(steps.load(b_body="x + 20").steps, {"x": 0})
    assert result.outputs == 1 + 20 + 3 + 4
    assert steps.runs() == Counter(b=1, c=1, d=1)


def test_resume_refuses_unknown_runs_other_workflows_and_changed_interfaces(steps: Steps):
    name = _failed_run(steps)
    module = steps.load()
    with (
        local_options(resume_from="local-nosuch", cache=False, progress=False),
        pytest.raises(ResumeError) as info,
    ):
        run_local(module.steps, {"x": 0})
    assert str(info.value) == f"no local run 'local-nosuch' to resume from (kept runs: {name})"
    with local_options(resume_from=name, cache=False, progress=False), pytest.raises(ResumeError) as info:
        run_local(module.other, {"x": 0})
    assert str(info.value) == (
        f"local run {name!r} ran workflow '{MODULE}.steps', not '{MODULE}.other': a run resumes only from a run "
        "of the same workflow"
    )
    changed = steps.load(x_type="str")
    with local_options(resume_from=name, cache=False, progress=False), pytest.raises(ResumeError) as info:
        run_local(changed.steps, {"x": "0"})
    assert str(info.value) == (
        f"workflow '{MODULE}.steps' cannot resume local run {name!r}: input 'x' changed type from int to str"
    )
    assert steps.runs() == Counter()


def test_resume_reuses_the_indices_of_a_map_whose_outputs_the_run_kept_in_memory(steps: Steps):
    # A local run keeps the outputs of inline map indices in memory only; keeping the run copies them out.
    steps.flag.touch()
    with (
        local_options(keep_for_resume=True, cache=False, progress=False),
        pytest.raises(ExecutionFailedError),
    ):
        run_local(steps.load_map().squares, {"xs": [1, 2, 3, 4]})
    assert steps.runs() == Counter(square=4)
    steps.flag.unlink()
    (name,) = [p.name for p in runs_folder().iterdir()]
    with local_options(resume_from=name, cache=False, progress=False):
        result = run_local(steps.load_map().squares, {"xs": [1, 2, 3, 4]})
    assert result.outputs == 1 + 4 + 9 + 16
    assert steps.runs() == Counter()
