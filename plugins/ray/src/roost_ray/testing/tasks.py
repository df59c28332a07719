"""The Ray tasks of roost-ray's conformance subject (:mod:`roost_ray.testing.conformance`); their drivers and
Ray's workers import this module."""

from __future__ import annotations

import ray  # type: ignore[import-not-found,unused-ignore]

from roost import Resources, task
from roost_ray import RayJobConfig, WorkerNodeConfig

_WORKERS = [WorkerNodeConfig("workers", 1)]
_SMALL = Resources(cpu="1", mem="512Mi")
"""A one-CPU runtime: the tests share the machine."""


def _square(x: int) -> int:
    return x * x


def _reciprocal(x: int) -> float:
    return 1 / x


_remote_square = ray.remote(_square)
_remote_reciprocal = ray.remote(_reciprocal)


@task(task_config=RayJobConfig(worker_node_config=_WORKERS), limits=_SMALL)
def squares(n: int) -> int:
    """The sum of the squares below n, one Ray task each."""
    return sum(ray.get([_remote_square.remote(i) for i in range(n)]))


@task(task_config=RayJobConfig(worker_node_config=_WORKERS), limits=_SMALL)
def divide_by_zero(n: int) -> float:
    """A Ray task that raises ZeroDivisionError in its worker: the user's error."""
    return float(ray.get(_remote_reciprocal.remote(0 * n)))
