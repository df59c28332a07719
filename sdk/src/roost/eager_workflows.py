"""``@eager``: workflows written as async Python, whose awaited task calls run as real executions.

::

    @eager
    async def train_all(n: int) -> float:
        scores = await asyncio.gather(*(train(seed=i) for i in range(n)))
        if max(scores) < 0.9:                      # plain Python on real values
            return await fine_tune(score=max(scores))
        return max(scores)

An eager workflow is a task (flytekit 1.16's shape: a ``python-task`` with ``metadata.is_eager``). Its body
runs once, as a task attempt; every task, workflow or launch plan it awaits runs as an execution of its own
on the engine, so retries, caching, events and failure handling are the engine's:

- locally (``roost run``, calling it), on the engine of the local run, in threads beside the parent;
- on ``roost start``, through the admin: the eager task's process registers what it calls (same project,
  domain and version as itself) and creates executions with ``CreateExecution``.

**Names.** Each child execution's name is derived from the parent execution, the parent node, the entity,
the call's position among calls of that entity, and the inputs. A retried parent (same execution and node)
therefore finds its children again: those that succeeded or still run are followed, not started twice; one
that failed or was aborted is started again under the next name (``<name>-1``, ``-2``, ...).

**Abort.** Aborting the parent aborts the children it started: locally through the engine; on the server
the task process gets SIGTERM and terminates its running children through the admin before it exits.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import inspect
import signal
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, cast

from flyteidl.core import literals_pb2

from roost import _typing
from roost.context import TaskRunContext, current_context, running_task
from roost.errors import WorkflowDefinitionError
from roost.tasks import SERIALIZATION_ENV, FunctionTask, Task, task
from roost.types.context import TypeContext
from roost_core.errors import RoostError

if TYPE_CHECKING:
    from flyteidl.core import tasks_pb2

    from roost.entity import Entity
    from roost.local.eager_children import LocalChildren
    from roost.serialize import SerializationSettings

ENDED_BADLY = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})
"""Phases of a child that a retried parent does not reuse."""


class EagerChildError(RoostError):
    """An execution an eager workflow awaited did not succeed; the message names it and its error."""


class Children(Protocol):
    """Where an eager workflow's children run: the local engine, or the admin."""

    poll_interval: float

    def phase(self, name: str) -> str | None:
        """The child's phase name (``RUNNING``, ``SUCCEEDED``, ...), or None if there is no such child."""
        ...

    def launch(self, name: str, entity: Entity, inputs: literals_pb2.LiteralMap, parent: str) -> None:
        """Start ``entity`` on ``inputs`` as the execution ``name``, a child of ``parent`` (an eager attempt's
        ``project/domain/execution/node``)."""
        ...

    def outputs(self, name: str) -> literals_pb2.LiteralMap:
        """A succeeded child's outputs."""
        ...

    def error(self, name: str) -> str:
        """Why a child did not succeed."""
        ...

    def abort(self, name: str, cause: str) -> None:
        """Abort a child that still runs."""
        ...


class EagerTask(FunctionTask):
    """The task an ``@eager`` async function becomes."""

    def execute(self, **inputs: Any) -> Any:
        """Run the async body, its awaited calls as child executions."""
        ctx = current_context()
        controller = Controller(ctx, children_for(ctx))
        token = _CONTROLLER.set(controller)
        try:
            with controller.aborts_children_on_sigterm():
                return asyncio.run(_in_context(ctx, self.fn(**inputs)))
        finally:
            _CONTROLLER.reset(token)

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run locally on the engine (its children need one), like a workflow."""
        from roost.local.runner import run_entity

        return run_entity(self, self.bind_arguments(args, kwargs))

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """A python task marked eager, with the settings its children are registered with."""
        from flyteidl.core import literals_pb2 as literals

        template = super().template(settings)
        template.metadata.is_eager = True
        template.container.env.append(literals.KeyValuePair(key=SERIALIZATION_ENV, value=settings.to_json()))
        return template


async def _in_context(ctx: TaskRunContext, body: Coroutine[Any, Any, Any]) -> Any:
    with running_task(ctx):
        return await body


def eager(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make an eager workflow of an ``async def`` function (takes the options of ``@task``)."""

    def decorate(function: Callable[..., Any]) -> Any:
        if not inspect.iscoroutinefunction(function):
            raise WorkflowDefinitionError(
                f"@eager function {function.__name__!r} must be declared 'async def' (it awaits its tasks)"
            )
        made = cast("Task", task(function, **options))
        return EagerTask(function, made.options, made.task_config)

    return decorate if fn is None else decorate(fn)


_CONTROLLER: contextvars.ContextVar[Controller | None] = contextvars.ContextVar("roost_eager", default=None)


def current_controller() -> Controller | None:
    """The eager workflow running in this context, if any: entity calls become child executions."""
    return _CONTROLLER.get()


