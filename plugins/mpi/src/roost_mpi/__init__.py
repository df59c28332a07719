"""Roost MPI tasks: ``MPIJob`` with flytekitplugins-kfmpi's names and wire format, run by ``mpirun``.

``from roost_mpi import MPIJob, Launcher, Worker`` is what a flytekit user's
``from flytekitplugins.kfmpi import ...`` becomes. Importing this package imports neither mpi4py nor the
engine side.
"""

from __future__ import annotations

from roost_mpi.config import CleanPodPolicy, Launcher, MPIJob, RestartPolicy, RunPolicy, Worker

__all__ = ["CleanPodPolicy", "Launcher", "MPIJob", "RestartPolicy", "RunPolicy", "Worker"]
