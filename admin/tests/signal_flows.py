"""Workflows of the signal CLI and parking tests: a workflow waiting for a typed input, one sleeping. Task processes import this module
from the tests folder (on their PYTHONPATH)."""

from __future__ import annotations

import datetime

from roost import sleep, task, wait_for_input, workflow


@task
def scale(x: int, factor: int) -> int:
    """x times factor."""
    return x * factor


@workflow
def asks(x: int) -> int:
    """scale x by a factor someone gives through the signal 'factor'."""
    return scale(x=x, factor=wait_for_input("factor", expected_type=int))


@workflow
def naps(x: int) -> int:
    """sleep three seconds, then scale x by 1."""
    nap = sleep(datetime.timedelta(seconds=3))
    result = scale(x=x, factor=1)
    nap >> result
    return result