class Controller:
    """Turns an eager body's calls into child executions named after the parent, and follows them."""

    def __init__(self, ctx: TaskRunContext, children: Children) -> None:
        self.ctx = ctx
        self.children = children
        self.parent = f"{ctx.project}/{ctx.domain}/{ctx.execution_name}/{ctx.node_id}"
        self._calls: Counter[str] = Counter()
        self._started: list[str] = []
        self._lock = threading.Lock()

    def submit(self, entity: Entity, values: dict[str, Any]) -> Coroutine[Any, Any, Any]:
        """The coroutine of one call; its name is fixed now, in call order."""
        from roost.launch_plan import LaunchPlan

        if isinstance(entity, LaunchPlan):
            raise WorkflowDefinitionError(
                f"eager workflow {self.ctx.task_name!r} awaits {entity.label}: launch plans cannot be awaited "
                f"yet; await its workflow {entity.workflow.short_name!r} instead"
            )
        with self._lock:
            index = self._calls[entity.name]
            self._calls[entity.name] += 1
        inputs = _typing.literal_map(
            entity,
            values,
            TypeContext(
                self.ctx.types.storage,
                self.ctx.raw_output_prefix,
                work_dir=self.ctx.working_directory / "eager-inputs",
            ),
        )
        digest = hashlib.sha256(
            f"{self.parent}/{entity.name}/{index}/".encode() + inputs.SerializeToString(deterministic=True)
        ).hexdigest()
        return self._follow(entity, f"e{digest[:19]}", inputs)

    async def _follow(self, entity: Entity, base: str, inputs: literals_pb2.LiteralMap) -> Any:
        children = self.children
        name = await asyncio.to_thread(self._reuse_or_launch, entity, base, inputs)
        while True:
            phase = await asyncio.to_thread(children.phase, name)
            if phase == "SUCCEEDED":
                outputs = await asyncio.to_thread(children.outputs, name)
                values = _typing.python_values(
                    entity,
                    outputs,
                    TypeContext(
                        self.ctx.types.storage,
                        self.ctx.raw_output_prefix,
                        work_dir=self.ctx.working_directory / "eager-outputs" / name,
                    ),
                )
                return entity.interface.pack_outputs(values)
            if phase in ENDED_BADLY:
                message = await asyncio.to_thread(children.error, name)
                raise EagerChildError(f"{entity.label} (execution {name}) {phase.lower()}: {message}")
            await asyncio.sleep(children.poll_interval)

    def _reuse_or_launch(self, entity: Entity, base: str, inputs: literals_pb2.LiteralMap) -> str:
        """The first of ``base``, ``base-1``, ... that is not a child that ended badly; launched if new."""
        retry = 0
        while True:
            name = base if retry == 0 else f"{base}-{retry}"
            phase = self.children.phase(name)
            if phase is None:
                self.children.launch(name, entity, inputs, self.parent)
                break
            if phase not in ENDED_BADLY:
                break
            retry += 1
        with self._lock:
            self._started.append(name)
        return name

    def abort_children(self, cause: str) -> None:
        """Abort every child this body started that still runs."""
        with self._lock:
            started = list(self._started)
        for name in started:
            try:
                if self.children.phase(name) not in (None, "SUCCEEDED", *ENDED_BADLY):
                    self.children.abort(name, cause)
            except Exception:  # best effort while the parent itself is going away
                continue

    def aborts_children_on_sigterm(self) -> Any:
        """In a task process (on the server), SIGTERM (the parent's abort) aborts the children first."""
        return _SigtermGuard(self)


class _SigtermGuard:
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # local runs: the local engine aborts the children
        controller = self.controller

        def on_sigterm(signum: int, frame: Any) -> None:
            controller.abort_children("the eager parent was aborted")
            raise SystemExit(128 + signum)

        self.previous = signal.signal(signal.SIGTERM, on_sigterm)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


# where children run

_LOCAL: dict[str, LocalChildren] = {}
"""Local runs by execution name (the runs themselves and their children): where eager bodies launch."""
_LOCAL_LOCK = threading.Lock()


def serve_locally(execution_name: str, children: LocalChildren | None) -> None:
    """Make ``children`` where eager tasks of the local execution launch (None: forget the execution)."""
    with _LOCAL_LOCK:
        if children is None:
            _LOCAL.pop(execution_name, None)
        else:
            _LOCAL[execution_name] = children


def children_for(ctx: TaskRunContext) -> Children:
    """The local run's engine when the eager task runs in one; otherwise the admin (task processes)."""
    with _LOCAL_LOCK:
        local = _LOCAL.get(ctx.execution_name)
    if local is not None:
        return local
    from roost.eager_admin import AdminChildren

    return AdminChildren.for_task(ctx)


def abort_local_children(execution_name: str, parent: str, cause: str) -> None:
    """The local engine aborted an eager attempt (``parent``): abort the children it started."""
    with _LOCAL_LOCK:
        local = _LOCAL.get(execution_name)
    if local is not None:
        local.abort_parent(parent, cause)
