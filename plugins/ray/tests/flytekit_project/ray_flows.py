"""A flytekit 1.16 workflow with a flytekitplugins-ray task, as a flytekit user writes it."""

import ray
from flytekit import Resources, task, workflow
from flytekitplugins.ray import RayJobConfig, WorkerNodeConfig


@ray.remote
def square(x: int) -> int:
    return x * x


@task(
    task_config=RayJobConfig(
        worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=1)],
        runtime_env={"env_vars": {"FLYTEKIT_RAY_TEST": "on"}},
    ),
    limits=Resources(cpu="2", mem="1Gi"),
)
def sum_of_squares(n: int) -> int:
    return sum(ray.get([square.remote(i) for i in range(n)]))


@task
def describe(total: int) -> str:
    return f"total={total}"


@workflow
def wf(n: int = 10) -> str:
    return describe(total=sum_of_squares(n=n))
