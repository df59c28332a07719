"""flytekit's half of bench_ray.py (flytekit 1.16 and flytekitplugins-ray): the same workflow, run ROUNDS times in
one process as a flytekit local run; prints the seconds of each run as JSON."""

import json
import sys
import time

import ray
from flytekit import Resources, task, workflow
from flytekitplugins.ray import RayJobConfig, WorkerNodeConfig


@ray.remote
def square(x: int) -> int:
    return x * x


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task(
    task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=1)]),
    limits=Resources(cpu="2", mem="1Gi"),
)
def sum_of_squares(xs: list[int]) -> int:
    return sum(ray.get([square.remote(x) for x in xs]))


@task
def describe(total: int) -> str:
    return f"total={total}"


@workflow
def fan_out(n: int) -> str:
    return describe(total=sum_of_squares(xs=numbers(n=n)))


def main() -> None:
    n, rounds = int(sys.argv[1]), int(sys.argv[2])
    seconds = []
    result = None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fan_out(n=n)
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "result": result}))


if __name__ == "__main__":
    main()
