"""flytekit workflows the recovery end-to-end test fails, then recovers. Each task notes its run in the file
``log``; ``second`` fails while the file ``flag`` exists."""

import os

from flytekit import task, workflow


def _note(log: str, what: str) -> None:
    with open(log, "a") as out:
        out.write(what + "\n")


@task
def first(log: str, x: int) -> int:
    """x + 1."""
    _note(log, "first")
    return x + 1


@task
def second(log: str, flag: str, x: int) -> int:
    """10x, failing while the flag is up."""
    _note(log, "second")
    if os.path.exists(flag):
        raise RuntimeError("the flag is up")
    return x * 10


@task
def third(log: str, x: int) -> int:
    """x + 3."""
    _note(log, "third")
    return x + 3


@workflow
def recoverable(log: str, flag: str, x: int) -> int:
    """Three steps; the second fails while the flag is up."""
    return third(log=log, x=second(log=log, flag=flag, x=first(log=log, x=x)))
