"""The MPI tasks of roost-mpi's conformance subject (:mod:`roost_mpi.testing.conformance`); their ranks import
this module. Each runs two ranks (two workers, one slot each); mpi4py is imported in the ranks only, as importing
it starts MPI."""

from __future__ import annotations

import time

from roost import task
from roost_mpi import Launcher, MPIJob, Worker

_PAIR = MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=2), slots=1)


@task(task_config=_PAIR)
def world(n: int) -> list[int]:
    """[sum over ranks of (rank + n), world size]: the same on every rank."""
    from mpi4py import MPI  # type: ignore[import-not-found,unused-ignore]

    comm = MPI.COMM_WORLD
    return [int(comm.allreduce(comm.Get_rank() + n)), int(comm.Get_size())]


@task(task_config=_PAIR)
def sleeper(seconds: int) -> int:
    """Every rank sleeps, then they meet: the world size."""
    from mpi4py import MPI  # type: ignore[import-not-found,unused-ignore]

    time.sleep(seconds)
    return int(MPI.COMM_WORLD.allreduce(1))


@task(task_config=_PAIR)
def crash(rank: int) -> int:
    """Rank ``rank`` raises while the others wait for it in an allreduce: the user's error."""
    from mpi4py import MPI  # type: ignore[import-not-found,unused-ignore]

    comm = MPI.COMM_WORLD
    if comm.Get_rank() == rank:
        raise RuntimeError(f"rank {rank} gives up")
    return int(comm.allreduce(1))
