"""A dynamic task builds the rest of the workflow from its actual inputs."""

from roost import dynamic, task, workflow


@task
def fib_step(a: int, b: int) -> int:
    """The next Fibonacci number."""
    return a + b


@dynamic
def fibonacci(n: int) -> int:
    """Chain n steps; the number of nodes depends on the input."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, fib_step(a=a, b=b)
    return b


@workflow
def wf(n: int = 10) -> int:
    """The n-th Fibonacci number, computed by a chain of tasks."""
    return fibonacci(n=n)
