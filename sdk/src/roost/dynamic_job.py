"""Compiling a ``@dynamic`` task's function, at run time, into the ``DynamicJobSpec`` the engine runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyteidl.core import dynamic_job_pb2, literals_pb2

from roost.context import TaskRunContext, running_task
from roost.entity import binding_for
from roost.errors import TaskExecutionError
from roost.nodes import CompilationState, compiling
from roost.serialize import SerializationSettings, Serializer

if TYPE_CHECKING:
    from roost.tasks import DynamicTask


def compile_dynamic(
    task: DynamicTask, ctx: TaskRunContext, values: dict[str, Any]
) -> dynamic_job_pb2.DynamicJobSpec | literals_pb2.LiteralMap:
    """Call the function with its real inputs; the nodes it adds (``dn0``, ``dn1``, ...) become the spec.

    A function that calls nothing returned plain values: those are the outputs, and no spec is needed.
    """
    state = CompilationState(task.short_name, task.fn.__code__, prefix="dn")
    with compiling(state), running_task(ctx):
        result = task.fn(**values)
        if not state.nodes:
            return task.outputs_to_literals(ctx, result)
        try:
            returned = task.interface.unpack_outputs(result, what=task.label)
        except TypeError as exc:
            raise TaskExecutionError(str(exc)) from None
        outputs = [
            literals_pb2.Binding(
                var=name, binding=binding_for(returned[name], t, where=f"{task.label} output {name!r}")
            )
            for name, t in task.interface.outputs.items()
        ]
    settings = ctx.serialization or SerializationSettings(
        project=ctx.project, domain=ctx.domain, version=ctx.task_version
    )
    serializer = Serializer(settings)
    nodes = [serializer.node(node) for node in state.nodes]
    return dynamic_job_pb2.DynamicJobSpec(
        nodes=nodes,
        min_successes=len(nodes),
        outputs=outputs,
        tasks=list(serializer.tasks.values()),
        subworkflows=list(serializer.workflows.values()),
    )
