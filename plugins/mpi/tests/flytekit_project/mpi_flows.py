"""A flytekit 1.16 module with flytekitplugins-kfmpi tasks, registered on `roost start` with `pyflyte register`;
``wf`` is examples/mpi_allreduce.py written for flytekit (the benchmark runs both)."""

import typing

from flytekit import task, workflow
from flytekitplugins.kfmpi import Launcher, MPIJob, Worker

GANG = MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=2), slots=2)


class Reduced(typing.NamedTuple):
    total: int
    ranks: int


@task
def numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@task(task_config=GANG)
def allreduce_sum(values: list[int]) -> Reduced:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    share = sum(values[comm.Get_rank() :: comm.Get_size()])
    return Reduced(comm.allreduce(share, op=MPI.SUM), comm.Get_size())


@task(task_config=GANG)
def crash(rank: int) -> int:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_rank() == rank:
        raise ValueError(f"rank {rank} refuses")
    return int(comm.allreduce(1))


@task
def check(total: int, n: int) -> int:
    if total != n * (n + 1) // 2:
        raise ValueError(f"the ranks summed 1..{n} to {total}")
    return total


@workflow
def wf(n: int = 100) -> Reduced:
    reduced = allreduce_sum(values=numbers(n=n))
    return Reduced(check(total=reduced.total, n=n), reduced.ranks)


@workflow
def crashing(rank: int = 1) -> int:
    return crash(rank=rank)
