"""The ``echo`` handler: a task whose outputs are its inputs, finished in one round.

It echoes the inputs the engine hands it (``ctx.read_inputs()``), not the bytes of ``inputs.pb``: for an
index of a map task the file holds every element, while the context holds that index's own.
"""

from __future__ import annotations

from roost_core.handler import TaskContext, TaskHandler, Transition


class EchoHandler(TaskHandler):
    """Writes the task's inputs as its outputs and succeeds at once."""

    name = "echo"

    def handle(self, ctx: TaskContext) -> Transition:
        """Write the inputs as ``outputs.pb``; succeed."""
        ctx.write_outputs(ctx.read_inputs())
        return Transition.success()
