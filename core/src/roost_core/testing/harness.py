"""Build a handler the way an engine does, run one task on a real engine round by round, and a fake clock.

:func:`build_handler` goes through the same registration, choice and settings validation as an engine,
so a test exercises the plugin's ``roost_task_handlers`` hook and its settings class, not a hand-made
instance. :class:`OneTaskEngine` wraps a task template in a one-node workflow and runs it on the core
:class:`~roost_core.engine.Engine`: state saves, cleanups after saves, retries, events, and restarts
(:meth:`OneTaskEngine.restart`) are the engine's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, tasks_pb2, types_pb2, workflow_pb2

from roost_core.engine import Engine, EngineConfig, MemoryStateStore, NodeState, Run, StateStore
from roost_core.engine.engine import RoundResult
from roost_core.events import Event, MemorySink
from roost_core.handler import TaskHandler
from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage

__all__ = ["FakeClock", "OneTaskEngine", "build_handler", "one_task_workflow"]

NODE_ID = "n0"
"""The node id of the task in :func:`one_task_workflow`."""


class FakeClock:
    """A clock that moves only when told to; pass it as ``clock`` to an Engine or a RemoteJobHandler."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


def build_handler(
    plugins: Iterable[object],
    name: str,
    *,
    section: Mapping[str, Any] | None = None,
    shared: Mapping[str, Mapping[str, Any]] | None = None,
) -> TaskHandler:
    """The handler ``name`` as an engine builds it from ``plugins`` (modules or objects with hooks), with
    ``section`` as ``engine.handlers.<name>`` and ``shared`` as the shared sections. Close it after use."""
    config = EngineConfig(
        handlers={name: dict(section)} if section is not None else {},
        shared={key: dict(value) for key, value in (shared or {}).items()},
    )
    return EnginePlugins(list(plugins), entry_points=False).handlers(config).by_name(name)


def one_task_workflow(task: tasks_pb2.TaskTemplate) -> compiler_pb2.CompiledWorkflowClosure:
    """A compiled workflow of one node running ``task``: its inputs from the workflow's, its outputs out."""
    from roost_core.compiler import compile_workflow

    def promise(node: str, var: str) -> literals_pb2.BindingData:
        return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node, var=var))

    interface = task.interface
    workflow = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=task.id.project or "proj",
            domain=task.id.domain or "dev",
            name=f".flytegen.{task.id.name}",
            version=task.id.version or "v1",
        ),
        interface=interface,
        nodes=[
            workflow_pb2.Node(
                id=NODE_ID,
                inputs=[
                    literals_pb2.Binding(var=name, binding=promise("", name))
                    for name in interface.inputs.variables
                ],
                task_node=workflow_pb2.TaskNode(reference_id=task.id),
            )
        ],
        outputs=[
            literals_pb2.Binding(var=name, binding=promise(NODE_ID, name))
            for name in interface.outputs.variables
        ],
    )
    return compile_workflow(workflow, [task])


class OneTaskEngine:
    """One task on a real engine: start it, drive it a round at a time, restart the engine, read results.

    ``plugins`` register the handlers (modules or objects with hooks); ``config`` is the engine's
    configuration (handler sections, shared sections, which handler serves the task's type). ``storage``
    must be one the handler's task can reach (``file://`` for local processes).
    """

    def __init__(
        self,
        task: tasks_pb2.TaskTemplate,
        storage: Storage,
        *,
        data_prefix: str,
        plugins: Iterable[object] = (),
        config: EngineConfig | None = None,
        state_store: StateStore | None = None,
        clock: FakeClock | None = None,
        execution: str = "exec1",
    ) -> None:
        self.task = task
        self.storage = storage
        self.data_prefix = data_prefix.rstrip("/")
        self.plugins = list(plugins)
        self.config = config or EngineConfig(poll_interval=0.05)
        self.state_store = state_store or MemoryStateStore()
        self.sink = MemorySink()
        self.clock = clock
        self.closure = one_task_workflow(task)
        self.execution_id = identifier_pb2.WorkflowExecutionIdentifier(
            project=task.id.project or "proj", domain=task.id.domain or "dev", name=execution
        )
        self.engine = self._engine()
        self.run: Run | None = None

    def _engine(self) -> Engine:
        extra: dict[str, Any] = {"clock": self.clock} if self.clock is not None else {}
        return Engine(
            self.storage,
            config=self.config,
            plugins=EnginePlugins(self.plugins, entry_points=False),
            state_store=self.state_store,
            sinks={"memory": self.sink},
            **extra,
        )

    def start(self, inputs: literals_pb2.LiteralMap | None = None) -> Run:
        """Start the execution (nothing runs until a round)."""
        self.run = self.engine.start(
            self.execution_id,
            self.closure,
            inputs or literals_pb2.LiteralMap(),
            data_prefix=f"{self.data_prefix}/{self.execution_id.name}",
        )
        return self.run

    def _current(self) -> Run:
        if self.run is None:
            raise RuntimeError("start the execution first")
        return self.run

    def round(self) -> RoundResult:
        """One round: the handler is called, the state saved, owed cleanups run, events delivered."""
        return self.engine.evaluate(self._current())

    def run_to_end(self, timeout: float = 60.0) -> Run:
        """Rounds until the execution ends (waiting for the handler's wake-ups between them)."""
        run = self._current()
        self.engine.run(run, timeout=timeout)
        if not run.state.phase.is_terminal:
            raise AssertionError(f"the execution did not end within {timeout} s: {run.state.phase.name}")
        return run

    def restart(self) -> Run:
        """A new engine, as after a crash or a restart, resuming the execution from its saved state."""
        self.engine.handlers.close()
        self.engine = self._engine()
        self.run = self.engine.resume(self._current().key)
        return self.run

    @property
    def node(self) -> NodeState:
        """The task node's state."""
        return self._current().state.nodes[NODE_ID]

    @property
    def events(self) -> list[Event]:
        """Every event delivered so far."""
        return list(self.sink.events)

    def outputs(self) -> literals_pb2.LiteralMap:
        """The outputs of the succeeded execution."""
        return self.engine.outputs(self._current())

    def close(self) -> None:
        """Close the engine's handlers."""
        self.engine.close()
