"""The ``sleep`` handler: waits a while without holding a thread, then passes its inputs through.

The duration comes from an input named ``duration`` (a Duration literal) when the task's interface
declares one, and otherwise from the number of seconds in ``TaskTemplate.custom["duration"]``. The
first round records an absolute deadline in the plugin state, so a restarted engine keeps the
original deadline. The outputs are the inputs without ``duration``.
"""

from __future__ import annotations

import math
import time

from flyteidl.core import literals_pb2

from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskHandler, Transition

DURATION = "duration"


class SleepHandler(TaskHandler):
    """Reports RUNNING until the deadline passed, asking the engine to look again when it does."""

    name = "sleep"

    def handle(self, ctx: TaskContext) -> Transition:
        """Start the wait (first round), or check it."""
        deadline = ctx.state.get("deadline")
        if deadline is None:
            try:
                seconds = _duration_seconds(ctx)
            except ValueError as exc:
                return Transition.failure(
                    "BadTaskSpecification", str(exc), kind=ErrorKind.USER, retryable=False
                )
            deadline = time.time() + seconds
        state = {"deadline": deadline}
        remaining = deadline - time.time()
        if remaining > 0:
            return Transition.running(state=state, wake_after=remaining)
        inputs = ctx.read_inputs()
        outputs = literals_pb2.LiteralMap()
        for name, literal in inputs.literals.items():
            if name != DURATION:
                outputs.literals[name].CopyFrom(literal)
        ctx.write_outputs(outputs)
        return Transition.success(state=state)


def _duration_seconds(ctx: TaskContext) -> float:
    task = ctx.task.id.name
    if DURATION in ctx.task.interface.inputs.variables:
        literal = ctx.read_inputs().literals.get(DURATION)
        if literal is None or not literal.scalar.primitive.HasField("duration"):
            raise ValueError(f"sleep task {task!r}: input {DURATION!r} must hold a Duration literal")
        duration = literal.scalar.primitive.duration
        seconds = duration.seconds + duration.nanos / 1e9
        source = f"input {DURATION!r}"
    elif DURATION in ctx.task.custom.fields:
        value = ctx.task.custom.fields[DURATION]
        if value.WhichOneof("kind") != "number_value":
            raise ValueError(
                f"sleep task {task!r}: custom field {DURATION!r} must be a number of seconds, got "
                f"{value.WhichOneof('kind') or 'nothing'}"
            )
        seconds = value.number_value
        source = f"custom field {DURATION!r}"
    else:
        raise ValueError(
            f"sleep task {task!r} has no duration: declare an input {DURATION!r} (Duration) or set "
            f"custom field {DURATION!r} (seconds)"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"sleep task {task!r}: {source} must be a duration of 0 or more, got {seconds}")
    return float(seconds)
