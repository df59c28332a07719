"""Workflows of the signal CLI tests: a workflow waiting for a typed input. Task processes import this module
from the tests folder (on their PYTHONPATH)."""

from __future__ import annotations

from roost import task, wait_for_input, workflow


@task
def scale(x: int, factor: int) -> int:
    """x times factor."""
    return x * factor


@workflow
def asks(x: int) -> int:
    """scale x by a factor someone gives through the signal 'factor'."""
    return scale(x=x, factor=wait_for_input("factor", expected_type=int))
