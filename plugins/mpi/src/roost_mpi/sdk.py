"""The SDK side of roost-mpi (entry point ``roost.sdk``): ``@task(task_config=MPIJob(...))`` makes an
:class:`MPITask`, of task type ``mpi``, whose ``custom`` is flyteidl's ``DistributedMPITrainingTask`` and
whose command line is ``mpirun ... -np N roost-execute ...`` (see :mod:`roost_mpi.command`).

Called directly in Python the function runs once, as a single rank; under ``roost run`` and ``roost start``
the engine's MPI handler runs every rank.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roost.extend import PluginTask, TaskOptions, hookimpl
from roost_mpi.command import task_command
from roost_mpi.config import MPIJob, job_custom, rank_count, validate_job

if TYPE_CHECKING:
    from roost.extend import RegisterTaskType, SerializationSettings

__all__ = ["MPITask", "roost_task_types"]


class MPITask(PluginTask[MPIJob]):
    """A task whose function runs on every rank of an MPI job; rank 0's result is the output."""

    task_type = "mpi"
    task_type_version = 1
    runs_in_process = False  # every rank runs under mpirun, started by the engine's MPI handler

    def __init__(self, fn: Callable[..., Any], options: TaskOptions, task_config: MPIJob) -> None:
        super().__init__(fn, options, task_config)
        validate_job(task_config, self.name)

    @property
    def ranks(self) -> int:
        """How many ranks run the function: workers times slots."""
        return rank_count(self.task_config)

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """flyteidl's ``DistributedMPITrainingTask``, as flytekitplugins-kfmpi encodes it."""
        return job_custom(self.task_config)

    def container_args(self, settings: SerializationSettings) -> list[str]:
        """``mpirun <flytekit's flags> -np <ranks>`` before the usual ``roost-execute`` command line."""
        return task_command(self.ranks, super().container_args(settings))


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """``MPIJob`` task configs make MPI tasks."""
    register(MPIJob, MPITask)
