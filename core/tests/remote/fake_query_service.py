"""An in-process query service and a remote job plugin for it, plus what tests need to drive rounds.

The service's jobs go QUEUED -> RUNNING -> SUCCEEDED / FAILED when the test says so. It deduplicates
submissions by request id (as real services do with a client-supplied id), counts every call, can be
told to fail the next submissions or polls, and supports cancel.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2

from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskLog, Transition
from roost_core.remote import (
    JobMeta,
    RemoteJobHandler,
    RemoteJobPlugin,
    RemoteJobSettings,
    UserError,
    attempt_job_id,
)
from roost_core.storage import Storage

TASK_NAME = "queries.count"


class QueryRejectedError(Exception):
    """The service refused a statement."""


class JobNotFoundError(Exception):
    """No job with that id (any more)."""


@dataclass(frozen=True)
class QueryJob:
    """What the service reports about a job: small and comparable, as ``get`` results should be."""

    job_id: str
    state: str
    rows: int = 0
    error: str = ""


class FakeQueryService:
    """A thread-safe stand-in for a remote query engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, QueryJob] = {}
        self._by_request: dict[str, str] = {}
        self.statements: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.fail_submits = 0
        self.fail_polls = 0
        self.fail_cancels = 0

    def submit(self, statement: str, *, request_id: str) -> str:
        """Start a query, or return the job already started for ``request_id``."""
        with self._lock:
            self.calls["submit"] += 1
            if self.fail_submits:
                self.fail_submits -= 1
                raise ConnectionError("query service unavailable")
            if "SELEC " in statement:
                raise QueryRejectedError("syntax error near 'SELEC'")
            if request_id in self._by_request:
                return self._by_request[request_id]
            job_id = f"q-{len(self._jobs) + 1}"
            self._jobs[job_id] = QueryJob(job_id, "QUEUED")
            self._by_request[request_id] = job_id
            self.statements[job_id] = statement
            return job_id

    def poll(self, job_id: str) -> QueryJob:
        """The job's current state."""
        with self._lock:
            self.calls["poll"] += 1
            if self.fail_polls:
                self.fail_polls -= 1
                raise TimeoutError("poll timed out")
            try:
                return self._jobs[job_id]
            except KeyError:
                raise JobNotFoundError(job_id) from None

    def cancel(self, job_id: str) -> None:
        """Cancel a job; cancelling a finished or unknown job is not an error."""
        with self._lock:
            self.calls["cancel"] += 1
            if self.fail_cancels:
                self.fail_cancels -= 1
                raise ConnectionError("query service unavailable")
            job = self._jobs.get(job_id)
            if job is not None and job.state in ("QUEUED", "RUNNING"):
                self._jobs[job_id] = replace(job, state="CANCELLED")

    def job(self, job_id: str) -> QueryJob:
        """The job as the service sees it, without counting a poll."""
        with self._lock:
            return self._jobs[job_id]

    def job_ids(self) -> list[str]:
        """Every job ever started."""
        with self._lock:
            return list(self._jobs)

    def set_state(self, job_id: str, state: str, *, rows: int = 0, error: str = "") -> None:
        """Move a job on (the test plays the query engine)."""
        with self._lock:
            self._jobs[job_id] = QueryJob(job_id, state, rows, error)

    def forget(self, job_id: str) -> None:
        """Drop a job, as if its owner deleted it out of band."""
        with self._lock:
            del self._jobs[job_id]


