"""The handler conformance suite on a small in-memory job service: a correct handler passes every check, and
deliberately broken ones fail with messages that point at the defect."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2

from roost_core import hookimpl
from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskHandler, TaskPhase, Transition
from roost_core.remote import attempt_job_id
from roost_core.testing.conformance import (
    ConformanceError,
    HandlerConformance,
    PluginUnderTest,
    TaskCase,
    phase_regressions,
)
from roost_core.testing.tasks import integer, interface, task_template


class JobService:
    """The external system: jobs that finish ``seconds`` after submission, or fail when asked to."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.submissions = 0

    def submit(self, key: str, seconds: float, fail: bool) -> None:
        with self.lock:
            if key not in self.jobs:
                self.submissions += 1
                self.jobs[key] = {"done_at": time.monotonic() + seconds, "fail": fail, "cancelled": False}

    def status(self, key: str) -> str:
        with self.lock:
            job = self.jobs[key]
        if job["cancelled"]:
            return "cancelled"
        if time.monotonic() < job["done_at"]:
            return "running"
        return "failed" if job["fail"] else "done"

    def cancel(self, key: str) -> None:
        with self.lock:
            if key in self.jobs:
                self.jobs[key]["cancelled"] = True

    def running(self) -> int:
        return sum(1 for key in list(self.jobs) if self.status(key) == "running")


