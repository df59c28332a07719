"""The map workflow the map benchmark runs (its task processes import this module)."""

from __future__ import annotations

from roost import map_task, task, workflow


@task
def numbers(x: int) -> list[int]:
    """0 .. x - 1."""
    return list(range(x))


@task
def square(x: int) -> int:
    """x * x."""
    return x * x


@workflow
def squares(x: int) -> list[int]:
    """A map of a trivial task over ``x`` items."""
    return map_task(square)(x=numbers(x=x))
