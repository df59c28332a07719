"""Reading an MPI task's ``custom`` back on the engine side: flyteidl's ``DistributedMPITrainingTask``."""

from __future__ import annotations

from dataclasses import dataclass

from flyteidl.core import tasks_pb2
from flyteidl.plugins.kubeflow import mpi_pb2
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

__all__ = ["JobError", "MPIJobSpec", "read_job"]


class JobError(ValueError):
    """An MPI task whose ``custom`` cannot run; the message names the field."""


@dataclass(frozen=True)
class MPIJobSpec:
    """What the engine needs of an MPI task: the message, and the rank count it implies."""

    message: mpi_pb2.DistributedMPITrainingTask

    @property
    def workers(self) -> int:
        """Worker replicas."""
        return int(self.message.worker_replicas.replicas)

    @property
    def slots(self) -> int:
        """Ranks per worker (the MPI operator's default, 1, when unset)."""
        return int(self.message.slots) or 1

    @property
    def ranks(self) -> int:
        """Workers times slots."""
        return self.workers * self.slots


def read_job(task: tasks_pb2.TaskTemplate) -> MPIJobSpec:
    """The task's MPI job; :class:`JobError` when ``custom`` is missing, malformed or asks for no ranks."""
    if not task.HasField("custom") or not task.custom.fields:
        raise JobError("its custom holds no DistributedMPITrainingTask (an MPI task needs workerReplicas)")
    try:
        message = ParseDict(MessageToDict(task.custom), mpi_pb2.DistributedMPITrainingTask())
    except ParseError as exc:
        raise JobError(f"its custom is not a DistributedMPITrainingTask: {exc}") from None
    if message.worker_replicas.replicas < 1:
        raise JobError(
            f"custom.workerReplicas.replicas must be at least 1, not {message.worker_replicas.replicas}"
        )
    if message.slots < 0:
        raise JobError(f"custom.slots must not be negative, not {message.slots}")
    return MPIJobSpec(message)
