"""MPI tasks the engine-side tests run (their ranks import this module: the tests put this folder on the tasks'
PYTHONPATH)."""

from __future__ import annotations

import os
import signal
import sys
import time

from roost import task
from roost_mpi import Launcher, MPIJob, Worker

GANG = MPIJob(launcher=Launcher(replicas=1), worker=Worker(replicas=2), slots=2)


@task(task_config=GANG)
def allreduce(n: int) -> list[int]:
    """[sum over ranks of (rank + n), world size, this rank]: only rank 0's answer may come back."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return [comm.allreduce(comm.Get_rank() + n), comm.Get_size(), comm.Get_rank()]


@task(task_config=GANG)
def crash(rank: int, how: str) -> int:
    """Rank ``rank`` fails (``raise``, ``exit``, ``segv``) while the others wait for it in an allreduce."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_rank() == rank:
        time.sleep(0.2)
        if how == "raise":
            raise RuntimeError(f"rank {rank} gives up")
        if how == "exit":
            print(f"rank {rank} exits", file=sys.stderr, flush=True)
            os._exit(3)
        os.kill(os.getpid(), signal.SIGSEGV)
    return int(comm.allreduce(1))


@task(task_config=GANG)
def sleeper(seconds: int) -> int:
    """Every rank sleeps, then they meet."""
    from mpi4py import MPI

    time.sleep(seconds)
    return int(MPI.COMM_WORLD.allreduce(1))


@task(task_config=GANG)
def world(n: int) -> list[int]:
    """[sum over ranks of (rank + n), world size]: the same on every rank."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return [comm.allreduce(comm.Get_rank() + n), comm.Get_size()]


@task(task_config=GANG)
def late_ranks(n: int) -> list[int]:
    """[n, this rank]; every rank but 0 returns half a second after rank 0 (so it would write last)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    comm.Barrier()
    if comm.Get_rank():
        time.sleep(0.5)
    return [n, comm.Get_rank()]


@task(task_config=GANG)
def transports() -> str:
    """The Open MPI transports the ranks were given (``OMPI_MCA_btl``)."""
    return os.environ.get("OMPI_MCA_btl", "")  # noqa: SIM112 (Open MPI spells it so)
