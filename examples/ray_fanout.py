"""A Ray task: a fan-out of remote calls inside one task, on a local Ray (`roost run`, `roost start`) or a
KubeRay cluster. Needs roost-ray: `pip install ./plugins/ray`.

    roost run examples/ray_fanout.py wf --n 100
"""

import ray

from roost import Resources, task, workflow
from roost_ray import RayJobConfig, WorkerNodeConfig


@ray.remote
def square(x: int) -> int:
    """x squared, in a Ray worker."""
    return x * x


@task(
    task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=2)]),
    limits=Resources(cpu="2", mem="1Gi"),
)
def sum_of_squares(n: int) -> int:
    """The sum of the squares below n: one remote call per number, gathered with ray.get."""
    return sum(ray.get([square.remote(i) for i in range(n)]))


@task
def describe(total: int, n: int) -> str:
    """A sentence about the result."""
    return f"the squares below {n} sum to {total}"


@workflow
def wf(n: int = 100) -> str:
    """Fan out n remote calls in a Ray task, then describe the result in a plain task."""
    return describe(total=sum_of_squares(n=n), n=n)
