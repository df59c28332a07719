"""Choose what runs from a value known only at run time."""

from roost import conditional, task, workflow


@task
def coin(seed: int) -> float:
    """A deterministic 'random' number in [0, 1)."""
    return (seed * 7919 % 1000) / 1000


@task
def heads(p: float) -> str:
    """Heads."""
    return f"heads ({p})"


@task
def tails(p: float) -> str:
    """Tails."""
    return f"tails ({p})"


@workflow
def wf(seed: int = 5) -> str:
    """Heads if the coin is below a half, tails otherwise; fails on an exact half."""
    p = coin(seed=seed)
    return (
        conditional("flip")
        .if_(p < 0.5)
        .then(heads(p=p))
        .elif_(p > 0.5)
        .then(tails(p=p))
        .else_()
        .fail("the coin stood on its edge")
    )
