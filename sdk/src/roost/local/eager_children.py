"""The children of eager workflows in a local run: executions on the local run's own engine, each followed
in a thread of its own, with the same handler, cache and progress display as the run."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from flyteidl.core import identifier_pb2, literals_pb2

from roost.eager_workflows import serve_locally
from roost.errors import WorkflowDefinitionError
from roost.serialize import SerializationSettings, Serializer

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.local.handler import InProcessHandler
    from roost_core.engine import Engine, Run


class LocalChildren:
    """Runs eager children on ``engine``; ``close`` aborts those still running when the local run ends."""

    poll_interval = 0.02

    def __init__(
        self,
        engine: Engine,
        handler: InProcessHandler,
        settings: SerializationSettings,
        *,
        data_prefix: str,
        raw_output_prefix: str,
    ) -> None:
        self._engine = engine
        self._handler = handler
        self._settings = settings
        self._data_prefix = data_prefix.rstrip("/")
        self._raw_output_prefix = raw_output_prefix
        self._runs: dict[str, Run] = {}
        self._threads: list[threading.Thread] = []
        self._by_parent: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def phase(self, name: str) -> str | None:
        """The child's workflow phase name, None if it was never launched."""
        with self._lock:
            run = self._runs.get(name)
        return None if run is None else run.state.phase.name

    def launch(self, name: str, entity: Entity, inputs: literals_pb2.LiteralMap, parent: str) -> None:
        """Compile ``entity`` as a workflow and run it as the execution ``name`` in a thread."""
        from roost.local.runner import as_workflow

        if os.getpid() != self._pid:
            raise WorkflowDefinitionError(
                f"{entity.label} was awaited by an eager workflow in a worker process; local runs with "
                "worker processes (--processes) cannot run eager workflows, run without them"
            )
        serializer = Serializer(self._settings)
        closure = serializer.closure(as_workflow(entity))
        self._handler.register_tasks(serializer.task_entities)
        run = self._engine.start(
            identifier_pb2.WorkflowExecutionIdentifier(
                project=self._settings.project, domain=self._settings.domain, name=name
            ),
            closure,
            inputs,
            data_prefix=f"{self._data_prefix}/eager/{name}",
            raw_output_prefix=self._raw_output_prefix,
        )
        thread = threading.Thread(target=self._engine.run, args=(run,), name=f"eager-{name}", daemon=True)
        with self._lock:
            self._runs[name] = run
            self._threads.append(thread)
            self._by_parent[parent].append(name)
        serve_locally(name, self)  # an eager task among the child's nodes launches here too
        thread.start()

    def outputs(self, name: str) -> literals_pb2.LiteralMap:
        """The outputs of a succeeded child."""
        return self._engine.outputs(self._runs[name])

    def error(self, name: str) -> str:
        """The child's error message."""
        state = self._runs[name].state
        if state.error is not None:
            return state.error.message
        return state.abort_cause or state.phase.name.lower()

    def abort(self, name: str, cause: str) -> None:
        """Abort one child."""
        with self._lock:
            run = self._runs.get(name)
        if run is not None:
            self._engine.abort(run, cause)

    def abort_parent(self, parent: str, cause: str) -> None:
        """Abort the running children an eager attempt started."""
        with self._lock:
            names = list(self._by_parent.get(parent, ()))
        for name in names:
            self.abort(name, cause)

    def close(self) -> None:
        """Abort children still running (the local run ended), wait for their threads, forget them."""
        with self._lock:
            runs = dict(self._runs)
            threads = list(self._threads)
        for name, run in runs.items():
            if not run.state.phase.is_terminal:
                self._engine.abort(run, "the local run ended")
            serve_locally(name, None)
        for thread in threads:
            thread.join(timeout=30)
