"""The whole state of an execution, as plain data: what a state store saves after every round.

Everything a new engine process needs to pick an execution up is here: node phases, attempts, plugin
state, where inputs and outputs live, the handler cleanups owed to ended attempts, and the events not yet
delivered. Compiled workflows and data live
in blob storage and are referenced by URI. ``to_dict`` gives JSON-able data; ``from_dict`` reverses it.
Defaults are left out of the dict, so a 10k-node execution stays small.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from flyteidl.core import tasks_pb2, workflow_pb2
from flyteidl.event import event_pb2
from google.protobuf.message import Message

from roost_core.engine.phases import NodePhase, WorkflowPhase
from roost_core.errors import ExecutionError
from roost_core.events.event import Event, EventMessage
from roost_core.handler import TaskPhase

STATE_FORMAT = 1
"""Bumped when the shape of the saved state changes incompatibly."""


@dataclass(slots=True)
class TaskAttemptState:
    """The current attempt of a task: what the handler reported last, and its plugin state."""

    phase: int = 0
    """The last TaskPhase the handler reported; 0 until it was first called."""
    version: int = 0
    plugin_state: dict[str, Any] | None = None
    plugin_state_version: int = 0
    reason: str = ""
    logs: list[tuple[str, str]] = field(default_factory=list)
    wake_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data, defaults omitted."""
        data: dict[str, Any] = {}
        if self.phase:
            data["phase"] = self.phase
        if self.version:
            data["version"] = self.version
        if self.plugin_state is not None:
            data["plugin_state"] = self.plugin_state
            data["plugin_state_version"] = self.plugin_state_version
        if self.reason:
            data["reason"] = self.reason
        if self.logs:
            data["logs"] = [list(log) for log in self.logs]
        if self.wake_at is not None:
            data["wake_at"] = self.wake_at
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskAttemptState:
        """Inverse of :meth:`to_dict`."""
        return cls(
            phase=data.get("phase", 0),
            version=data.get("version", 0),
            plugin_state=data.get("plugin_state"),
            plugin_state_version=data.get("plugin_state_version", 0),
            reason=data.get("reason", ""),
            logs=[(name, uri) for name, uri in data.get("logs", [])],
            wake_at=data.get("wake_at"),
        )


