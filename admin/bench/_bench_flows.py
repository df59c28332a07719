"""Workflows the execution benchmarks run (their task processes import this module)."""

from __future__ import annotations

from roost import task, workflow


@task
def add_one(x: int) -> int:
    """x + 1."""
    return x + 1


@workflow
def one(x: int) -> int:
    """One python task."""
    return add_one(x=x)


@workflow
def ten(x: int) -> int:
    """Ten python tasks in a chain."""
    value = x
    for _ in range(10):
        value = add_one(x=value)
    return value


@workflow
def thousand(x: int) -> int:
    """A thousand python tasks in a chain (the console's execution page benchmark)."""
    value = x
    for _ in range(1000):
        value = add_one(x=value)
    return value
