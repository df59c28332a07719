"""Engine test fixtures: an engine over in-memory storage, and test handlers registered as a plugin."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flyteidl.core import dynamic_job_pb2, identifier_pb2, literals_pb2, tasks_pb2

from roost_core import hookimpl
from roost_core.engine import Engine, EngineConfig, MemoryStateStore, Run
from roost_core.engine.graph import is_start_or_end
from roost_core.errors import ErrorKind
from roost_core.events import MemorySink
from roost_core.handler import InlineBatch, InlineRunner, TaskContext, TaskHandler, Transition
from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage
from roost_core.storage.file import FileStore
from roost_core.storage.memory import MemoryStore


class CountingEcho(TaskHandler):
    """Echo that counts how often each node's attempt succeeded, to prove nothing ran twice."""

    name = "counting-echo"

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def handle(self, ctx: TaskContext) -> Transition:
        with self.lock:
            self.calls[ctx.node_id] += 1
        ctx.write_outputs(ctx.read_inputs())
        return Transition.success()


class Flaky(TaskHandler):
    """Fails its first attempts: ``custom.user`` times with USER errors, then ``custom.system`` SYSTEM."""

    name = "flaky"

    def handle(self, ctx: TaskContext) -> Transition:
        user = int(ctx.task.custom["user"]) if "user" in ctx.task.custom else 0
        system = int(ctx.task.custom["system"]) if "system" in ctx.task.custom else 0
        if ctx.attempt < user:
            return Transition.failure("Boom", f"user failure {ctx.attempt}")
        if ctx.attempt < user + system:
            return Transition.failure("NodeLost", f"system failure {ctx.attempt}", kind=ErrorKind.SYSTEM)
        ctx.write_outputs(ctx.read_inputs())
        return Transition.success()


class Gate(TaskHandler):
    """Runs until the test opens the gate; tracks how many attempts run at once."""

    name = "gate"

    def __init__(self) -> None:
        self.open = threading.Event()
        self.running: set[str] = set()
        self.most_at_once = 0
        self.aborted: list[str] = []

    def handle(self, ctx: TaskContext) -> Transition:
        self.running.add(ctx.node_id)
        self.most_at_once = max(self.most_at_once, len(self.running))
        if not self.open.is_set():
            return Transition.running(wake_after=0.01)
        self.running.discard(ctx.node_id)
        ctx.write_outputs(ctx.read_inputs())
        return Transition.success()

    def abort(self, ctx: TaskContext) -> None:
        self.aborted.append(ctx.node_id)
        self.running.discard(ctx.node_id)


class Exploding(TaskHandler):
    """A handler with a bug."""

    name = "exploding"

    def handle(self, ctx: TaskContext) -> Transition:
        raise ZeroDivisionError("division by zero")


class WrongOutputs(TaskHandler):
    """Returns a string where the interface says int."""

    name = "wrong-outputs"

    def handle(self, ctx: TaskContext) -> Transition:
        outputs = literals_pb2.LiteralMap()
        outputs.literals["x"].scalar.primitive.string_value = "not a number"
        ctx.write_outputs(outputs)
        return Transition.success()


class DynamicMaker(TaskHandler):
    """A dynamic task: writes ``futures.pb`` that chains ``custom.length`` echo tasks from input x; with
    ``custom.cpu`` the echo task is a container task requesting that much CPU."""

    name = "make-dynamic"
    produces_futures = True

    def handle(self, ctx: TaskContext) -> Transition:
        from flyte import INT, ref, task, task_node

        container = None
        if "cpu" in ctx.task.custom:
            cpu = tasks_pb2.Resources.ResourceEntry(
                name=tasks_pb2.Resources.CPU, value=ctx.task.custom["cpu"]
            )
            container = tasks_pb2.Container(image="echo", resources=tasks_pb2.Resources(requests=[cpu]))
        echo = task("dyn_echo", "echo", {"x": INT}, container=container)
        length = int(ctx.task.custom["length"])
        x = ctx.read_inputs().literals["x"]
        nodes = [task_node("dn0", echo, {"x": literals_pb2.BindingData(scalar=x.scalar)})]
        nodes += [task_node(f"dn{i}", echo, {"x": ref(f"dn{i - 1}", "x")}) for i in range(1, length)]
        spec = dynamic_job_pb2.DynamicJobSpec(
            nodes=nodes,
            min_successes=length,
            tasks=[echo],
            outputs=[literals_pb2.Binding(var="x", binding=ref(f"dn{length - 1}", "x"))],
        )
        ctx.storage.write_proto(ctx.futures_uri, spec)
        return Transition.success()


