"""Cached tasks run once per input; a new cache version, or an ignored input, changes that."""

import time

from roost import Cache, task, workflow


@task(cache=Cache(version="1", ignored_inputs=("note",)))
def slow_square(x: int, note: str = "") -> int:
    """x squared, slowly; the note does not affect the result."""
    time.sleep(0.5)
    return x * x


@workflow
def wf(x: int = 7, note: str = "first") -> int:
    """A cached computation."""
    return slow_square(x=x, note=note)
