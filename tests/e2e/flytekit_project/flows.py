"""Typical flytekit workflows, registered with `pyflyte register` and run on Roost by ``test_flytekit.py``.

This module is flytekit user code: it runs in flytekit's own virtualenv (on the client and in the task
processes), never in the test environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from flytekit import LaunchPlan, conditional, dynamic, map_task, task, workflow
from flytekit.types.error import FlyteError


@task
def square(x: int) -> int:
    """x squared."""
    return x * x


@task
def add(a: int, b: int) -> int:
    """The sum of two numbers."""
    return a + b


@task
def total(xs: list[int]) -> int:
    """The sum of a list."""
    return sum(xs)


@task
def describe(x: int, sign: str) -> str:
    """A sentence about x."""
    return f"{x} is {sign}"


@task
def reject(x: int) -> int:
    """Fails for every x but 0, with a message the test looks for."""
    if x != 0:
        raise ValueError(f"the input {x} is not allowed")
    return x


@workflow
def square_plus(x: int, y: int = 2) -> int:
    """x² + y: two tasks, and an input with a default."""
    return add(a=square(x=x), b=y)


@workflow
def sum_of_squares(xs: list[int]) -> int:
    """A map task over a list, then a reduction."""
    return total(xs=map_task(square)(x=xs))


@workflow
def classify(x: int) -> str:
    """A conditional with three branches."""
    return (
        conditional("sign")
        .if_(x > 0)
        .then(describe(x=x, sign="positive"))
        .elif_(x < 0)
        .then(describe(x=x, sign="negative"))
        .else_()
        .then(describe(x=x, sign="zero"))
    )


@dynamic
def squares(n: int) -> list[int]:
    """A dynamic workflow: one task per number below n, decided at run time."""
    return [square(x=i) for i in range(n)]


@workflow
def dynamic_sum(n: int) -> int:
    """The sum of the squares below n, through a dynamic workflow."""
    return total(xs=squares(n=n))


@workflow
def nested(x: int) -> int:
    """A sub-workflow (square_plus with y=1) and a task after it: x² + 1 + x."""
    return add(a=square_plus(x=x, y=1), b=x)


@task
def report_failure(x: int, err: Optional[FlyteError] = None) -> None:  # noqa: UP045 - flytekit 1.16's spelling
    """The failure handler: fails on purpose, so that the error it was given becomes the execution's."""
    raise RuntimeError(f"handled {err.failed_node_id if err else None}: {err.message if err else None}")


@workflow(on_failure=report_failure)
def failing(x: int) -> int:
    """A workflow whose task raises; its failure handler receives the error."""
    return reject(x=x)


@task
def lineage(previous: str) -> str:
    """Whether this task runs in a process forked from a warm interpreter (rather than in a pyflyte-execute
    process of its own), and what an earlier task left in the environment."""
    leaked = os.environ.get("ROOST_E2E_LEAK", "none")
    os.environ["ROOST_E2E_LEAK"] = "leaked"
    command = Path("/proc/self/cmdline").read_bytes().split(b"\0")
    started = "warm" if any(part.endswith(b"_warm.py") for part in command) else "cold"
    return f"{previous}/{started}:{leaked}"


@workflow
def lineage_chain() -> str:
    """Two lineage tasks, one after the other."""
    return lineage(previous=lineage(previous=""))


square_plus_defaults = LaunchPlan.get_or_create(
    square_plus, name="square_plus_defaults", default_inputs={"x": 4, "y": 10}
)
"""A launch plan whose defaults override the workflow's."""

square_plus_fixed = LaunchPlan.get_or_create(square_plus, name="square_plus_fixed", fixed_inputs={"y": 100})
"""A launch plan that fixes y."""
