"""A pod's status as the attempt's phase, following Flyte's ``DemystifyPodStatus``.

=============================================  ===================================================
what the pod shows                             the attempt
=============================================  ===================================================
Pending, not scheduled (``Unschedulable``)     WAITING_FOR_RESOURCES, with the scheduler's message
Pending, ``ContainerCreating`` and the like    INITIALIZING
``ErrImagePull`` / ``ImagePullBackOff``         INITIALIZING, then after ``image_pull_backoff_grace_period``
                                               a retryable SYSTEM failure
``CreateContainerError`` / ``...ConfigError``   INITIALIZING, then after their grace periods a permanent
                                               USER failure; ``InvalidImageName`` at once
Pending longer than ``pod_pending_timeout``    a retryable USER failure
Running (primary container running)           RUNNING
primary container exited 0 / pod Succeeded    the container contract's outcome: ``error.pb`` wins,
                                               else outputs (SUCCESS)
primary container of a raw container exited,   RUNNING until its ``roost-copilot-uploader`` sidecar
copilot uploader still running                 has read the outputs back
``OOMKilled``                                   a retryable USER failure that says so
evicted, preempted, node shutdown, SIGKILL     a retryable SYSTEM failure (counts towards the
                                               interruptible failure threshold)
``DeadlineExceeded`` (activeDeadlineSeconds)    a retryable USER failure
other non-zero exit                            ``error.pb`` if written, else a retryable USER failure
                                               carrying the container's last log lines
=============================================  ===================================================
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from roost_core.container import ResultKind, completion_transition, read_task_result
from roost_core.copilot import data_loading_config
from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase, Transition
from roost_k8s_pod.kube import KubeApiError, KubeClient, KubeUnavailableError
from roost_k8s_pod.pod.builder import COPILOT_UPLOADER, PRIMARY_CONTAINER_KEY
from roost_k8s_pod.resource import ResourceContext
from roost_k8s_pod.settings import PodSettings

__all__ = ["deleted_transition", "pending_pod_transition", "pod_transition"]

SIGKILL_CODES = (137, 247)
"""Exit codes of a container killed with SIGKILL (247: the unsigned form Flyte also checks)."""
INTERRUPTION_REASONS = ("Evicted", "Preempting", "Shutdown", "Terminated", "NodeShutdown", "NodeAffinity")
"""Pod failure reasons that mean the platform took the pod away."""
_STARTING = ("ContainerCreating", "PodInitializing")


def pod_transition(ctx: ResourceContext, pod: Mapping[str, Any], client: KubeClient) -> Transition:
    """The attempt's transition for ``pod`` as last seen."""
    settings = ctx.settings
    assert isinstance(settings, PodSettings)
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    primary = str(((pod.get("metadata") or {}).get("annotations") or {}).get(PRIMARY_CONTAINER_KEY, ""))
    disruption = _condition(status, "DisruptionTarget")
    if disruption is not None and disruption.get("status") == "True" and phase != "Succeeded":
        return _interrupted(
            ctx, f"the pod was disrupted: {disruption.get('reason', '')}: {disruption.get('message', '')}"
        )
    if phase == "Succeeded":
        return _succeeded(ctx, status)
    if phase == "Failed":
        return _failed(ctx, pod, primary, client)
    if phase == "Pending":
        return pending_pod_transition(ctx, settings, pod)
    return _running(ctx, pod, primary, client)


def deleted_transition(ctx: ResourceContext, last_seen: Mapping[str, Any] | None) -> Transition:
    """The outcome when the pod vanished: preempted if it said so, else deleted from outside."""
    status = (last_seen or {}).get("status") or {}
    disruption = _condition(status, "DisruptionTarget")
    if disruption is not None and disruption.get("status") == "True":
        return _interrupted(
            ctx,
            f"the pod was deleted after a disruption: {disruption.get('reason', '')}: {disruption.get('message', '')}",
        )
    return Transition.failure(
        "ResourceDeletedExternally",
        f"{ctx.describe()}: pod {ctx.namespace}/{ctx.name} was deleted in cluster {ctx.cluster!r} before it finished",
        kind=ErrorKind.SYSTEM,
    )


def _succeeded(ctx: ResourceContext, status: Mapping[str, Any]) -> Transition:
    for container in _statuses(status):
        terminated = (container.get("state") or {}).get("terminated") or {}
        if "OOMKilled" in str(terminated.get("reason", "")):
            return Transition.failure(
                "OOMKilled",
                f"{ctx.describe()}: the pod reported success, but container {container.get('name')!r} was OOMKilled",
            )
    return _outcome(ctx)


def _outcome(ctx: ResourceContext) -> Transition:
    task_ctx = ctx.task_context
    result = read_task_result(task_ctx.storage, task_ctx.output_prefix)
    return completion_transition(result, ctx.task)