class QueryPlugin(RemoteJobPlugin[QueryJob]):
    """A plugin written the way the docs tell plugin authors to write one."""

    name = "fake-query"

    def __init__(self, service: FakeQueryService) -> None:
        self.service = service
        self.get_threads: list[str] = []

    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
        statement = ctx.task.custom["statement"]
        limit = inputs.literals["limit"].scalar.primitive.integer
        try:
            job_id = self.service.submit(
                f"{statement} LIMIT {limit}", request_id=attempt_job_id(ctx.task_execution_id)
            )
        except QueryRejectedError as exc:
            raise UserError(f"query rejected: {exc}") from exc
        return {"id": job_id}

    def get(self, meta: JobMeta) -> QueryJob:
        self.get_threads.append(threading.current_thread().name)
        try:
            return self.service.poll(meta["id"])
        except JobNotFoundError:
            raise UserError(f"query {meta['id']} no longer exists", code="QueryGone") from None

    def delete(self, meta: JobMeta) -> None:
        self.service.cancel(meta["id"])

    def status(self, ctx: TaskContext, resource: QueryJob) -> Transition:
        if resource.state == "QUEUED":
            return Transition.queued(reason="queued on the query service")
        if resource.state == "RUNNING":
            return Transition.running(
                logs=(TaskLog("Query console", f"https://queries.example/{resource.job_id}"),)
            )
        if resource.state == "SUCCEEDED":
            ctx.write_outputs(literals_pb2.LiteralMap(literals={"rows": integer(resource.rows)}))
            return Transition.success()
        if resource.state == "FAILED":
            return Transition.failure("QueryFailed", resource.error, retryable=False)
        return Transition.failure(
            "QueryCancelled", f"the query is {resource.state.lower()}", kind=ErrorKind.SYSTEM
        )


class QuerySettings(RemoteJobSettings):
    """The machinery's settings plus the plugin's own, as a plugin author declares them."""

    endpoint: str = "https://queries.example"
    """Where the query service is."""


def integer(value: int) -> literals_pb2.Literal:
    """An integer literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


FAST = {
    "resync_interval": 0.005,
    "workers": 2,
    "read_rate_limit": {"qps": 10000, "burst": 10000},
    "write_rate_limit": {"qps": 10000, "burst": 10000},
    "max_system_failures": 2,
}
"""Test settings: statuses refresh every 5 ms; limits stay out of the way unless set."""


def settings(**overrides: Any) -> dict[str, Any]:
    """The fast test settings with some keys replaced."""
    return {**FAST, **overrides}


def make_ctx(
    storage: Storage,
    *,
    node: str = "n0",
    attempt: int = 0,
    statement: str = "SELECT count(*) FROM trips",
    limit: int = 10,
    notify: Callable[[], None] = lambda: None,
    output_prefix: str | None = None,
    state: Mapping[str, Any] | None = None,
) -> TaskContext:
    """A task context as the engine builds it, with the inputs written to ``mem://``."""
    execution = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="e1")
    task_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="p", domain="d", name=TASK_NAME, version="v1"
    )
    integer_type = types_pb2.LiteralType(simple=types_pb2.INTEGER)
    task = tasks_pb2.TaskTemplate(
        id=task_id,
        type="fake-query",
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"limit": interface_pb2.Variable(type=integer_type)}),
            outputs=interface_pb2.VariableMap(variables={"rows": interface_pb2.Variable(type=integer_type)}),
        ),
    )
    task.custom.update({"statement": statement})
    prefix = f"mem://runs/e1/{node}/{attempt}"
    inputs_uri = f"{prefix}/inputs.pb"
    storage.write_proto(inputs_uri, literals_pb2.LiteralMap(literals={"limit": integer(limit)}))
    return TaskContext(
        task=task,
        task_execution_id=identifier_pb2.TaskExecutionIdentifier(
            task_id=task_id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=execution),
            retry_attempt=attempt,
        ),
        node_id=node,
        storage=storage,
        inputs_uri=inputs_uri,
        output_prefix=output_prefix or f"{prefix}/out",
        raw_output_prefix=f"{prefix}/raw",
        checkpoint_prefix=f"{prefix}/checkpoint",
        prev_checkpoint_prefix="",
        state=dict(state or {}),
        notify=notify,
    )


def step(handler: RemoteJobHandler[Any], ctx: TaskContext) -> Transition:
    """One engine round: call ``handle``, keep the state it returns (through JSON, as persisted)."""
    transition = handler.handle(ctx)
    if transition.state is not None:
        ctx.state = json.loads(json.dumps(transition.state))
    return transition


def where(node: str = "n0", attempt: int = 0) -> str:
    """How messages name the test task's attempt."""
    return f"task {TASK_NAME!r} (execution p/d/e1, node {node}, attempt {attempt})"
