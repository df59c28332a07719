"""The SDK side of roost-mpi (entry point ``roost.sdk``): ``@task(task_config=MPIJob(...))`` makes an
:class:`MPITask`, of task type ``mpi``, whose ``custom`` is flyteidl's ``DistributedMPITrainingTask`` and
whose command line is ``mpirun ... -np N roost-execute ...`` (see :mod:`roost_mpi.command`).

Called directly in Python the function runs once, as a single rank; under ``roost run`` and ``roost start``
the engine's MPI handler runs every rank. When the function raises on one rank of several, the process ends
the whole MPI world once its error is written (``MPI_Abort``), so the ranks waiting for it do not hang.
"""

from __future__ import annotations

import atexit
import sys
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

    def execute(self, **inputs: Any) -> Any:
        """Call the function; when it raises on a rank of a larger world, end the whole world as this process
        exits (after its error is written), since the other ranks may be waiting for this one."""
        try:
            return super().execute(**inputs)
        except BaseException:
            atexit.register(_abort_world)
            raise

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """flyteidl's ``DistributedMPITrainingTask``, as flytekitplugins-kfmpi encodes it."""
        return job_custom(self.task_config)

    def container_args(self, settings: SerializationSettings) -> list[str]:
        """``mpirun <flytekit's flags> -np <ranks>`` before the usual ``roost-execute`` command line."""
        return task_command(self.ranks, super().container_args(settings))


def _abort_world() -> None:
    """``MPI_Abort`` on ``COMM_WORLD`` if this process started MPI with other ranks. Registered after mpi4py's
    own exit handler, so it runs before it: that one finalizes, which would wait for ranks waiting for us."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return
    world = mpi.COMM_WORLD
    if world.Get_size() > 1:
        sys.stderr.flush()
        world.Abort(1)


@hookimpl
def roost_task_types(register: RegisterTaskType) -> None:
    """``MPIJob`` task configs make MPI tasks."""
    register(MPIJob, MPITask)