class Inline(TaskHandler):
    """Runs map indices inline when it may, echoing x: ``custom.retry`` fails each inline run (retryable),
    ``custom.fail_odd`` fails odd x for good, ``custom.wrong`` returns a string, ``custom.running`` a RUNNING
    transition, ``custom.sleep`` sleeps first; ``custom.one_at_a_time`` runs only a batch's first index,
    ``custom.raise`` raises."""

    name = "inline"

    def __init__(self) -> None:
        self.inline: list[str] = []
        self.batches: list[int] = []
        """The size of each batch the runner was given."""
        self.handled: set[str] = set()
        self.lock = threading.Lock()

    def inline_runner(self, task: tasks_pb2.TaskTemplate) -> InlineRunner | None:
        custom = task.custom

        def run(batch: InlineBatch) -> list[literals_pb2.LiteralMap | Transition]:
            self.batches.append(len(batch.node_ids))
            if "raise" in custom:
                raise RuntimeError("boom")
            pairs = list(zip(batch.node_ids, batch.inputs, strict=True))
            if "one_at_a_time" in custom:  # as a runner past its deadline after the first index
                pairs = pairs[:1]
            return [self._one(custom, node_id, inputs) for node_id, inputs in pairs]

        return run

    def _one(
        self, custom: Any, node_id: str, inputs: literals_pb2.LiteralMap
    ) -> literals_pb2.LiteralMap | Transition:
        self.inline.append(node_id)
        if "sleep" in custom:
            time.sleep(float(custom["sleep"]))
        if "retry" in custom:
            return Transition.failure("Flaky", "an inline failure")
        if "fail_odd" in custom and inputs.literals["x"].scalar.primitive.integer % 2:
            return Transition.failure("Odd", "odd input", retryable=False)
        if "running" in custom:
            return Transition.running()
        if "wrong" in custom:
            outputs = literals_pb2.LiteralMap()
            outputs.literals["x"].scalar.primitive.string_value = "not a number"
            return outputs
        return inputs

    def handle(self, ctx: TaskContext) -> Transition:
        with self.lock:
            self.handled.add(ctx.node_id)
        ctx.write_outputs(ctx.read_inputs())
        return Transition.success()


class TestHandlers:
    """The plugin registering the handlers above."""

    def __init__(self) -> None:
        self.counting = CountingEcho()
        self.gate = Gate()
        self.inline = Inline()

    @hookimpl
    def roost_task_handlers(self, register: Callable[..., None]) -> None:
        register("counting-echo", lambda: self.counting, task_types=["counting-echo"], default=True)
        register("flaky", Flaky, task_types=["flaky"], default=True)
        register("gate", lambda: self.gate, task_types=["gate"], default=True)
        register("exploding", Exploding, task_types=["exploding"], default=True)
        register("wrong-outputs", WrongOutputs, task_types=["wrong-outputs"], default=True)
        register("make-dynamic", DynamicMaker, task_types=["make-dynamic"], default=True)
        register("inline", lambda: self.inline, task_types=["inline"], default=True)


class EngineKit:
    """An engine, its sink and store, and helpers to run closures on it."""

    def __init__(self, tmp_path: Any, **engine_args: Any) -> None:
        self.handlers = TestHandlers()
        self.sink = MemorySink()
        self.store = MemoryStateStore()
        self.memory = MemoryStore()
        self.tmp_path = tmp_path
        self.storage = Storage({"mem": self.memory, "file": FileStore()})
        self.plugins = EnginePlugins([self.handlers], entry_points=False)
        self.engine_args = engine_args
        self.engine = self.new_engine()
        self._names = 0

    def new_engine(self, **overrides: Any) -> Engine:
        args: dict[str, Any] = {
            "config": EngineConfig(poll_interval=0.05),
            "state_store": self.store,
            "sinks": {"memory": self.sink},
            "plugins": self.plugins,
        }
        args.update(self.engine_args)
        args.update(overrides)
        return Engine(self.storage, **args)

    def execution_id(self, name: str | None = None) -> identifier_pb2.WorkflowExecutionIdentifier:
        self._names += 1
        return identifier_pb2.WorkflowExecutionIdentifier(
            project="p", domain="d", name=name or f"e{self._names}"
        )

    def start(
        self,
        closure: Any,
        inputs: literals_pb2.LiteralMap | None = None,
        *,
        prefix: str = "mem://data",
        **kwargs: Any,
    ) -> Run:
        execution_id = self.execution_id()
        return self.engine.start(
            execution_id,
            closure,
            inputs or literals_pb2.LiteralMap(),
            data_prefix=f"{prefix}/{execution_id.name}",
            **kwargs,
        )

    def run(
        self,
        closure: Any,
        inputs: literals_pb2.LiteralMap | None = None,
        *,
        timeout: float = 30,
        **kwargs: Any,
    ) -> Run:
        run = self.start(closure, inputs, **kwargs)
        self.engine.run(run, timeout=timeout)
        return run

    def events(self, kind: str | None = None) -> list[Any]:
        return [e.message for e in self.sink.events if kind is None or e.kind == kind]

    def node_phases(self, run: Run) -> dict[str, str]:
        """Phases of the workflow's nodes (start and end nodes left out)."""
        return {uid: node.phase.name for uid, node in run.state.nodes.items() if not is_start_or_end(uid)}


@pytest.fixture
def kit(tmp_path: Any) -> Iterator[EngineKit]:
    return EngineKit(tmp_path)
