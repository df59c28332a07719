"""Resuming an execution on an edited version (RecoverExecution with Roost's resume headers): what is
unchanged is reused, an edited task and everything downstream runs again, and the dry run predicts it; on
SQLite and PostgreSQL. The flows are written to a folder per test, so a test can edit a task's code."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import registry_flows
from execution_support import TESTS, fails, literal_map, outputs, running_admin, wait
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from roost import LaunchPlan
from roost.serialize import SerializationSettings, Serializer

PROJECT = registry_flows.PROJECT
DOMAIN = registry_flows.DOMAIN
MODULE = "resume_chain"
LAUNCH_PLAN = f"{MODULE}.rchain"
SUCCEEDED = core_execution_pb2.WorkflowExecution.SUCCEEDED
STEPS = {"r1": "x + 1", "r2": "x + 2", "r3": "x + 3", "r4": "x + 4", "r5": "x + 5"}

_SOURCE = '''
import os

from roost import task, workflow


def _note(what):
    with open(os.environ["RECOVER_LOG"], "a") as out:
        out.write(what + "\\n")

{tasks}

@workflow
def rchain(x: {x_type}) -> int:
    """Five deterministic steps."""
    return r5(x=r4(x=r3(x=r2(x=r1(x=x)))))


@workflow
def other(x: int) -> int:
    """Another workflow."""
    return r1(x=x)
'''

_TASK = '''
@task(deterministic=True)
def {name}(x: int) -> int:
    """A step."""
    _note("{name}")
    if "{name}" == "r4" and os.path.exists(os.environ["RECOVER_FLAG"]):
        raise RuntimeError("the flag is up")
    return {body}
'''


class Bench:
    """An admin, and a flows module this test may edit and register under new versions."""

    def __init__(self, admin: admin_pb2_grpc.AdminServiceStub, folder: Path) -> None:
        self.admin = admin
        self.folder = folder
        self.log = folder / "ran.log"
        self.flag = folder / "flag"

    def write(self, version: str, x_type: str = "int", **edits: str) -> ModuleType:
        """Write the flows with ``edits`` (task name → body), import them and register them as ``version``."""
        bodies = {**STEPS, **edits}
        tasks = "".join(_TASK.format(name=name, body=body) for name, body in bodies.items())
        tasks = tasks.replace("def r1(x: int)", f"def r1(x: {x_type})")
        (self.folder / "mods" / f"{MODULE}.py").write_text(_SOURCE.format(tasks=tasks, x_type=x_type))
        sys.modules.pop(MODULE, None)
        importlib.invalidate_caches()
        module = importlib.import_module(MODULE)
        self.register(version, module.rchain)
        return module

    def register(self, version: str, workflow: Any, launch_plan: str = "") -> None:
        """Register ``workflow`` and a launch plan of it (its default one, or ``launch_plan``)."""
        serializer = Serializer(SerializationSettings(project=PROJECT, domain=DOMAIN, version=version))
        serializer.workflow(workflow)
        serializer.launch_plan(LaunchPlan(workflow, launch_plan or workflow.name))
        registry_flows.register(self.admin, serializer)

    def runs(self) -> Counter[str]:
        """What ran since the last call."""
        if not self.log.exists():
            return Counter()
        lines = self.log.read_text().splitlines()
        self.log.unlink()
        return Counter(lines)

    def run(self, version: str, **inputs: Any) -> identifier_pb2.WorkflowExecutionIdentifier:
        lp = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name=LAUNCH_PLAN,
            version=version,
        )
        ident = self.admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                spec=execution_pb2.ExecutionSpec(launch_plan=lp),
                inputs=literal_map(**inputs),
            )
        ).id
        wait(self.admin, ident)
        return ident

    def resume(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier, version: str, *, dry_run: bool = False
    ) -> Any:
        """Resume on ``version``: the new execution once it ended, or the dry run's plan."""
        metadata = [("roost-resume-version", version)]
        if dry_run:
            metadata.append(("roost-resume-dry-run", "true"))
        response, call = self.admin.RecoverExecution.with_call(
            execution_pb2.ExecutionRecoverRequest(id=ident), metadata=metadata
        )
        if dry_run:
            trailing = dict(call.trailing_metadata())
            assert not response.HasField("id")
            return {d["node"]: (d["reuse"], d["reason"]) for d in json.loads(trailing["roost-resume-plan"])}
        return wait(self.admin, response.id)

    def executions(self) -> int:
        listed = self.admin.ListExecutions(
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=100
            )
        )
        return len(listed.executions)


@contextmanager
def bench(tmp_path: Path, database_url: str) -> Iterator[Bench]:
    mods = tmp_path / "mods"
    mods.mkdir()
    env = {
        "PYTHONPATH": f"{mods}:{TESTS}",
        "RECOVER_LOG": str(tmp_path / "ran.log"),
        "RECOVER_FLAG": str(tmp_path / "flag"),
    }
    engine = {"task_environment": {"env": env}, "handlers": {"local-process": {}}}
    sys.path.insert(0, str(mods))
    try:
        with running_admin(tmp_path, database_url, register=False, engine=engine) as (_, admin, _signals):
            yield Bench(admin, tmp_path)
    finally:
        sys.path.remove(str(mods))
        sys.modules.pop(MODULE, None)