class JobHandler(TaskHandler):
    """A correct handler of ``toy-job`` tasks on the service."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    def key(self, ctx: TaskContext) -> str:
        return attempt_job_id(ctx.task_execution_id)

    def handle(self, ctx: TaskContext) -> Transition:
        custom = dict(ctx.task.custom.fields)
        key = self.key(ctx)
        if not ctx.state:
            seconds = custom["seconds"].number_value
            self.service.submit(key, seconds, custom["fail"].bool_value)
            return Transition.queued(state={"job": key}, wake_after=0.05)
        status = self.service.status(str(ctx.state["job"]))
        if status == "running":
            return Transition.running(state=dict(ctx.state), wake_after=0.05)
        if status == "failed":
            return Transition.failure("ToyJobFailed", f"job {key} failed", kind=ErrorKind.USER)
        if status == "cancelled":
            return Transition.failure("ToyJobCancelled", f"job {key} was cancelled", kind=ErrorKind.SYSTEM)
        ctx.write_outputs(literals_pb2.LiteralMap(literals={"o0": integer(1)}))
        return Transition.success()

    def abort(self, ctx: TaskContext) -> None:
        if ctx.state:
            self.service.cancel(str(ctx.state["job"]))


class SubmitsTwice(JobHandler):
    """Repeating a call submits another job: the job's key is not the attempt's."""

    def key(self, ctx: TaskContext) -> str:
        return f"{attempt_job_id(ctx.task_execution_id)}-{time.monotonic_ns()}"


class AbortRaises(JobHandler):
    def abort(self, ctx: TaskContext) -> None:
        raise KeyError("job")


class GoesBack(JobHandler):
    """Reports QUEUED again after it reported RUNNING."""

    def handle(self, ctx: TaskContext) -> Transition:
        transition = super().handle(ctx)
        if transition.phase is TaskPhase.RUNNING and ctx.state.get("ran"):
            return Transition.queued(state=dict(ctx.state), wake_after=0.05)
        if transition.phase is TaskPhase.RUNNING:
            return Transition.running(state={**ctx.state, "ran": True}, wake_after=0.05)
        return transition


class ForgetsTheEnd(JobHandler):
    """A repeated final call no longer knows the job ended (it forgot the job when it reported the end)."""

    def __init__(self, service: JobService) -> None:
        super().__init__(service)
        self.ended: set[str] = set()

    def handle(self, ctx: TaskContext) -> Transition:
        key = self.key(ctx)
        if key in self.ended:
            return Transition.running(state=dict(ctx.state), wake_after=0.05)
        transition = super().handle(ctx)
        if transition.phase.is_terminal:
            self.ended.add(key)
        return transition


class GivesUpAfterTheFirstFailure(JobHandler):
    """Only its first failure is retryable (the check's probe): on the engine, a failing task is not retried."""

    def handle(self, ctx: TaskContext) -> Transition:
        transition = super().handle(ctx)
        if transition.phase is TaskPhase.RETRYABLE_FAILURE and self.service.submissions > 1:
            return Transition.failure("ToyJobFailed", f"job {self.key(ctx)} failed for good", retryable=False)
        return transition


class TupleState(JobHandler):
    def handle(self, ctx: TaskContext) -> Transition:
        transition = super().handle(ctx)
        return Transition.queued(state={"job": (self.key(ctx),)}) if not ctx.state else transition


class BlocksInHandle(JobHandler):
    """Waits for the job it submitted."""

    def handle(self, ctx: TaskContext) -> Transition:
        transition = super().handle(ctx)
        while self.service.running():
            time.sleep(0.01)
        return transition


def job_plugin(factory: Callable[[], TaskHandler]) -> object:
    class Plugin:
        @hookimpl
        def roost_task_handlers(self, register: Any) -> None:
            register("toy", factory, task_types=["toy-job"], default=True)

    return Plugin()


def job_case(seconds: float = 0.0, *, fail: bool = False) -> TaskCase:
    template = task_template(
        "toy-job", typed_interface=interface(outputs=["o0"]), custom={"seconds": seconds, "fail": fail}
    )
    return TaskCase(template, outputs=literals_pb2.LiteralMap(literals={"o0": integer(1)}))


def under_test(handler: type[JobHandler], service: JobService, **options: Any) -> PluginUnderTest:
    return PluginUnderTest(
        plugins=[job_plugin(lambda: handler(service))],
        handler="toy",
        succeeds=job_case(),
        slow=job_case(3.0),
        fails_user=job_case(fail=True),
        submissions=lambda: service.submissions,
        running=service.running,
        handle_budget=2.0,
        exemptions={
            "system_error": "the in-memory service is always reachable",
            "local_run": "no SDK side",
            "roost_start": "no SDK side",
        },
        **options,
    )


class TestACorrectHandlerConforms(HandlerConformance):
    @pytest.fixture
    def plugin(self) -> PluginUnderTest:
        return under_test(JobHandler, JobService())


SUITE = HandlerConformance()


@pytest.mark.parametrize(
    ("handler", "check", "message"),
    [
        (
            SubmitsTwice,
            "test_handle_is_idempotent",
            r"toy: handle\(\) is not idempotent: repeating each call submitted 2 jobs",
        ),
        (
            AbortRaises,
            "test_abort_and_finalize_are_safe_before_the_first_handle",
            r"toy: abort\(\) before the first handle\(\) raised KeyError",
        ),
        (AbortRaises, "test_abort_is_idempotent", r"toy: abort\(\) of a running task raised KeyError"),
        (
            ForgetsTheEnd,
            "test_handle_is_idempotent",
            r"toy: handle\(\) is not idempotent: called twice with the same state in round \d+, it ended the "
            r"task \(SUCCESS\), then said RUNNING; a repeated final call must end the same way",
        ),
        (GoesBack, "test_phases_move_forward", r"toy: phases went backwards: call \d+: RUNNING -> QUEUED"),
        (TupleState, "test_state_round_trips_through_json", r"toy: the plugin state changes through JSON"),
        (
            GivesUpAfterTheFirstFailure,
            "test_retries_are_honoured",
            r"toy: with 2 retries the retryable failure ran 1 attempts, expected 3; the last one ended with .*"
            r"failed for good",
        ),
        (BlocksInHandle, "test_handle_does_not_block", r"toy: handle\(\) blocked for more than 2 s"),
    ],
)
def test_a_broken_handler_fails_its_check_naming_the_defect(
    handler: type[JobHandler], check: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConformanceError, match=message):
        getattr(SUITE, check)(under_test(handler, JobService()), tmp_path)


def test_a_check_without_its_case_fails_unless_exempted(tmp_path: Path) -> None:
    plugin = under_test(JobHandler, JobService())
    plugin.slow = None
    with pytest.raises(ConformanceError, match="toy: check 'abort_is_idempotent' needs a slow case"):
        SUITE.test_abort_is_idempotent(plugin, tmp_path)
    plugin.exemptions = {**plugin.exemptions, "abort_is_idempotent": "no slow jobs here"}
    with pytest.raises(pytest.skip.Exception, match="exempt from 'abort_is_idempotent': no slow jobs here"):
        SUITE.test_abort_is_idempotent(plugin, tmp_path)


def test_an_exemption_must_name_a_check() -> None:
    with pytest.raises(ValueError, match=r"exemptions name unknown checks \['abort'\]"):
        PluginUnderTest(plugins=[], handler="toy", succeeds=job_case(), exemptions={"abort": "typo"})


def test_phase_regressions_name_the_call_and_the_phases() -> None:
    transitions = [
        Transition(TaskPhase.QUEUED),
        Transition(TaskPhase.INITIALIZING, version=2),
        Transition(TaskPhase.INITIALIZING, version=1),
        Transition(TaskPhase.QUEUED),
    ]
    assert phase_regressions(transitions) == [
        "call 3: INITIALIZING version 2 -> 1",
        "call 4: INITIALIZING -> QUEUED",
    ]
