"""A slow remote system, a remote job plugin for it, and a workflow whose only task is such a job: what the
parking tests need to show that an execution waiting on a remote job holds no worker slot between polls.

The service's jobs report RUNNING until the test lets them finish (:meth:`SlowService.release`), then
finish after ``polls`` more status fetches, with ten times their input. It counts submissions by the
request id the plugin sends (the attempt's job id), so a second submission of one attempt is seen.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from flyteidl.core import literals_pb2

from roost import workflow
from roost.tasks import FunctionTask
from roost_core.extend import hookimpl
from roost_core.handler import TaskContext, Transition
from roost_core.remote import JobMeta, RemoteJobHandler, RemoteJobPlugin, RemoteJobSettings, attempt_job_id

TASK_TYPE = "slow-job"


class SlowService:
    """A thread-safe stand-in for a remote system whose jobs take a while."""

    def __init__(self, polls: int = 3) -> None:
        self.polls = polls
        """Status fetches a job needs, once released, before it finishes."""
        self.submissions: Counter[str] = Counter()
        """Submissions by request id."""
        self._lock = threading.Lock()
        self._jobs: dict[str, int] = {}
        self._polls_left: dict[str, int] = {}
        self._released = False

    def submit(self, request_id: str, x: int) -> str:
        """Start a job (every call counts, even a repeated one); returns its id."""
        with self._lock:
            self.submissions[request_id] += 1
            self._jobs.setdefault(request_id, x)
            self._polls_left.setdefault(request_id, self.polls)
            return request_id

    def release(self) -> None:
        """Let every job finish after its remaining polls."""
        with self._lock:
            self._released = True

    def status(self, job_id: str) -> tuple[str, int]:
        """``("RUNNING", 0)`` or ``("DONE", result)``."""
        with self._lock:
            if self._released and self._polls_left[job_id] > 0:
                self._polls_left[job_id] -= 1
            if self._released and self._polls_left[job_id] == 0:
                return ("DONE", 10 * self._jobs[job_id])
            return ("RUNNING", 0)


class SlowJobPlugin(RemoteJobPlugin[tuple[str, int]]):
    """Runs ``slow-job`` tasks on a :class:`SlowService`."""

    name = TASK_TYPE

    def __init__(self, service: SlowService) -> None:
        self.service = service

    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
        """Submit the job under the attempt's id."""
        x = inputs.literals["x"].scalar.primitive.integer
        return {"id": self.service.submit(attempt_job_id(ctx.task_execution_id), x)}

    def get(self, meta: JobMeta) -> tuple[str, int]:
        """The job's status."""
        return self.service.status(meta["id"])

    def delete(self, meta: JobMeta) -> None:
        """Nothing to cancel in these tests."""

    def status(self, ctx: TaskContext, resource: tuple[str, int]) -> Transition:
        """Success with the job's result as ``o0`` once it is done."""
        state, result = resource
        if state == "DONE":
            value = literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=result))
            )
            ctx.write_outputs(literals_pb2.LiteralMap(literals={"o0": value}))
            return Transition.success()
        return Transition.running(reason="the job is running")


class SlowJobHooks:
    """The engine plugin registering the ``slow-job`` handler for one service."""

    def __init__(self, service: SlowService) -> None:
        self.service = service

    @hookimpl
    def roost_task_handlers(self, register: Any) -> None:
        """Register the handler."""

        def build(settings: RemoteJobSettings) -> RemoteJobHandler[Any]:
            return RemoteJobHandler(SlowJobPlugin(self.service), settings)

        register(TASK_TYPE, build, task_types=[TASK_TYPE], default=True, settings=RemoteJobSettings)


class SlowJobTask(FunctionTask):
    """A task the ``slow-job`` handler runs as a remote job."""

    task_type = TASK_TYPE
    runs_in_process = False


def _slow_job(x: int) -> int:
    """What the remote job computes: ten times x."""
    return 10 * x


slow_job = SlowJobTask(_slow_job)


@workflow
def waits_on_job(x: int) -> int:
    """One remote job."""
    return slow_job(x=x)