def _failed_original(b: Bench) -> identifier_pb2.WorkflowExecutionIdentifier:
    b.write("v1")
    b.flag.touch()
    original = b.run("v1", x=0)
    assert b.runs() == Counter(r1=1, r2=1, r3=1, r4=1)
    b.flag.unlink()
    return original


def test_editing_step_4_reruns_steps_4_and_5_as_the_dry_run_predicts(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        original = _failed_original(b)
        b.write("v2", r4="x + 40")
        plan = b.resume(original, "v2", dry_run=True)
        assert plan == {
            "n0": (True, "unchanged"),
            "n1": (True, "unchanged"),
            "n2": (True, "unchanged"),
            "n3": (False, f"task '{MODULE}.r4' changed"),
            "n4": (False, "a node it depends on re-runs"),
        }
        assert b.executions() == 1  # a dry run creates nothing
        resumed = b.resume(original, "v2")
        assert resumed.closure.phase == SUCCEEDED
        assert b.runs() == Counter(r4=1, r5=1)
        assert outputs(b.admin, resumed.id) == {"o0": 1 + 2 + 3 + 40 + 5}
        assert resumed.spec.launch_plan.version == "v2"
        assert resumed.spec.metadata.mode == execution_pb2.ExecutionMetadata.RECOVERED
        assert resumed.spec.metadata.reference_execution == original


def test_editing_step_2_reruns_steps_2_to_5_as_the_dry_run_predicts(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        original = _failed_original(b)
        b.write("v2", r2="x + 20")
        plan = b.resume(original, "latest", dry_run=True)
        assert plan["n0"] == (True, "unchanged")
        assert plan["n1"] == (False, f"task '{MODULE}.r2' changed")
        assert [plan[n] for n in ("n2", "n3", "n4")] == [(False, "a node it depends on re-runs")] * 3
        resumed = b.resume(original, "latest")
        assert resumed.closure.phase == SUCCEEDED
        assert b.runs() == Counter(r2=1, r3=1, r4=1, r5=1)
        assert outputs(b.admin, resumed.id) == {"o0": 1 + 20 + 3 + 4 + 5}


def test_tasks_not_declared_deterministic_are_never_reused(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        original = _failed_original(b)
        module = b.write("v2")  # the code of v1 under another version: its steps are reused
        plan = b.resume(original, "v2", dry_run=True)
        assert [plan[n][0] for n in ("n0", "n1", "n2", "n3")] == [True, True, True, False]
        b.register("v3", _undeclared(module))
        plan = b.resume(original, "v3", dry_run=True)
        assert plan["n0"] == (False, f"task '{MODULE}.r1' is not declared deterministic")
        resumed = b.resume(original, "v3")
        assert resumed.closure.phase == SUCCEEDED
        assert b.runs() == Counter(r1=1, r2=1, r3=1, r4=1, r5=1)


def _undeclared(module: ModuleType) -> Any:
    for name in STEPS:
        task = getattr(module, name)
        task.options = dataclasses.replace(task.options, deterministic=False)
    return module.rchain


def test_resume_refuses_incompatible_versions_and_creates_nothing(tmp_path, database_url):
    with bench(tmp_path, database_url) as b:
        original = _failed_original(b)
        key = f"{PROJECT}/{DOMAIN}/{original.name}"
        request = execution_pb2.ExecutionRecoverRequest(id=original)

        b.write("v2", x_type="str", r1="int(x) + 1")
        error = fails(
            lambda r: b.admin.RecoverExecution(r, metadata=[("roost-resume-version", "v2")]), request
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == (
            f"workflow '{LAUNCH_PLAN}@v2' cannot resume execution {key}: input 'x' changed type from int to str"
        )

        error = fails(
            lambda r: b.admin.RecoverExecution(r, metadata=[("roost-resume-version", "v7")]), request
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == (
            f"launch plan '{PROJECT}/{DOMAIN}/{LAUNCH_PLAN}@v7' does not exist: execution {key} can be resumed "
            "only on a registered version of its launch plan"
        )

        module = b.write("v3")
        b.register("v9", module.other, LAUNCH_PLAN)
        error = fails(
            lambda r: b.admin.RecoverExecution(r, metadata=[("roost-resume-version", "v9")]), request
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == (
            f"launch plan '{LAUNCH_PLAN}@v9' runs workflow '{MODULE}.other', not '{LAUNCH_PLAN}' which "
            f"execution {key} ran: an execution resumes only on a version of its own workflow"
        )

        error = fails(
            lambda r: b.admin.RecoverExecution(r, metadata=[("roost-resume-dry-run", "true")]), request
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == (
            "roost-resume-dry-run plans a resume: it needs roost-resume-version (a version or 'latest')"
        )
        assert b.executions() == 1

        b.flag.touch()
        task = identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=PROJECT,
            domain=DOMAIN,
            name=f"{MODULE}.r4",
            version="v1",
        )
        single = b.admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                spec=execution_pb2.ExecutionSpec(launch_plan=task),
                inputs=literal_map(x=1),
            )
        ).id
        wait(b.admin, single)
        error = fails(
            lambda r: b.admin.RecoverExecution(r, metadata=[("roost-resume-version", "v3")]),
            execution_pb2.ExecutionRecoverRequest(id=single),
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == (
            f"execution {PROJECT}/{DOMAIN}/{single.name} ran task '{MODULE}.r4', not a workflow: only workflow "
            "executions can be resumed on another version"
        )
        assert b.executions() == 2
