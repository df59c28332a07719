"""The ``mpi-kubernetes`` handler: an MPI task as a Kubeflow MPIJob: ``kubeflow.org/v1`` (Training Operator v1,
the version Flyte's MPI plugin creates) or, with ``api_version``, the standalone MPI Operator's
``kubeflow.org/v2beta1``. Needs the ``kubernetes`` extra (``roost-k8s-pod``).

Built on ``roost_k8s_pod``'s resource machinery (deterministic names, create once, informers, abort by
delete, cleanup). The MPIJob:

- ``spec.slotsPerWorker`` = the task's slots; ``spec.runPolicy`` from its run policy;
- ``Launcher`` and ``Worker`` replica specs, each a pod template made from the task's pod
  (:func:`roost_k8s_pod.build_pod_spec`: image, resources, environment, secrets, pod templates and every
  shared default), its primary container named ``mpi`` (the operator's default container), then the group's
  own image, resources, command and restart policy from ``custom``. The launcher runs the task's command line
  (``mpirun ... -np N <program>``); workers run their ``command`` when given, else the task's, as Flyte does.
  The templates carry the machinery's ``managed-by`` label, which the operator copies to its pods, so the
  handler's pod informer sees them.

Phases come from the MPIJob's conditions (the latest true one, as Flyte reads them): none or ``Created`` →
queued, unless one of its pods (the launcher, ``<name>-launcher``, then the workers, ``<name>-worker-<i>``)
is Pending for a reason the Pod handler would report: unschedulable → WAITING_FOR_RESOURCES with the
scheduler's message, image pull or container errors → initializing then a failure after their grace periods,
and a failure once ``pod_pending_timeout`` passed (the Pod handler's settings and judgement,
:func:`roost_k8s_pod.pending_pod_transition`); ``Running`` and ``Restarting`` → running; ``Suspended`` →
waiting for resources; ``Succeeded`` → success once the outputs are found under the output prefix; ``Failed``
→ the task's own error document when a rank wrote one, else a retryable failure with the operator's reason
and message. Log links (``kubernetes.log_links``) are rendered for the launcher and each worker pod, their
names followed by `` (launcher)``, `` (worker 0)``...

Only rank 0 of a Roost task writes the outputs (``roost_mpi.sdk``), and a failed rank's error names it;
flytekit's kfmpi tasks write from every rank, as on Flyte.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from flyteidl.core import tasks_pb2
from flyteidl.plugins.kubeflow import common_pb2, mpi_pb2

from roost_core.container import ResultKind, completion_transition, read_task_result
from roost_core.errors import ErrorKind
from roost_core.handler import TaskContext, TaskLog, TaskPhase, Transition
from roost_k8s_pod import (
    MANAGED_BY_LABEL,
    POD,
    BuildError,
    K8sResourceHandler,
    ResourceContext,
    ResourceKind,
    build_pod_spec,
    pending_pod_transition,
    render_log_links,
)
from roost_mpi._kubernetes_settings import MPIJobSettings
from roost_mpi.job import JobError, read_job

__all__ = ["MPIJOB", "MPIJOB_V2BETA1", "MPIJobHandler", "MPIJobSettings", "mpijob_phase"]

MPIJOB = ResourceKind("kubeflow.org/v1", "MPIJob", "mpijobs")
"""Training Operator v1's MPIJob."""
MPIJOB_V2BETA1 = ResourceKind("kubeflow.org/v2beta1", "MPIJob", "mpijobs")
"""The standalone MPI Operator's MPIJob."""
LAUNCHER_SUFFIX = "-launcher"
WORKER_SUFFIX = "-worker-"
"""Pods are ``<job>-launcher`` (v1; in v2beta1 the launcher Job's) and ``<job>-worker-<index>``."""
_PENDING_ORDER = {TaskPhase.WAITING_FOR_RESOURCES: 0, TaskPhase.INITIALIZING: 1, TaskPhase.QUEUED: 2}
"""Which Pending pod speaks for the job: the longest wait first."""
_PENDING_RANK = {TaskPhase.QUEUED: 1, TaskPhase.INITIALIZING: 2}
"""How far a waiting job got: its reported phase never goes below the furthest one reached."""
CONTAINER_NAME = "mpi"
"""The container the operator expects in each replica (``MPIJobDefaultContainerName``)."""
_RESTART_POLICIES = {
    common_pb2.RESTART_POLICY_NEVER: "Never",
    common_pb2.RESTART_POLICY_ON_FAILURE: "OnFailure",
    common_pb2.RESTART_POLICY_ALWAYS: "Always",
}
_CLEAN_POD_POLICIES = {
    common_pb2.CLEANPOD_POLICY_NONE: "None",
    common_pb2.CLEANPOD_POLICY_RUNNING: "Running",
    common_pb2.CLEANPOD_POLICY_ALL: "All",
}
_RESOURCE_NAMES = {
    tasks_pb2.Resources.CPU: "cpu",
    tasks_pb2.Resources.MEMORY: "memory",
    tasks_pb2.Resources.EPHEMERAL_STORAGE: "ephemeral-storage",
}