def _failed(ctx: ResourceContext, pod: Mapping[str, Any], primary: str, client: KubeClient) -> Transition:
    status = pod.get("status") or {}
    reason, message = str(status.get("reason") or ""), str(status.get("message") or "")
    if reason in INTERRUPTION_REASONS:
        return _interrupted(
            ctx, f"the pod was {reason.lower()}: {message}" if message else f"pod reason {reason}"
        )
    terminated = _terminated(status, primary)
    if terminated is not None and "OOMKilled" in str(terminated.get("reason", "")):
        return _oom(ctx, pod, primary)
    if reason == "DeadlineExceeded":
        return Transition.failure(
            "DeadlineExceeded",
            f"{ctx.describe()}: the pod ran longer than its activeDeadlineSeconds "
            f"({(pod.get('spec') or {}).get('activeDeadlineSeconds')}s): {message}",
        )
    written = _error_document(ctx)
    if written is not None:
        return written
    if terminated is not None and int(terminated.get("exitCode", 0)) in SIGKILL_CODES:
        return _interrupted(ctx, f"container {primary!r} was killed (exit code {terminated.get('exitCode')})")
    if terminated is None:
        other = next((c for c in _statuses(status) if "terminated" in (c.get("state") or {})), None)
        detail = f"{reason}: {message}" if reason or message else "no container reported why"
        if other is None:
            return _interrupted(ctx, f"the pod failed without a container status ({detail})")
        return Transition.failure(reason or "PodFailed", f"{ctx.describe()}: the pod failed: {detail}")
    return _exit_failure(ctx, pod, primary, terminated, client)


def _running(ctx: ResourceContext, pod: Mapping[str, Any], primary: str, client: KubeClient) -> Transition:
    status = pod.get("status") or {}
    terminated = _terminated(status, primary)
    if terminated is None:
        return Transition.running()
    if "OOMKilled" in str(terminated.get("reason", "")):
        return _oom(ctx, pod, primary)
    if _uploading(ctx, status):
        return Transition.running(
            reason=f"container {primary!r} exited; waiting for {COPILOT_UPLOADER} to read its outputs"
        )
    if int(terminated.get("exitCode", 0)) == 0:
        return _outcome(ctx)
    written = _error_document(ctx)
    if written is not None:
        return written
    if int(terminated.get("exitCode", 0)) in SIGKILL_CODES:
        return _interrupted(ctx, f"container {primary!r} was killed (exit code {terminated.get('exitCode')})")
    return _exit_failure(ctx, pod, primary, terminated, client)


def _uploading(ctx: ResourceContext, status: Mapping[str, Any]) -> bool:
    """True while the copilot sidecar of a raw container has not finished reading its outputs."""
    if data_loading_config(ctx.task) is None or not ctx.task.interface.outputs.variables:
        return False
    for entry in status.get("initContainerStatuses") or ():
        if entry.get("name") == COPILOT_UPLOADER:
            return "terminated" not in (entry.get("state") or {})
    return True


def pending_pod_transition(
    ctx: ResourceContext, settings: PodSettings, pod: Mapping[str, Any], *, what: str = ""
) -> Transition:
    """The attempt's transition for a Pending ``pod``, judged with ``settings`` as the Pod handler judges its
    pods (see the module docstring): unschedulable → WAITING_FOR_RESOURCES with the scheduler's message,
    container errors after their grace periods, and ``pod_pending_timeout``. Handlers of operators use it on
    the pods the operator made; ``what`` (``launcher pod ns/x``) then starts every message."""
    status = pod.get("status") or {}
    now = time.time()
    scheduled = _condition(status, "PodScheduled")
    since = _since(pod)
    timeout = settings.pod_pending_timeout
    prefix = f"{what}: " if what else ""
    if timeout > 0 and now - since >= timeout:
        return Transition.failure(
            "PodPendingTimeout",
            f"{ctx.describe()}: {what or 'the pod'} stayed Pending for more than {timeout:g}s "
            f"({_describe_pending(status)})",
        )
    # Recheck when the timeout is due, should nothing else change meanwhile.
    due = max(1.0, timeout - (now - since)) if timeout > 0 else None
    if scheduled is not None and scheduled.get("status") == "False":
        reason = f"{prefix}{scheduled.get('reason', '')}: {scheduled.get('message', '')}"
        if scheduled.get("reason") == "Unschedulable":
            return Transition.waiting_for_resources(reason, wake_after=due)
        return Transition.queued(reason=reason, wake_after=due)
    for container in _statuses(status):
        waiting = (container.get("state") or {}).get("waiting")
        if not waiting or container.get("ready"):
            continue
        reason, message = str(waiting.get("reason", "")), str(waiting.get("message", ""))
        said = f"{prefix}container {container.get('name')!r}: {reason}: {message}".rstrip(": ")
        if reason in _STARTING or not reason:
            return Transition(TaskPhase.INITIALIZING, reason=said)
        grace = {
            "ErrImagePull": settings.image_pull_backoff_grace_period,
            "ImagePullBackOff": settings.image_pull_backoff_grace_period,
            "CreateContainerError": settings.create_container_error_grace_period,
            "CreateContainerConfigError": settings.create_container_config_error_grace_period,
        }.get(reason)
        if grace is None:
            if reason == "InvalidImageName":
                return Transition.failure(reason, f"{ctx.describe()}: {said}", retryable=False)
            return Transition.failure(reason, f"{ctx.describe()}: {said}", kind=ErrorKind.SYSTEM)
        elapsed = now - _waiting_since(status, since)
        if elapsed < grace:
            return Transition(TaskPhase.INITIALIZING, reason=said, wake_after=max(1.0, grace - elapsed))
        message = f"{ctx.describe()}: {said} (for longer than the {grace:g}s grace period)"
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            return Transition.failure(reason, message, kind=ErrorKind.SYSTEM)
        return Transition.failure(reason, message, retryable=False)
    return Transition.queued(reason=prefix + (_describe_pending(status) or "Scheduling"), wake_after=due)