@dataclass(slots=True)
class NodeState:
    """One node execution. Array sub-nodes use the same shape, kept inside their array node."""

    phase: NodePhase = NodePhase.NOT_YET_STARTED
    attempt: int = 0
    """The current attempt, from 0 (the ``retry_attempt`` of task events)."""
    system_failures: int = 0
    queued_at: float | None = None
    attempt_started_at: float | None = None
    updated_at: float | None = None
    error: ExecutionError | None = None
    message: str = ""
    inputs_uri: str = ""
    outputs_uri: str = ""
    cache_status: int = 0
    task: TaskAttemptState | None = None
    branch_taken: str = ""
    dynamic_closure_uri: str = ""
    child_execution: str = ""
    wake_at: float | None = None
    subnodes: list[NodeState] | None = None
    array_version: int = 0

    @property
    def attempt_in_flight(self) -> bool:
        """Whether a handler holds a started, unfinished attempt of this node (or map index)."""
        task = self.task
        return task is not None and 0 <= task.phase < TaskPhase.SUCCESS

    def to_dict(self) -> dict[str, Any]:
        """Plain data, defaults omitted."""
        data: dict[str, Any] = {"phase": int(self.phase)}
        for name in ("attempt", "system_failures", "array_version", "cache_status"):
            value = getattr(self, name)
            if value:
                data[name] = value
        for name in ("queued_at", "attempt_started_at", "updated_at", "wake_at"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        for name in (
            "message",
            "inputs_uri",
            "outputs_uri",
            "branch_taken",
            "dynamic_closure_uri",
            "child_execution",
        ):
            value = getattr(self, name)
            if value:
                data[name] = value
        if self.error is not None:
            data["error"] = self.error.to_dict()
        if self.task is not None:
            data["task"] = self.task.to_dict()
        if self.subnodes is not None:
            data["subnodes"] = [sub.to_dict() for sub in self.subnodes]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeState:
        """Inverse of :meth:`to_dict`."""
        error = data.get("error")
        task = data.get("task")
        subnodes = data.get("subnodes")
        return cls(
            phase=NodePhase(data["phase"]),
            attempt=data.get("attempt", 0),
            system_failures=data.get("system_failures", 0),
            queued_at=data.get("queued_at"),
            attempt_started_at=data.get("attempt_started_at"),
            updated_at=data.get("updated_at"),
            error=ExecutionError.from_dict(error) if error else None,
            message=data.get("message", ""),
            inputs_uri=data.get("inputs_uri", ""),
            outputs_uri=data.get("outputs_uri", ""),
            cache_status=data.get("cache_status", 0),
            task=TaskAttemptState.from_dict(task) if task is not None else None,
            branch_taken=data.get("branch_taken", ""),
            dynamic_closure_uri=data.get("dynamic_closure_uri", ""),
            child_execution=data.get("child_execution", ""),
            wake_at=data.get("wake_at"),
            subnodes=[NodeState.from_dict(s) for s in subnodes] if subnodes is not None else None,
            array_version=data.get("array_version", 0),
        )


def _proto_text(message: Message) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


@dataclass(slots=True)
class AttemptRecord:
    """One task attempt as its handler sees it: enough to rebuild its TaskContext in another process.

    The execution is the one whose state holds the record; the rest of the context (storage, the
    handler's configuration, labels, environment) comes from the engine and the execution's options.
    """

    handler: str
    task: tasks_pb2.TaskTemplate
    node_id: str
    attempt: int
    inputs_uri: str
    output_prefix: str
    raw_output_prefix: str
    prev_checkpoint_prefix: str
    plugin_state: dict[str, Any] = field(default_factory=dict)
    interruptible: bool = False
    overrides: workflow_pb2.TaskNodeOverrides | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, defaults omitted; protos as base64."""
        data: dict[str, Any] = {
            "handler": self.handler,
            "task": _proto_text(self.task),
            "node_id": self.node_id,
            "attempt": self.attempt,
            "inputs_uri": self.inputs_uri,
            "output_prefix": self.output_prefix,
            "raw_output_prefix": self.raw_output_prefix,
        }
        if self.prev_checkpoint_prefix:
            data["prev_checkpoint_prefix"] = self.prev_checkpoint_prefix
        if self.plugin_state:
            data["plugin_state"] = self.plugin_state
        if self.interruptible:
            data["interruptible"] = True
        if self.overrides is not None:
            data["overrides"] = _proto_text(self.overrides)
        if self.extra_env:
            data["extra_env"] = dict(self.extra_env)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttemptRecord:
        """Inverse of :meth:`to_dict`."""
        task = tasks_pb2.TaskTemplate()
        task.ParseFromString(base64.b64decode(data["task"]))
        overrides = None
        if "overrides" in data:
            overrides = workflow_pb2.TaskNodeOverrides()
            overrides.ParseFromString(base64.b64decode(data["overrides"]))
        return cls(
            handler=data["handler"],
            task=task,
            node_id=data["node_id"],
            attempt=data["attempt"],
            inputs_uri=data["inputs_uri"],
            output_prefix=data["output_prefix"],
            raw_output_prefix=data["raw_output_prefix"],
            prev_checkpoint_prefix=data.get("prev_checkpoint_prefix", ""),
            plugin_state=dict(data.get("plugin_state") or {}),
            interruptible=data.get("interruptible", False),
            overrides=overrides,
            extra_env=dict(data.get("extra_env") or {}),
        )


@dataclass(slots=True)
class PendingCleanup:
    """Handler calls owed to an attempt that ended: ``abort`` (when it was aborted), then ``finalize``.

    Saved with the state that says the attempt ended and run only after that save, so nothing a restarted
    engine would need to find the attempt's outcome (its folder, its pod) is removed while the saved state
    still says the attempt runs; run again after a restart if the process died in between (both calls are
    idempotent).
    """

    attempt: AttemptRecord
    abort_reason: str | None = None
    """Set when the attempt was aborted: the handler's ``abort`` runs first, with this reason logged."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        data: dict[str, Any] = {"attempt": self.attempt.to_dict()}
        if self.abort_reason is not None:
            data["abort_reason"] = self.abort_reason
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingCleanup:
        """Inverse of :meth:`to_dict`."""
        return cls(AttemptRecord.from_dict(data["attempt"]), data.get("abort_reason"))


@dataclass(slots=True)
class InlineCleanup:
    """``finalize`` owed to the attempts of array node indices that ran inline (see
    :meth:`~roost_core.handler.TaskHandler.inline_runner`).

    Such attempts have no :class:`AttemptRecord` of their own: one record names a batch of them, and the array node
    derives each index's attempt from it as it named the index. Saved and run as :class:`PendingCleanup` is, so an
    engine that died between the save and the call leaves it to the engine that resumes (whose runner never sees
    those indices again: they ended).
    """

    handler: str
    task: tasks_pb2.TaskTemplate
    node: workflow_pb2.Node
    """The array node."""
    uid: str
    """The array node's unique id."""
    attempt: int
    """The array node's attempt."""
    indices: list[int]

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the indices as ``[first, last]`` runs."""
        runs: list[list[int]] = []
        for index in self.indices:
            if runs and runs[-1][1] == index - 1:
                runs[-1][1] = index
            else:
                runs.append([index, index])
        return {
            "handler": self.handler,
            "task": _proto_text(self.task),
            "node": _proto_text(self.node),
            "uid": self.uid,
            "attempt": self.attempt,
            "indices": runs,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InlineCleanup:
        """Inverse of :meth:`to_dict`."""
        task = tasks_pb2.TaskTemplate()
        task.ParseFromString(base64.b64decode(data["task"]))
        node = workflow_pb2.Node()
        node.ParseFromString(base64.b64decode(data["node"]))
        indices = [index for first, last in data["indices"] for index in range(first, last + 1)]
        return cls(data["handler"], task, node, data["uid"], data["attempt"], indices)


_EVENT_TYPES: dict[str, type[EventMessage]] = {
    "workflow": event_pb2.WorkflowExecutionEvent,
    "node": event_pb2.NodeExecutionEvent,
    "task": event_pb2.TaskExecutionEvent,
}


def _event_to_dict(event: Event) -> dict[str, str]:
    return {"id": event.id, "kind": event.kind, "data": _proto_text(event.message)}


def _event_from_dict(data: dict[str, str]) -> Event:
    kind = cast("Literal['workflow', 'node', 'task']", data["kind"])
    message = _EVENT_TYPES[kind]()
    message.ParseFromString(base64.b64decode(data["data"]))
    return Event(data["id"], kind, message)


@dataclass(slots=True)
class ExecutionState:
    """Everything the engine knows about one execution between rounds."""

    project: str
    domain: str
    name: str
    closure_uri: str
    inputs_uri: str
    data_prefix: str
    """Where node inputs and outputs of this execution are written."""
    raw_output_prefix: str
    phase: WorkflowPhase = WorkflowPhase.UNDEFINED
    options: dict[str, Any] = field(default_factory=dict)
    """The :class:`~roost_core.engine.config.ExecutionOptions` of the execution, as plain data."""
    nodes: dict[str, NodeState] = field(default_factory=dict)
    """Node executions by unique id; nested nodes carry their parents' ids in theirs."""
    error: ExecutionError | None = None
    outputs_uri: str = ""
    started_at: float | None = None
    updated_at: float | None = None
    abort_cause: str = ""
    rounds: int = 0
    outbox: list[Event] = field(default_factory=list)
    """Events recorded but not yet delivered to every sink."""
    delivered: dict[str, int] = field(default_factory=dict)
    """Per sink, how many of the outbox's first events it has received."""
    cleanups: list[PendingCleanup] = field(default_factory=list)
    """Handler cleanups owed to ended attempts, run once this state is saved (see :class:`PendingCleanup`)."""
    inline_cleanups: list[InlineCleanup] = field(default_factory=list)
    """The same for map indices that ran inline (see :class:`InlineCleanup`)."""
    recovery_uri: str = ""
    """For a recovered or resumed execution: the blob naming what it may reuse
    (:class:`~roost_core.engine.recovery.RecoverySource`)."""

    @property
    def key(self) -> str:
        """``project/domain/name``: how stores and logs name this execution."""
        return f"{self.project}/{self.domain}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data."""
        data: dict[str, Any] = {
            "format": STATE_FORMAT,
            "project": self.project,
            "domain": self.domain,
            "name": self.name,
            "closure_uri": self.closure_uri,
            "inputs_uri": self.inputs_uri,
            "data_prefix": self.data_prefix,
            "raw_output_prefix": self.raw_output_prefix,
            "phase": int(self.phase),
            "options": self.options,
            "nodes": {uid: node.to_dict() for uid, node in self.nodes.items()},
            "rounds": self.rounds,
        }
        if self.error is not None:
            data["error"] = self.error.to_dict()
        for name in ("outputs_uri", "abort_cause", "recovery_uri"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        for name in ("started_at", "updated_at"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.outbox:
            data["outbox"] = [_event_to_dict(e) for e in self.outbox]
            data["delivered"] = dict(self.delivered)
        if self.cleanups:
            data["cleanups"] = [cleanup.to_dict() for cleanup in self.cleanups]
        if self.inline_cleanups:
            data["inline_cleanups"] = [cleanup.to_dict() for cleanup in self.inline_cleanups]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionState:
        """Inverse of :meth:`to_dict`; refuses states written by an incompatible version."""
        if data.get("format") != STATE_FORMAT:
            raise ValueError(
                f"execution state format {data.get('format')!r} is not supported (expected {STATE_FORMAT})"
            )
        error = data.get("error")
        return cls(
            project=data["project"],
            domain=data["domain"],
            name=data["name"],
            closure_uri=data["closure_uri"],
            inputs_uri=data["inputs_uri"],
            data_prefix=data["data_prefix"],
            raw_output_prefix=data["raw_output_prefix"],
            phase=WorkflowPhase(data["phase"]),
            options=data.get("options", {}),
            nodes={uid: NodeState.from_dict(n) for uid, n in data.get("nodes", {}).items()},
            error=ExecutionError.from_dict(error) if error else None,
            outputs_uri=data.get("outputs_uri", ""),
            started_at=data.get("started_at"),
            updated_at=data.get("updated_at"),
            abort_cause=data.get("abort_cause", ""),
            rounds=data.get("rounds", 0),
            outbox=[_event_from_dict(e) for e in data.get("outbox", [])],
            delivered=dict(data.get("delivered", {})),
            cleanups=[PendingCleanup.from_dict(c) for c in data.get("cleanups", [])],
            inline_cleanups=[InlineCleanup.from_dict(c) for c in data.get("inline_cleanups", [])],
            recovery_uri=data.get("recovery_uri", ""),
        )
