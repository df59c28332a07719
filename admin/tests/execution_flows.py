"""Workflows the execution and worker tests run. Their tasks run as local processes (``roost-execute``), which
import this module: the tests put this folder on the task processes' PYTHONPATH."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from roost import LaunchPlan, RecoverableError, approve, current_context, dynamic, map_task, task, workflow


@task
def add_one(x: int) -> int:
    """x + 1."""
    return x + 1


@task
def double(x: int) -> int:
    """2x."""
    return 2 * x


@task
def explode(x: int) -> int:
    """Always fails, naming x (after a line on stderr, which the console's log view shows)."""
    print(f"about to fail on {x}", file=sys.stderr)
    raise ValueError(f"cannot take {x}")


@task
def note(path: str, x: int) -> int:
    """Append a line to ``path`` (so a test can count how often the task ran), then return x."""
    with open(path, "a") as out:
        out.write(f"ran {x}\n")
    return x


@task
def linger(path: str, seconds: float, x: int) -> int:
    """Write this process's pid to ``path``, sleep, return x."""
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return x


@task
def own_phase(x: int) -> str:
    """Asks the admin, with Roost's remote client, for the phase of the execution this task runs in: the
    client finds the admin from what the admin tells its task processes."""
    from flyteidl.core import execution_pb2, identifier_pb2

    from roost.remote import RemoteClient

    ident = identifier_pb2.WorkflowExecutionIdentifier(
        project=os.environ["FLYTE_INTERNAL_EXECUTION_PROJECT"],
        domain=os.environ["FLYTE_INTERNAL_EXECUTION_DOMAIN"],
        name=os.environ["FLYTE_INTERNAL_EXECUTION_ID"],
    )
    with RemoteClient() as client:
        phase = client.execution(ident).closure.phase
    return f"{os.environ['FLYTE_PLATFORM_URL']} {execution_pb2.WorkflowExecution.Phase.Name(phase)} {x}"


@workflow
def introspect(x: int) -> str:
    """A task that calls back into the admin."""
    return own_phase(x=x)


@task(retries=2)
def resumes(x: int) -> str:
    """Fails twice, checkpointing how far it got; the third attempt returns what it found."""
    checkpoint = current_context().checkpoint
    previous = checkpoint.read()
    seen = previous.decode() if previous else ""
    attempts = seen.count("|")
    if attempts < 2:
        checkpoint.write(f"{seen}{attempts}|".encode())
        raise RecoverableError(f"attempt {attempts} stops on purpose")
    return f"{seen} {x}"


@workflow
def checkpointed(x: int) -> str:
    """A task resuming from its checkpoint on every retry."""
    return resumes(x=x)


@workflow
def one(x: int) -> int:
    """One task."""
    return add_one(x=x)


@workflow
def pair(x: int, y: int = 2) -> tuple[int, int]:
    """x + 1 and 2y."""
    return add_one(x=x), double(x=y)


pair_fixed = LaunchPlan.get_or_create(
    pair, "execution_flows.pair_fixed", fixed_inputs={"y": 10}, labels={"team": "ml"}
)


@workflow
def failing(x: int) -> int:
    """A task that fails."""
    return explode(x=x)


@workflow
def slow(path: str, seconds: float, x: int) -> int:
    """One long task (for terminating and restarting)."""
    return linger(path=path, seconds=seconds, x=x)


@workflow
def noted(log: str, path: str, seconds: float, x: int) -> int:
    """A quick task that notes it ran, then a long one, then a quick one."""
    first = note(path=log, x=x)
    return add_one(x=linger(path=path, seconds=seconds, x=first))


one_lp = LaunchPlan.get_or_create(one, "execution_flows.one_lp", default_inputs={"x": 5})


@workflow
def parent(x: int) -> int:
    """Launches one_lp as a child execution, then doubles its result."""
    return double(x=one_lp(x=x))


@workflow
def gated(x: int) -> int:
    """add_one, wait for approval, double."""
    return double(x=approve(add_one(x=x), "ok"))


@dynamic
def fan(n: int) -> int:
    """add_one n times, decided at run time."""
    value = 0
    for _ in range(n):
        value = add_one(x=value)
    return value


@workflow
def dyn(n: int = 2) -> int:
    """A dynamic task."""
    return fan(n=n)


@task
def positive(x: int) -> int:
    """x, when it is positive; fails otherwise."""
    if x <= 0:
        raise ValueError(f"{x} is not positive")
    return x


@workflow
def screened(xs: list[int] = [1, -2, 3, -4, 5]) -> None:  # noqa: B006 - defaults are data here
    """positive over xs, where up to half may fail (the console counts a map's subtasks per phase)."""
    map_task(positive, min_success_ratio=0.5)(x=xs)
