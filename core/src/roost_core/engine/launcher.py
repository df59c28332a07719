"""Child executions: how launch-plan nodes start and follow another execution.

The admin fulfils :class:`ChildLauncher` by creating real executions; :class:`InProcessLauncher` runs the
child on the same engine in a background thread, for local runs and tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2

from roost_core.engine.config import ExecutionOptions
from roost_core.engine.graph import IdKey, id_key, id_text
from roost_core.engine.phases import WorkflowPhase
from roost_core.errors import ErrorKind, ExecutionError

if TYPE_CHECKING:
    from roost_core.engine.engine import Engine
    from roost_core.engine.run import Run


@dataclass(frozen=True, slots=True)
class ChildRequest:
    """What a launch-plan node asks for."""

    parent: str
    """``project/domain/name`` of the launching execution."""
    name: str
    """The child execution's name: deterministic, so asking twice launches once."""
    launch_plan: identifier_pb2.Identifier
    inputs: literals_pb2.LiteralMap
    notify: Callable[[], None]
    """Wakes the parent when the child changes phase."""
    inherited: ExecutionOptions = field(default_factory=ExecutionOptions)
    """The parent's settings the child runs with, as flytepropeller passes them on: max parallelism,
    interruptible, overwrite cache, labels, annotations, environment (its launch plan decides what the
    parent leaves unset). The admin's launcher reads the parent's stored spec instead, which also carries
    the raw output location and security context."""


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """Where a child execution is."""

    phase: WorkflowPhase
    outputs: literals_pb2.LiteralMap | None = None
    error: ExecutionError | None = None


class ChildLauncher(Protocol):
    """Starts, follows and aborts child executions."""

    def launch(self, request: ChildRequest) -> str:
        """Start the child (idempotent by name); returns its ``project/domain/name``."""
        ...

    def status(self, child: str) -> ChildStatus:
        """The child's current phase, with outputs or error once it ended."""
        ...

    def abort(self, child: str, cause: str) -> None:
        """Abort the child, if it is still running."""
        ...


@dataclass(frozen=True, slots=True)
class LaunchPlanEntry:
    """A launch plan the in-process launcher can start: its workflow and its input defaults."""

    closure: compiler_pb2.CompiledWorkflowClosure
    default_inputs: literals_pb2.LiteralMap = field(default_factory=literals_pb2.LiteralMap)
    fixed_inputs: literals_pb2.LiteralMap = field(default_factory=literals_pb2.LiteralMap)


class InProcessLauncher:
    """Runs each child execution on ``engine`` in a thread of its own."""

    def __init__(self, launch_plans: Mapping[IdKey, LaunchPlanEntry], data_prefix: str) -> None:
        self._launch_plans = dict(launch_plans)
        self._data_prefix = data_prefix.rstrip("/")
        self._engine: Engine | None = None
        self._children: dict[str, tuple[threading.Thread, Run]] = {}
        self._lock = threading.Lock()

    def bind(self, engine: Engine) -> None:
        """Attach the engine that runs the children (the one whose nodes launch them)."""
        self._engine = engine

    def launch(self, request: ChildRequest) -> str:
        """Start the child run in a thread, unless it runs already."""
        engine = self._engine
        if engine is None:
            raise RuntimeError("InProcessLauncher.bind(engine) was not called")
        project, domain, _ = request.parent.split("/", 2)
        key = f"{project}/{domain}/{request.name}"
        with self._lock:
            if key in self._children:
                return key
            entry = self._launch_plans.get(id_key(request.launch_plan))
            if entry is None:
                raise KeyError(f"launch plan {id_text(request.launch_plan)} is not known to this engine")
            inputs = literals_pb2.LiteralMap()
            inputs.MergeFrom(entry.default_inputs)
            inputs.MergeFrom(request.inputs)
            inputs.MergeFrom(entry.fixed_inputs)
            lp = request.launch_plan
            options = replace(
                request.inherited,
                launch_plan={
                    "project": lp.project,
                    "domain": lp.domain,
                    "name": lp.name,
                    "version": lp.version,
                },
                parent_execution=request.parent,
            )
            run = engine.start(
                identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=request.name),
                entry.closure,
                inputs,
                data_prefix=f"{self._data_prefix}/{request.name}",
                options=options,
            )

            def follow() -> None:
                engine.run(run)
                request.notify()

            thread = threading.Thread(target=follow, name=f"child-{request.name}", daemon=True)
            self._children[key] = (thread, run)
            thread.start()
        return key

    def status(self, child: str) -> ChildStatus:
        """The child's phase, and its outputs or error once it ended."""
        engine = self._engine
        with self._lock:
            found = self._children.get(child)
        if found is None or engine is None:
            return ChildStatus(
                WorkflowPhase.FAILED,
                error=ExecutionError(
                    "ChildNotFound", f"child execution {child} is not known", ErrorKind.SYSTEM
                ),
            )
        return engine.child_status(found[1])

    def abort(self, child: str, cause: str) -> None:
        """Ask the child's run to abort."""
        engine = self._engine
        with self._lock:
            found = self._children.get(child)
        if found is not None and engine is not None:
            engine.abort(found[1], cause)
