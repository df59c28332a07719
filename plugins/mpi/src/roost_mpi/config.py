"""The MPI task config: ``MPIJob``, ``Launcher``, ``Worker``, ``RunPolicy`` and their enums.

The names, fields and defaults are flytekitplugins-kfmpi 1.16's, so a flytekit task ports by changing its
import. :func:`job_custom` encodes a job as ``TaskTemplate.custom`` exactly as that plugin does: flyteidl's
``kubeflow.DistributedMPITrainingTask`` as JSON (proto3 defaults left out, enums by name).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyteidl.core import tasks_pb2
from flyteidl.plugins.kubeflow import common_pb2, mpi_pb2
from google.protobuf.json_format import MessageToDict

from roost.errors import WorkflowDefinitionError

if TYPE_CHECKING:
    from roost import Resources

__all__ = [
    "CleanPodPolicy",
    "Launcher",
    "MPIJob",
    "RestartPolicy",
    "RunPolicy",
    "Worker",
    "job_custom",
    "rank_count",
    "validate_job",
]


class RestartPolicy(enum.Enum):
    """How the replicas of a group are restarted (kubeflow's ``RestartPolicy``)."""

    ALWAYS = common_pb2.RESTART_POLICY_ALWAYS
    FAILURE = common_pb2.RESTART_POLICY_ON_FAILURE
    NEVER = common_pb2.RESTART_POLICY_NEVER


class CleanPodPolicy(enum.Enum):
    """What happens to the pods when the job finished (kubeflow's ``CleanPodPolicy``)."""

    NONE = common_pb2.CLEANPOD_POLICY_NONE
    ALL = common_pb2.CLEANPOD_POLICY_ALL
    RUNNING = common_pb2.CLEANPOD_POLICY_RUNNING


@dataclass
class RunPolicy:
    """Policies of the whole job: pod cleaning, time to live once finished, a deadline, and retries."""

    clean_pod_policy: CleanPodPolicy | None = None
    ttl_seconds_after_finished: int | None = None
    active_deadline_seconds: int | None = None
    backoff_limit: int | None = None


@dataclass
class Worker:
    """The worker replica group: ``replicas`` pods (each with ``slots`` ranks), their image, resources and
    command (the MPI operator's default when None)."""

    command: list[str] | None = None
    image: str | None = None
    requests: Resources | None = None
    limits: Resources | None = None
    replicas: int | None = None
    restart_policy: RestartPolicy | None = None


@dataclass
class Launcher:
    """The launcher replica group: the pod running ``mpirun`` (the task's own command when ``command`` is
    None)."""

    command: list[str] | None = None
    image: str | None = None
    requests: Resources | None = None
    limits: Resources | None = None
    replicas: int | None = None
    restart_policy: RestartPolicy | None = None


@dataclass
class MPIJob:
    """An MPI task: ``@task(task_config=MPIJob(worker=Worker(replicas=2), slots=2))``.

    Inside the task ``mpi4py.MPI.COMM_WORLD`` has ``worker.replicas * slots`` ranks; rank 0's return value is
    the task's output. ``num_workers`` and ``num_launcher_replicas`` are the deprecated spellings of
    ``worker.replicas`` and ``launcher.replicas``, kept as flytekit keeps them.
    """

    launcher: Launcher = field(default_factory=Launcher)
    worker: Worker = field(default_factory=Worker)
    run_policy: RunPolicy | None = None
    slots: int = 1
    num_launcher_replicas: int | None = None
    num_workers: int | None = None


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_job(job: object, task: str) -> None:
    """Refuse a config flytekit would refuse, or one no MPI job can run with; messages name ``task`` and the
    field."""
    where = f"task {task!r}: MPIJob"
    if not isinstance(job, MPIJob):
        raise WorkflowDefinitionError(f"{where}: task_config must be an MPIJob, not {job!r}")
    for group_name, group, legacy_name, legacy, group_type in (
        ("worker", job.worker, "num_workers", job.num_workers, Worker),
        ("launcher", job.launcher, "num_launcher_replicas", job.num_launcher_replicas, Launcher),
    ):
        if not isinstance(group, group_type):
            raise WorkflowDefinitionError(
                f"{where}.{group_name} must be a {group_type.__name__}, not {group!r}"
            )
        if legacy and group.replicas:
            raise WorkflowDefinitionError(
                f"{where}: give {group_name}.replicas or the deprecated {legacy_name}, not both"
            )
        if legacy is None and group.replicas is None:
            raise WorkflowDefinitionError(
                f"{where}.{group_name}.replicas is required (or the deprecated {legacy_name})"
            )
        for name, value in ((f"{group_name}.replicas", group.replicas), (legacy_name, legacy)):
            if value is not None and not _positive(value):
                raise WorkflowDefinitionError(f"{where}.{name} must be a positive integer, not {value!r}")
        if group.command is not None and not (
            isinstance(group.command, list) and all(isinstance(a, str) for a in group.command)
        ):
            raise WorkflowDefinitionError(
                f"{where}.{group_name}.command must be a list of strings, not {group.command!r}"
            )
        if group.restart_policy is not None and not isinstance(group.restart_policy, RestartPolicy):
            raise WorkflowDefinitionError(
                f"{where}.{group_name}.restart_policy must be a RestartPolicy, not {group.restart_policy!r}"
            )
    if not _positive(job.slots):
        raise WorkflowDefinitionError(f"{where}.slots must be a positive integer, not {job.slots!r}")
    policy = job.run_policy
    if policy is not None:
        if not isinstance(policy, RunPolicy):
            raise WorkflowDefinitionError(f"{where}.run_policy must be a RunPolicy, not {policy!r}")
        for name in ("ttl_seconds_after_finished", "active_deadline_seconds", "backoff_limit"):
            value = getattr(policy, name)
            if value is not None and not _non_negative(value):
                raise WorkflowDefinitionError(
                    f"{where}.run_policy.{name} must be a non-negative integer, not {value!r}"
                )


def worker_replicas(job: MPIJob) -> int:
    """The number of workers (``num_workers`` when given, as flytekit reads it)."""
    return int(job.num_workers or job.worker.replicas or 0)


def rank_count(job: MPIJob) -> int:
    """How many ranks the job has: workers times slots."""
    return worker_replicas(job) * job.slots


def _resources(requests: Resources | None, limits: Resources | None) -> tasks_pb2.Resources:
    return tasks_pb2.Resources(
        requests=requests.entries() if requests is not None else [],
        limits=limits.entries() if limits is not None else [],
    )


def _replica_spec(
    group: Worker | Launcher, replicas: int | None
) -> mpi_pb2.DistributedMPITrainingReplicaSpec:
    return mpi_pb2.DistributedMPITrainingReplicaSpec(
        command=group.command,
        replicas=replicas,
        image=group.image,
        resources=_resources(group.requests, group.limits),
        restart_policy=group.restart_policy.value if group.restart_policy is not None else None,
    )


def job_message(job: MPIJob) -> mpi_pb2.DistributedMPITrainingTask:
    """The job as flyteidl's ``DistributedMPITrainingTask``."""
    policy = job.run_policy
    return mpi_pb2.DistributedMPITrainingTask(
        worker_replicas=_replica_spec(job.worker, job.num_workers or job.worker.replicas),
        launcher_replicas=_replica_spec(job.launcher, job.num_launcher_replicas or job.launcher.replicas),
        slots=job.slots,
        run_policy=common_pb2.RunPolicy(
            clean_pod_policy=policy.clean_pod_policy.value if policy.clean_pod_policy else None,
            ttl_seconds_after_finished=policy.ttl_seconds_after_finished,
            active_deadline_seconds=policy.active_deadline_seconds,
            backoff_limit=policy.backoff_limit,
        )
        if policy is not None
        else None,
    )


def job_custom(job: MPIJob) -> dict[str, Any]:
    """``TaskTemplate.custom`` of an MPI task, as flytekitplugins-kfmpi writes it."""
    return MessageToDict(job_message(job))
