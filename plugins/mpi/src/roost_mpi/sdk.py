"""The SDK side of roost-mpi (entry point ``roost.sdk``): ``@task(task_config=MPIJob(...))`` makes an
:class:`MPITask`, of task type ``mpi``, whose ``custom`` is flyteidl's ``DistributedMPITrainingTask`` and
whose command line is ``mpirun ... -np N roost-execute ...`` (see :mod:`roost_mpi.command`).

Called directly in Python the function runs once, as a single rank; under ``roost run`` and ``roost start``
the engine's MPI handler runs every rank. Only rank 0 writes the task's outputs; the other ranks' results are
dropped, wherever the ranks run (each rank learns its place from the variables its MPI launcher sets). When
the function raises on one rank of several, the process ends the whole MPI world once its error is written
(``MPI_Abort``), so the ranks waiting for it do not hang; outside ``mpi-local`` (whose handler names the failed
rank itself, from the rank's own folder) that error names the rank: ``task 'train' (rank 2 of 4) raised ...``.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from roost.extend import PluginTask, TaskOptions, hookimpl
from roost_mpi.command import task_command
from roost_mpi.config import MPIJob, job_custom, rank_count, validate_job

if TYPE_CHECKING:
    from flyteidl.core import literals_pb2

    from roost.extend import RegisterTaskType, SerializationSettings, TaskRunContext

__all__ = ["LOCAL_RANK_VARIABLE", "MPITask", "roost_task_types"]

LOCAL_RANK_VARIABLE = "ROOST_MPI_LOCAL_RANK"
"""Set by ``mpi-local``'s rank wrapper, which gives each rank its own output folder and names failed ranks."""
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


class MPITask(PluginTask[MPIJob]):
    """A task whose function runs on every rank of an MPI job; rank 0's result is the output."""

    task_type = "mpi"
    task_type_version = 1
    runs_in_process = False  # every rank runs under mpirun, started by the engine's MPI handler

    def __init__(self, fn: Callable[..., Any], options: TaskOptions, task_config: MPIJob) -> None:
        super().__init__(fn, options, task_config)
        validate_job(task_config, self.name)

    @property
    def label(self) -> str:
        """``task 'train'``; on a rank of a larger world outside ``mpi-local``, ``task 'train' (rank 2 of 4)``,
        so the errors a rank writes say which rank failed."""
        label = super().label
        rank, size = _world_place(os.environ)
        if rank is None or os.environ.get(LOCAL_RANK_VARIABLE) or size == 1:
            return label
        return f"{label} (rank {rank} of {size})" if size else f"{label} (rank {rank})"

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

    def dispatch(self, ctx: TaskRunContext, inputs: literals_pb2.LiteralMap) -> Any:
        """Run on this rank; only rank 0 returns the outputs to write (the others' would race with them)."""
        outputs = super().dispatch(ctx, inputs)
        rank, _ = _world_place(os.environ)
        return outputs if not rank else None

    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """flyteidl's ``DistributedMPITrainingTask``, as flytekitplugins-kfmpi encodes it."""
        return job_custom(self.task_config)

    def container_args(self, settings: SerializationSettings) -> list[str]:
        """``mpirun <flytekit's flags> -np <ranks>`` before the usual ``roost-execute`` command line."""
        return task_command(self.ranks, super().container_args(settings))


def _world_place(environ: Mapping[str, str]) -> tuple[int | None, int | None]:
    """This process's rank and the world's size from the variables MPI launchers set (Open MPI, MPICH's
    Hydra, PMIx); None for what they do not say (not started by an MPI launcher: no rank)."""
    rank = next((int(environ[n]) for n in _RANK_VARIABLES if environ.get(n, "").isdigit()), None)
    size = next((int(environ[n]) for n in _SIZE_VARIABLES if environ.get(n, "").isdigit()), None)
    return rank, size


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
