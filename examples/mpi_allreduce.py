"""An MPI gang as one typed step: numbers made by a Python task are summed by 4 MPI ranks (2 workers x 2 slots)
with an allreduce, and a last task checks the sum. Needs roost-mpi[local] (Open MPI and mpi4py from pip)."""

from typing import NamedTuple

from roost import task, workflow
from roost_mpi import Launcher, MPIJob, Worker


class Reduced(NamedTuple):
    total: int
    ranks: int


@task
def numbers(n: int) -> list[int]:
    """1..n."""
    return list(range(1, n + 1))


@task(task_config=MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=2), slots=2))
def allreduce_sum(values: list[int]) -> Reduced:
    """Each rank sums its share of the values; an allreduce adds the shares up. Rank 0's result is the output."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    share = sum(values[comm.Get_rank() :: comm.Get_size()])
    return Reduced(comm.allreduce(share, op=MPI.SUM), comm.Get_size())


@task
def check(total: int, n: int) -> int:
    """The sum, checked against n(n+1)/2."""
    if total != n * (n + 1) // 2:
        raise ValueError(f"the ranks summed 1..{n} to {total}")
    return total


@workflow
def wf(n: int = 100) -> Reduced:
    """Sum 1..n on an MPI gang."""
    reduced = allreduce_sum(values=numbers(n=n))
    checked = check(total=reduced.total, n=n)
    return Reduced(checked, reduced.ranks)
