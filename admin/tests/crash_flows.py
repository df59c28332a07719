"""The workflow of the crash test. Every task run appends one line to the file ``ROOST_CRASH_LOG`` names
(``<execution> <task> <map index or -> <attempt>``), so the test counts runs exactly: a line twice is a task
that ran twice, a missing line a task that was lost. While the file ``ROOST_CRASH_GATE`` names exists, a task
that recorded its run waits: a test holds executions in flight with it."""

from __future__ import annotations

import os
import time

from roost import map_task, task, workflow


def _record() -> None:
    env = os.environ
    line = (
        f"{env['FLYTE_INTERNAL_EXECUTION_ID']} {env['FLYTE_INTERNAL_TASK_NAME']} "
        f"{env.get('FLYTE_K8S_ARRAY_INDEX', '-')} {env['FLYTE_ATTEMPT_NUMBER']}\n"
    )
    fd = os.open(env["ROOST_CRASH_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write of a short line: appends never interleave
    finally:
        os.close(fd)
    while os.path.exists(env["ROOST_CRASH_GATE"]):
        time.sleep(0.05)


@task
def spread(x: int) -> list[int]:
    """[x, x + 1, x + 2]."""
    _record()
    return [x, x + 1, x + 2]


@task
def square(x: int) -> int:
    """x squared (mapped: one run per element)."""
    _record()
    return x * x


@task
def total(values: list[int]) -> int:
    """The sum."""
    _record()
    return sum(values)


@workflow
def crashy(x: int) -> int:
    """Five task runs: spread, square three times (an array node), total."""
    return total(values=map_task(square)(x=spread(x=x)))


RUNS = (
    [("crash_flows.spread", "-")]
    + [("crash_flows.square", str(i)) for i in range(3)]
    + [("crash_flows.total", "-")]
)
"""The (task, map index) of every run one execution makes."""


def expected(x: int) -> int:
    """The workflow's output for input x."""
    return x * x + (x + 1) ** 2 + (x + 2) ** 2
