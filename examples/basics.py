"""Tasks, a workflow with defaults and a named tuple, a sub-workflow, and ordering with >>."""

from typing import NamedTuple

from roost import task, workflow


class Stats(NamedTuple):
    total: int
    mean: float


@task
def square(x: int) -> int:
    """x squared."""
    return x * x


@task
def summarize(values: list[int]) -> Stats:
    """The total and the mean of some numbers."""
    return Stats(sum(values), sum(values) / len(values))


@task
def say(message: str) -> str:
    """A greeting."""
    return f"hello, {message}"


@workflow
def squares(a: int, b: int = 4) -> int:
    """The sum of two squares."""
    return summarize(values=[square(x=a), square(x=b)]).total


@workflow
def wf(x: int = 3, name: str = "roost") -> tuple[int, float, str]:
    """Squares, a summary of them, and a greeting after everything else."""
    first = squares(a=x)
    stats = summarize(values=[first, square(x=x)])
    greeting = say(message=name)
    stats >> greeting
    return first, stats.mean, greeting
