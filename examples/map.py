"""Map a task over a list, with a bound input and a limit on how many run at once."""

import functools

from roost import map_task, task, workflow


@task
def scale(x: int, factor: int) -> int:
    """x times factor."""
    return x * factor


@task
def total(values: list[int]) -> int:
    """The sum."""
    return sum(values)


@workflow
def wf(xs: list[int] = [1, 2, 3, 4], factor: int = 10) -> int:  # noqa: B006 - defaults are data here
    """Scale every element, then add them up."""
    scaled = map_task(functools.partial(scale, factor=3), concurrency=2)(x=xs)
    return total(values=scaled)
