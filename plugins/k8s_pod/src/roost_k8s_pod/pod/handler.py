"""The Pod handler: python-task, container, raw-container, sidecar and pod tasks as Kubernetes Pods.

Built on the public toolkit: :class:`~roost_k8s_pod.resource.K8sResourceHandler` runs the object and
:func:`~roost_k8s_pod.pod.builder.build_pod_spec` builds it from the shared ``engine.kubernetes`` and
``engine.task_environment`` settings. Its own settings are :class:`~roost_k8s_pod.settings.PodSettings`
(how pod statuses are judged); the package README lists every option.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from roost_core.errors import ErrorKind
from roost_core.handler import Transition
from roost_k8s_pod.kube import POD
from roost_k8s_pod.pod.builder import PRIMARY_CONTAINER_KEY, build_pod
from roost_k8s_pod.pod.status import deleted_transition, pod_transition
from roost_k8s_pod.resource import BuildError, K8sResourceHandler, ResourceContext
from roost_k8s_pod.settings import PodSettings

__all__ = ["PodHandler"]


class PodHandler(K8sResourceHandler):
    """Runs a task as a Pod whose primary container speaks the container contract."""

    name = "k8s-pod"
    resource_kind = POD
    settings_class = PodSettings
    produces_futures = True  # a python task may be a dynamic one writing futures.pb

    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:
        """The Pod; refuses storage a pod cannot reach."""
        task_ctx = ctx.task_context
        for uri in (task_ctx.inputs_uri, task_ctx.output_prefix, task_ctx.raw_output_prefix):
            if uri.startswith("mem://"):
                raise BuildError(
                    f"the task's data is at {uri!r}, in the engine's memory, which a pod cannot reach; "
                    "the Pod handler needs storage such as s3:// (or file:// shared with the nodes)",
                    code="UnsupportedStorage",
                    kind=ErrorKind.SYSTEM,
                )
        return build_pod(ctx)

    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
        """The pod's status as a phase (see :mod:`roost_k8s_pod.pod.status`)."""
        return pod_transition(ctx, obj, self.kube_client(ctx))

    def on_deleted(self, ctx: ResourceContext, last_seen: Mapping[str, Any] | None) -> Transition:
        """Preempted if the pod said so before it went, else deleted from outside (both SYSTEM)."""
        return deleted_transition(ctx, last_seen)

    def log_variables(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> dict[str, str]:
        """The machinery's variables plus the primary container, node and start and finish times."""
        variables = K8sResourceHandler.log_variables(self, ctx, obj)
        metadata, status = obj.get("metadata") or {}, obj.get("status") or {}
        primary = str((metadata.get("annotations") or {}).get(PRIMARY_CONTAINER_KEY, ""))
        variables["containerName"] = primary
        variables["hostname"] = str((obj.get("spec") or {}).get("nodeName", ""))
        started = _time(status.get("startTime"))
        finished = max(
            (
                t
                for c in status.get("containerStatuses") or ()
                if (t := _time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt")))
                is not None
            ),
            default=None,
        )
        for label, moment in (("Start", started), ("Finish", finished)):
            if moment is not None:
                variables[f"podUnix{label}Time"] = str(int(moment.timestamp()))
                variables[f"podRFC3339{label}Time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        return variables


def _time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
