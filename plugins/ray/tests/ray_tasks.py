"""Ray tasks the local and engine tests run (importable by Ray's workers: the tests folder is on their path)."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import ray

from roost import Resources, task, workflow
from roost_ray import RayJobConfig, WorkerNodeConfig

WORKERS = [WorkerNodeConfig("workers", 2)]


@ray.remote
def square(x: int) -> int:
    """x squared, in a Ray worker."""
    return x * x


@ray.remote
def worker_pid() -> int:
    """The Ray worker's pid."""
    return os.getpid()


@dataclass
class Cluster:
    """What a task saw of its Ray cluster."""

    address: str
    cpus: float
    object_store: float
    total: int


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="2", mem="1Gi"))
def fan_out(n: int) -> Cluster:
    """The sum of squares below n, one remote call each; and the cluster it ran on."""
    total = sum(ray.get([square.remote(i) for i in range(n)]))
    resources = ray.cluster_resources()
    return Cluster(
        ray.get_runtime_context().gcs_address, resources["CPU"], resources["object_store_memory"], total
    )


@task(
    task_config=RayJobConfig(worker_node_config=WORKERS, runtime_env={"env_vars": {"ROOST_RAY_TEST": "yes"}}),
    limits=Resources(cpu="2", mem="1Gi"),
)
def with_env(n: int) -> Cluster:
    """Like fan_out, in a job whose runtime environment sets a variable its workers see."""

    @ray.remote
    def seen() -> str:
        return os.environ.get("ROOST_RAY_TEST", "")

    assert ray.get(seen.remote()) == "yes"
    return fan_out.execute(n=n)


@workflow
def two_tasks(n: int = 10) -> tuple[Cluster, Cluster]:
    """Two Ray tasks of the same shape, one after the other."""
    first = fan_out(n=n)
    second = with_env(n=n)
    first >> second
    return first, second


BROKEN_ENV = {"conda": "roost-no-such-conda-env"}
"""A runtime environment that cannot install: a conda environment that does not exist (nor does conda)."""


@task(
    task_config=RayJobConfig(worker_node_config=WORKERS, runtime_env=BROKEN_ENV),
    limits=Resources(cpu="1", mem="512Mi"),
)
def uninstallable(n: int) -> int:
    """Never gets to run its remote call."""
    return ray.get(square.remote(n))


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="1", mem="512Mi"))
def hang(marker: str) -> int:
    """Starts a Ray worker that records its pid in ``marker`` and sleeps; never returns on its own."""

    @ray.remote
    def sleeper(path: str) -> int:
        Path(path).write_text(str(os.getpid()))
        time.sleep(600)
        return 0

    return ray.get(sleeper.remote(marker))


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="2", mem="1Gi"))
def fan_stats(n: int) -> tuple[int, float]:
    """The sum of squares below n (one remote call each), and the CPUs of the cluster it ran on."""
    return sum(ray.get([square.remote(i) for i in range(n)])), ray.cluster_resources()["CPU"]


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="1", mem="512Mi"))
def fan_out_int(n: int) -> int:
    """The sum of squares below n, one remote call each."""
    return sum(ray.get([square.remote(i) for i in range(n)]))


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="1", mem="512Mi"))
def explode(n: int) -> int:
    """Fails in a remote call: the user's error."""

    @ray.remote
    def boom(x: int) -> int:
        raise ValueError(f"no square for {x}")

    return ray.get(boom.remote(n))


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="1", mem="512Mi"))
def crash(code: int) -> int:
    """The driver's process dies without a word: the Ray job fails, with no error document."""
    os._exit(code)


@task(task_config=RayJobConfig(worker_node_config=WORKERS), limits=Resources(cpu="1", mem="512Mi"))
def nap(seconds: int) -> int:
    """A remote call that sleeps ``seconds``, then returns them."""

    @ray.remote
    def slept(s: int) -> int:
        time.sleep(s)
        return s

    return int(ray.get(slept.remote(seconds)))