def _exit_failure(
    ctx: ResourceContext,
    pod: Mapping[str, Any],
    primary: str,
    terminated: Mapping[str, Any],
    client: KubeClient,
) -> Transition:
    settings = ctx.settings
    assert isinstance(settings, PodSettings)
    code = int(terminated.get("exitCode", 0))
    reason = str(terminated.get("reason") or "Error")
    tail = str(terminated.get("message") or "").rstrip()
    if not tail and settings.log_tail_lines:
        tail = _log_tail(ctx, client, primary, settings.log_tail_lines)
    lines = tail.splitlines()[-settings.log_tail_lines :] if settings.log_tail_lines else []
    shown = "its log was empty" if not lines else "last lines of its log:\n" + "\n".join(lines)
    signal = f", signal {terminated['signal']}" if terminated.get("signal") else ""
    return Transition.failure(
        reason,
        f"{ctx.describe()}: container {primary!r} exited with code {code} ({reason}{signal}); {shown}",
    )


def _oom(ctx: ResourceContext, pod: Mapping[str, Any], primary: str) -> Transition:
    limit = ""
    for container in (pod.get("spec") or {}).get("containers") or ():
        if container.get("name") == primary:
            limit = str(((container.get("resources") or {}).get("limits") or {}).get("memory", ""))
    detail = f" of {limit}" if limit else ""
    return Transition.failure(
        "OOMKilled",
        f"{ctx.describe()}: container {primary!r} was OOMKilled: it ran out of memory (memory limit{detail}); "
        "ask for more memory",
    )


def _interrupted(ctx: ResourceContext, what: str) -> Transition:
    kind = "interruptible " if ctx.interruptible else ""
    return Transition.failure(
        "Interrupted", f"{ctx.describe()}: the {kind}pod was interrupted: {what}", kind=ErrorKind.SYSTEM
    )


def _error_document(ctx: ResourceContext) -> Transition | None:
    task_ctx = ctx.task_context
    result = read_task_result(task_ctx.storage, task_ctx.output_prefix)
    if result.kind is not ResultKind.ERROR:
        return None
    return completion_transition(result, ctx.task)


def _log_tail(ctx: ResourceContext, client: KubeClient, container: str, lines: int) -> str:
    try:
        return client.pod_log(ctx.namespace, ctx.name, container, tail_lines=lines)
    except (KubeApiError, KubeUnavailableError) as exc:
        return f"(its log could not be read: {exc})"


def _statuses(status: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
        *(status.get("ephemeralContainerStatuses") or ()),
    ]


def _terminated(status: Mapping[str, Any], container: str) -> Mapping[str, Any] | None:
    for entry in status.get("containerStatuses") or ():
        if entry.get("name") == container:
            state = entry.get("state") or {}
            if "terminated" in state:
                return dict(state["terminated"])
            last = (entry.get("lastState") or {}).get("terminated")
            return dict(last) if last else None
    return None


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or () if c.get("type") == kind), None)


def _timestamp(text: Any) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _since(pod: Mapping[str, Any]) -> float:
    return _timestamp((pod.get("metadata") or {}).get("creationTimestamp")) or time.time()


def _waiting_since(status: Mapping[str, Any], default: float) -> float:
    """When the pod entered its current waiting state: its latest condition transition, as Flyte measures."""
    times = [
        t for t in (_timestamp(c.get("lastTransitionTime")) for c in status.get("conditions") or ()) if t
    ]
    return max(times) if times else default


def _describe_pending(status: Mapping[str, Any]) -> str:
    for condition in status.get("conditions") or ():
        if condition.get("status") == "False" and (condition.get("reason") or condition.get("message")):
            return f"{condition.get('reason', '')}: {condition.get('message', '')}"
    return ""
