"""The ``echo`` handler: a task whose outputs are its inputs, finished in one round.

Inputs land on the outputs of the same names when the interface declares the same names on both sides
(Roost's own echo tasks). Otherwise, as Flyte's echo plugin does, the task's one input lands on its one
output, whatever the names (flytekit's ``Echo`` declares ``o0`` for its input); any other interface is a
mistake named in the failure.

It echoes the inputs the engine hands it (``ctx.read_inputs()``), not the bytes of ``inputs.pb``: for an
index of a map task the file holds every element, while the context holds that index's own.
"""

from __future__ import annotations

from flyteidl.core import literals_pb2, tasks_pb2

from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskHandler, Transition


class EchoHandler(TaskHandler):
    """Writes the task's inputs as its outputs and succeeds at once."""

    name = "echo"

    def handle(self, ctx: TaskContext) -> Transition:
        """Write the inputs under their output names as ``outputs.pb``; succeed."""
        names = output_names(ctx.task)
        if isinstance(names, str):
            return Transition.failure(
                "EchoInterfaceMismatch",
                f"echo task {ctx.task.id.name!r} {names}",
                kind=ErrorKind.USER,
                retryable=False,
            )
        inputs = ctx.read_inputs().literals
        outputs = literals_pb2.LiteralMap()
        for input_name, output_name in names.items():
            if input_name in inputs:
                outputs.literals[output_name].CopyFrom(inputs[input_name])
        ctx.write_outputs(outputs)
        return Transition.success()


def output_names(task: tasks_pb2.TaskTemplate) -> dict[str, str] | str:
    """Input name → the output it is copied to; or why the interface cannot be echoed."""
    inputs = sorted(task.interface.inputs.variables)
    outputs = sorted(task.interface.outputs.variables)
    if set(inputs) == set(outputs):
        return {name: name for name in inputs}
    if len(inputs) == len(outputs) == 1:
        return {inputs[0]: outputs[0]}
    shown = f"(inputs: {', '.join(inputs) or 'none'}; outputs: {', '.join(outputs) or 'none'})"
    if len(inputs) != len(outputs):
        return f"declares {len(inputs)} input(s) but {len(outputs)} output(s) {shown}; it copies each input to one output"
    return (
        f"has outputs named unlike its inputs {shown}; with more than one input the output names must be "
        "the input names"
    )
