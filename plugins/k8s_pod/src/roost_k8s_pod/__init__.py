"""Roost on Kubernetes: the public Kubernetes toolkit, and the Pod handler built on it.

Public names (imported on first use, so ``import roost_k8s_pod`` loads nothing heavy). The toolkit, a
stable surface for custom-resource plugins (Spark, Ray, MPI; see ``docs/plugins.md``):

* :class:`K8sResourceHandler`, :class:`ResourceContext`, :class:`ResourceKind`, :class:`AbortBehavior`,
  :class:`BuildError`, :data:`POD`, :data:`MANAGED_BY_LABEL`, :func:`sanitize_label_value`: the machinery
  that creates, watches, aborts and cleans up one object per attempt;
* :func:`build_pod_spec`, :class:`PodSpec`: the pod spec for a task (containers, resources, environment,
  secrets, pod templates, copilot), from the shared settings; :func:`pending_pod_transition` judges a Pending
  pod (unschedulable, image pull and container errors, the pending timeout) as the Pod handler does, and
  :func:`render_log_links` fills in the configured log links, for the pods an operator makes;
* :class:`KubernetesSettings` (the shared ``engine.kubernetes`` section), :class:`K8sHandlerSettings` (the
  base of a Kubernetes handler's settings), :class:`ClusterSettings`, :class:`LogLink`;
* :class:`KubeClient`, :class:`KubeApiError`, :class:`KubeUnavailableError`: the REST calls.

The Pod handler: :class:`PodHandler`, :class:`PodSettings`, :data:`TASK_TYPES`. Depending on this package
does not enable it for Python tasks (see :mod:`roost_k8s_pod.engine`).

The SDK side: :class:`Pod`, :class:`PodTemplate`, :class:`ContainerTask` (task configs and tasks), which
needs the ``roost`` SDK. The Kubernetes API test server is :mod:`roost_k8s_pod.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_k8s_pod.engine import TASK_TYPES
    from roost_k8s_pod.kube import POD, KubeApiError, KubeClient, KubeUnavailableError, ResourceKind
    from roost_k8s_pod.pod import PodHandler
    from roost_k8s_pod.pod.builder import PodSpec, build_pod_spec
    from roost_k8s_pod.pod.status import pending_pod_transition
    from roost_k8s_pod.resource import (
        MANAGED_BY_LABEL,
        AbortBehavior,
        BuildError,
        K8sResourceHandler,
        ResourceContext,
        render_log_links,
        sanitize_label_value,
    )
    from roost_k8s_pod.sdk import ContainerTask, Pod, PodTemplate
    from roost_k8s_pod.settings import (
        ClusterSettings,
        K8sHandlerSettings,
        KubernetesSettings,
        LogLink,
        PodSettings,
    )

__all__ = [
    "MANAGED_BY_LABEL",
    "POD",
    "TASK_TYPES",
    "AbortBehavior",
    "BuildError",
    "ClusterSettings",
    "ContainerTask",
    "K8sHandlerSettings",
    "K8sResourceHandler",
    "KubeApiError",
    "KubeClient",
    "KubeUnavailableError",
    "KubernetesSettings",
    "LogLink",
    "Pod",
    "PodHandler",
    "PodSettings",
    "PodSpec",
    "PodTemplate",
    "ResourceContext",
    "ResourceKind",
    "build_pod_spec",
    "pending_pod_transition",
    "render_log_links",
    "sanitize_label_value",
]

_HOMES = {
    "POD": "roost_k8s_pod.kube",
    "KubeApiError": "roost_k8s_pod.kube",
    "KubeClient": "roost_k8s_pod.kube",
    "KubeUnavailableError": "roost_k8s_pod.kube",
    "ResourceKind": "roost_k8s_pod.kube",
    "TASK_TYPES": "roost_k8s_pod.engine",
    "PodHandler": "roost_k8s_pod.pod",
    "MANAGED_BY_LABEL": "roost_k8s_pod.resource",
    "AbortBehavior": "roost_k8s_pod.resource",
    "BuildError": "roost_k8s_pod.resource",
    "K8sResourceHandler": "roost_k8s_pod.resource",
    "ResourceContext": "roost_k8s_pod.resource",
    "sanitize_label_value": "roost_k8s_pod.resource",
    "render_log_links": "roost_k8s_pod.resource",
    "pending_pod_transition": "roost_k8s_pod.pod.status",
    "ClusterSettings": "roost_k8s_pod.settings",
    "K8sHandlerSettings": "roost_k8s_pod.settings",
    "KubernetesSettings": "roost_k8s_pod.settings",
    "LogLink": "roost_k8s_pod.settings",
    "PodSettings": "roost_k8s_pod.settings",
    "PodSpec": "roost_k8s_pod.pod.builder",
    "build_pod_spec": "roost_k8s_pod.pod.builder",
    "ContainerTask": "roost_k8s_pod.sdk",
    "Pod": "roost_k8s_pod.sdk",
    "PodTemplate": "roost_k8s_pod.sdk",
}


__getattr__ = lazy_exports(__name__, _HOMES)
