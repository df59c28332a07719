"""``map_task``: run a task once per element of list inputs, in parallel, as an array node."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from roost.entity import Entity
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.tasks import Task

if TYPE_CHECKING:
    from flyteidl.core import workflow_pb2

    from roost.nodes import Node
    from roost.serialize import Serializer


class MapTask(Entity):
    """A task mapped over lists: every input becomes a list of its type, except the bound ones."""

    kind = "map task"

    def __init__(
        self,
        task: Task,
        bound: dict[str, Any],
        *,
        concurrency: int | None,
        min_successes: int | None,
        min_success_ratio: float | None,
    ) -> None:
        inner = task.interface
        inputs = {name: (t if name in bound else list[t]) for name, t in inner.inputs.items()}  # type: ignore[valid-type]
        outputs = {name: list[t] for name, t in inner.outputs.items()}  # type: ignore[valid-type]
        defaults = {**{k: v for k, v in inner.defaults.items() if k in bound}, **bound}
        super().__init__(f"{task.name}-map", Interface(inputs, defaults, outputs))
        self.task = task
        self.bound = bound
        self.concurrency = concurrency
        self.min_successes = min_successes
        self.min_success_ratio = min_success_ratio

    @property
    def short_name(self) -> str:
        """``map_<task>``."""
        return f"map_{self.task.short_name}"

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the map locally on the engine, as a one-node workflow would."""
        from roost.local.runner import run_entity

        return run_entity(self, {**self.interface.defaults, **self.bind_arguments(args, kwargs)})

    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """An array node over the task."""
        from roost.serialize import array_node_target

        proto.array_node.CopyFrom(
            array_node_target(
                serializer,
                self.task,
                node.overrides,
                parallelism=self.concurrency,
                min_successes=self.min_successes,
                min_success_ratio=self.min_success_ratio,
                bound_inputs=self.bound,
            )
        )


def map_task(
    task: Task | functools.partial[Any],
    concurrency: int | None = None,
    *,
    min_success_ratio: float | None = None,
    min_successes: int | None = None,
) -> MapTask:
    """Map ``task`` over list inputs: ``map_task(t)(x=[1, 2, 3])``.

    Bind inputs that stay the same for every element with ``functools.partial(t, y=3)``. ``concurrency``
    limits how many elements run at once; ``min_success_ratio`` (or ``min_successes``) lets some fail, their
    outputs then being None.
    """
    bound: dict[str, Any] = {}
    target: Any = task
    if isinstance(task, functools.partial):
        if task.args:
            raise WorkflowDefinitionError("map_task(partial(...)) binds inputs by keyword only")
        bound = dict(task.keywords)
        target = task.func
    if not isinstance(target, Task):
        raise WorkflowDefinitionError(f"map_task needs a task, not {target!r}")
    unknown = sorted(set(bound) - set(target.interface.inputs))
    if unknown:
        raise WorkflowDefinitionError(f"map_task: {target.label} has no input(s) {', '.join(unknown)}")
    if min_success_ratio is not None and not 0 <= min_success_ratio <= 1:
        raise WorkflowDefinitionError(
            f"map_task: min_success_ratio must be between 0 and 1, not {min_success_ratio}"
        )
    if concurrency is not None and concurrency < 0:
        raise WorkflowDefinitionError(f"map_task: concurrency must be 0 or more, not {concurrency}")
    return MapTask(
        target,
        bound,
        concurrency=concurrency,
        min_successes=min_successes,
        min_success_ratio=min_success_ratio,
    )
