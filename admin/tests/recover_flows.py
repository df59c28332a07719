"""Workflows the recovery tests fail and then recover. Every task notes its run in the file named by
``RECOVER_LOG`` (so a test counts what ran), and some fail while the file named by ``RECOVER_FLAG`` exists."""

from __future__ import annotations

import os
import time

from roost import dynamic, map_task, task, workflow


def _note(what: str) -> None:
    with open(os.environ["RECOVER_LOG"], "a") as out:
        out.write(f"{what}\n")


def _flagged() -> bool:
    return os.path.exists(os.environ["RECOVER_FLAG"])


@task
def s1(x: int) -> int:
    """Step 1."""
    _note("s1")
    return x + 1


@task
def s2(x: int) -> int:
    """Step 2."""
    _note("s2")
    return x + 2


@task
def s3(x: int) -> int:
    """Step 3."""
    _note("s3")
    return x + 3


@task
def s4(x: int) -> int:
    """Step 4: fails while the flag is up."""
    _note("s4")
    if _flagged():
        raise RuntimeError("the flag is up")
    return x + 4


@task
def s5(x: int) -> int:
    """Step 5."""
    _note("s5")
    return x + 5


@workflow
def chain(x: int) -> int:
    """Five steps in a row."""
    return s5(x=s4(x=s3(x=s2(x=s1(x=x)))))


@task
def spread(n: int) -> list[int]:
    """0..n-1."""
    _note("spread")
    return list(range(n))


@task
def square(x: int) -> int:
    """x squared; index 2 fails while the flag is up."""
    _note(f"square {x}")
    if x == 2 and _flagged():
        raise RuntimeError("the flag is up")
    return x * x


@task
def total(values: list[int]) -> int:
    """The sum."""
    _note("total")
    return sum(values)


@workflow
def mapped(n: int) -> int:
    """A map task over 0..n-1, one index at a time (so which indices ran before one failed is certain), then
    the sum."""
    return total(values=map_task(square, concurrency=1)(x=spread(n=n)))


@dynamic
def steps(x: int) -> int:
    """Steps 1, 2 and 4 as a dynamic workflow."""
    _note("steps")
    return s4(x=s2(x=s1(x=x)))


@workflow
def dynamic_steps(x: int) -> int:
    """A dynamic node, then step 5."""
    return s5(x=steps(x=x))


@workflow
def inner(x: int) -> int:
    """Steps 3 and 4 as a sub-workflow."""
    return s4(x=s3(x=x))


@workflow
def nested(x: int) -> int:
    """Step 1, the sub-workflow, step 5."""
    return s5(x=inner(x=s1(x=x)))


@task
def held(x: int) -> int:
    """Waits while the flag is up (at most a minute)."""
    for _ in range(1200):
        if not _flagged():
            break
        time.sleep(0.05)
    return x


@workflow
def holding(x: int) -> int:
    """One task that waits while the flag is up."""
    return held(x=x)