class MPIJobHandler(K8sResourceHandler):
    """Runs ``mpi`` tasks as Kubeflow MPIJobs; see the module docstring."""

    name = "mpi-kubernetes"
    resource_kind = MPIJOB
    settings_class = MPIJobSettings

    def __init__(self, settings: MPIJobSettings | None = None) -> None:
        super().__init__(settings)
        assert isinstance(self.settings, MPIJobSettings)
        if self.settings.api_version == MPIJOB_V2BETA1.api_version:
            self.resource_kind = MPIJOB_V2BETA1  # type: ignore[misc]  # chosen by the settings

    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:
        """The MPIJob of the attempt."""
        try:
            job = read_job(ctx.task).message
        except JobError as exc:
            raise BuildError(str(exc)) from None
        pod = build_pod_spec(ctx)
        spec: dict[str, Any] = {
            "slotsPerWorker": int(job.slots) or 1,
            "mpiReplicaSpecs": {
                "Launcher": self._replica(
                    ctx, pod.spec, pod.metadata, pod.primary_container, job.launcher_replicas
                ),
                "Worker": self._replica(
                    ctx, pod.spec, pod.metadata, pod.primary_container, job.worker_replicas
                ),
            },
        }
        if job.HasField("run_policy"):
            spec["runPolicy"] = _run_policy(job.run_policy)
        kind = self.resource_kind
        return {"apiVersion": kind.api_version, "kind": kind.kind, "spec": spec}

    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
        """The attempt's phase from the MPIJob's conditions (see :func:`mpijob_phase`) and, while it waits,
        from its pods."""
        phase = mpijob_phase(obj)
        where = f"{ctx.describe()}: MPIJob {ctx.namespace}/{ctx.name}"
        if phase.kind == "queued":
            waiting = self._pending_pods(ctx, obj) or Transition.queued(
                reason=phase.reason or "waiting for the MPI operator"
            )
            return _not_behind(ctx, waiting)
        if phase.kind == "running":
            return Transition.running(reason=phase.reason)
        if phase.kind == "suspended":
            return Transition.waiting_for_resources(f"{where} is suspended: {phase.message}", wake_after=None)
        result = read_task_result(ctx.task_context.storage, ctx.task_context.output_prefix)
        if phase.kind == "succeeded" or result.kind is ResultKind.ERROR:
            return completion_transition(result, ctx.task)
        return Transition.failure(
            phase.reason or "MPIJobFailed",
            f"{where} failed: {phase.message or 'the operator gave no message'}",
            kind=ErrorKind.USER,
        )

    def log_links(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> tuple[TaskLog, ...]:
        """The configured log links of the launcher pod and of each worker pod."""
        variables = self.log_variables(ctx, obj)
        links: list[TaskLog] = []
        for pod, label in self._pods(ctx, obj):
            links += render_log_links(ctx, {**variables, "podName": pod}, name_suffix=f" ({label})")
        return tuple(links)

    def finalize(self, ctx: TaskContext) -> None:
        """Stop following the pods, then the machinery's cleanup (the MPIJob's deletion takes its pods)."""
        rctx = self._resource_context(ctx)
        if rctx is not None:
            for pod, _ in self._pods(rctx, {}):
                self.unwatch_related(rctx, POD, pod)
        super().finalize(ctx)

    def _resource_context(self, ctx: TaskContext) -> ResourceContext | None:
        state = ctx.state
        if not state.get("name"):
            return None
        return ResourceContext(
            ctx, self.settings, str(state["cluster"]), str(state["namespace"]), str(state["name"])
        )

    def _pods(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The MPIJob's pods the operator names after it: (name, what) of the launcher (v1) and the workers."""
        try:
            workers = int(read_job(ctx.task).message.worker_replicas.replicas) or 1
        except JobError:
            workers = 0
        replicas = ((obj.get("spec") or {}).get("mpiReplicaSpecs") or {}).get("Worker") or {}
        workers = int(replicas.get("replicas") or workers)
        pods = [(f"{ctx.name}{LAUNCHER_SUFFIX}", "launcher")] if self.resource_kind is MPIJOB else []
        return pods + [(f"{ctx.name}{WORKER_SUFFIX}{i}", f"worker {i}") for i in range(workers)]

    def _pending_pods(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition | None:
        """What the MPIJob's Pending pods say, judged as the Pod handler judges its pods: a failure, else the
        longest wait (unschedulable before initializing before queued); None when no pod is Pending."""
        settings = self.settings
        assert isinstance(settings, MPIJobSettings)
        found: list[Transition] = []
        for name, label in self._pods(ctx, obj):
            pod = self.watch_related(ctx, POD, name)
            if pod is None or (pod.get("status") or {}).get("phase", "Pending") != "Pending":
                continue
            what = f"{label} pod {ctx.namespace}/{name}"
            transition = pending_pod_transition(ctx, settings, pod, what=what)
            if transition.phase.is_terminal:
                return transition
            found.append(transition)
        return min(found, key=lambda t: _PENDING_ORDER.get(t.phase, 3), default=None)

    def _replica(
        self,
        ctx: ResourceContext,
        pod_spec: Mapping[str, Any],
        metadata: Mapping[str, Any],
        primary: str,
        group: mpi_pb2.DistributedMPITrainingReplicaSpec,
    ) -> dict[str, Any]:
        spec = copy.deepcopy(dict(pod_spec))
        spec.pop("restartPolicy", None)
        container = next(c for c in spec["containers"] if c.get("name") == primary)
        container["name"] = CONTAINER_NAME
        if group.image:
            container["image"] = group.image
        if group.command:
            container["command"] = list(group.command)
            container.pop("args", None)
        resources = _resources(ctx, group.resources)
        if resources:
            container["resources"] = resources
        template_metadata = copy.deepcopy(dict(metadata))
        template_metadata["labels"] = {
            **(template_metadata.get("labels") or {}),
            MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1],
        }
        template: dict[str, Any] = {"metadata": template_metadata, "spec": spec}
        return {
            "replicas": int(group.replicas) or 1,
            "restartPolicy": _RESTART_POLICIES.get(group.restart_policy, "Never"),
            "template": template,
        }


def _not_behind(ctx: ResourceContext, waiting: Transition) -> Transition:
    """``waiting``, but never queued again once initializing was reported: the job's pods start one by one, so
    the least advanced Pending pod may be behind what an earlier round reported (the pod that was initializing
    now runs, another one is still queued), and phases must only move forward. The furthest phase reached is
    kept in the plugin state. A pod the scheduler refuses still makes the job wait for resources: that is news
    the user must see, and the pending timeout fails the attempt if it lasts."""
    state = ctx.task_context.state
    reached = TaskPhase(int(state.get("pending_phase", TaskPhase.QUEUED)))
    if waiting.phase not in _PENDING_RANK:
        return dataclasses.replace(waiting, state={**(waiting.state or {}), "pending_phase": int(reached)})
    if _PENDING_RANK[reached] > _PENDING_RANK[waiting.phase]:
        waiting = dataclasses.replace(waiting, phase=reached)
    return dataclasses.replace(waiting, state={**(waiting.state or {}), "pending_phase": int(waiting.phase)})


def _resources(ctx: ResourceContext, resources: tasks_pb2.Resources) -> dict[str, dict[str, str]]:
    """A replica group's own resources as Kubernetes requests and limits (GPUs by the configured name)."""
    names = {**_RESOURCE_NAMES, tasks_pb2.Resources.GPU: ctx.kubernetes.gpu_resource_name}
    converted: dict[str, dict[str, str]] = {}
    for key, entries in (("requests", resources.requests), ("limits", resources.limits)):
        values = {names[e.name]: e.value for e in entries if e.name in names}
        if values:
            converted[key] = values
    return converted


def _run_policy(policy: common_pb2.RunPolicy) -> dict[str, Any]:
    converted: dict[str, Any] = {"cleanPodPolicy": _CLEAN_POD_POLICIES.get(policy.clean_pod_policy, "None")}
    if policy.ttl_seconds_after_finished:
        converted["ttlSecondsAfterFinished"] = int(policy.ttl_seconds_after_finished)
    if policy.active_deadline_seconds:
        converted["activeDeadlineSeconds"] = int(policy.active_deadline_seconds)
    if policy.backoff_limit:
        converted["backoffLimit"] = int(policy.backoff_limit)
    return converted


class MPIJobPhase:
    """What an MPIJob's status says: ``kind`` (queued, running, suspended, succeeded, failed), and the
    condition's reason and message."""

    __slots__ = ("kind", "message", "reason")

    def __init__(self, kind: str, reason: str = "", message: str = "") -> None:
        self.kind = kind
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"MPIJobPhase({self.kind!r}, {self.reason!r}, {self.message!r})"


_KINDS = {
    "Created": "queued",
    "Running": "running",
    "Restarting": "running",
    "Suspended": "suspended",
    "Succeeded": "succeeded",
    "Failed": "failed",
}


def mpijob_phase(obj: Mapping[str, Any]) -> MPIJobPhase:
    """The phase of an MPIJob from its conditions: the last true one in time (ties: the later in the list),
    as the operator appends them; a terminal condition wins over any other."""
    conditions = [
        c
        for c in ((obj.get("status") or {}).get("conditions") or [])
        if c.get("status") == "True" and c.get("type")
    ]
    if not conditions:
        return MPIJobPhase("queued")
    terminal = [c for c in conditions if c["type"] in ("Succeeded", "Failed")]
    ordered = sorted(
        enumerate(terminal or conditions),
        key=lambda item: (
            str(item[1].get("lastTransitionTime") or item[1].get("lastUpdateTime") or ""),
            item[0],
        ),
    )
    latest = ordered[-1][1]
    return MPIJobPhase(
        _KINDS.get(str(latest["type"]), "queued"),
        str(latest.get("reason") or ""),
        str(latest.get("message") or ""),
    )
