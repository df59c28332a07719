"""A workflow that does not compile: the type error shows when it is compiled."""

from roost import task, workflow


@task
def number() -> int:
    """A number."""
    return 1


@task
def shout(text: str) -> str:
    """Upper case."""
    return text.upper()


@workflow
def bad() -> str:
    """Passes an int where a str is expected."""
    return shout(text=number())
