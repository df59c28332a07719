"""Workflows the CLI tests run."""

import datetime

from roost import LaunchPlan, task, workflow


@task
def scale(x: int, factor: float = 1.5) -> float:
    """x times factor."""
    return x * factor


@task
def label(values: list[float], name: str) -> str:
    """A label for the values."""
    return f"{name}: {sum(values)}"


@workflow
def wf(
    x: int,
    xs: list[int] = [1, 2],  # noqa: B006 - a default value, never mutated
    when: datetime.timedelta = datetime.timedelta(seconds=5),
) -> tuple[float, str]:
    """Scale x, and label the scaled list."""
    return scale(x=x), label(values=[scale(x=xs[0]), scale(x=xs[1])], name="total")


nightly = LaunchPlan.get_or_create(wf, "simple.nightly", fixed_inputs={"x": 4})


@task
def explode(x: int) -> int:
    """Always fails."""
    raise ValueError(f"cannot take {x}")


@task(retries=1)
def stumble(x: int) -> int:
    """Fails in a way worth trying again."""
    from roost import RecoverableError

    raise RecoverableError(f"not now ({x})")


from roost import dynamic  # noqa: E402 - kept next to its use


@dynamic
def fan(n: int) -> list[float]:
    """n scale tasks, decided at run time."""
    return [scale(x=i) for i in range(n)]


@workflow
def fan_wf(n: int = 3) -> list[float]:
    """Fan out dynamically."""
    return fan(n=n)
