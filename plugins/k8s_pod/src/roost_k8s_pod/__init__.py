"""Roost on Kubernetes: the Pod handler and the machinery other Kubernetes plugins build on.

Public names (imported on first use, so ``import roost_k8s_pod`` loads nothing heavy):

* :class:`PodHandler`, :data:`TASK_TYPES`: the Pod task handler;
* :class:`K8sResourceHandler`, :class:`ResourceContext`, :class:`ResourceKind`, :class:`AbortBehavior`,
  :class:`BuildError`, :data:`POD`: the machinery for plugins that run a Kubernetes object;
* :class:`K8sSettings`, :class:`PodSettings`, :class:`ClusterSettings`, :class:`LogLink`: settings;
* :class:`KubeClient`, :class:`KubeApiError`, :class:`KubeUnavailableError`: the REST calls;
* :class:`Pod`, :class:`PodTemplate`, :class:`ContainerTask`: the SDK side (task configs and tasks),
  which needs the ``roost`` SDK.

The Kubernetes API test server is :mod:`roost_k8s_pod.testing`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost_k8s_pod.kube import POD, KubeApiError, KubeClient, KubeUnavailableError, ResourceKind
    from roost_k8s_pod.pod import TASK_TYPES, PodHandler
    from roost_k8s_pod.resource import (
        MANAGED_BY_LABEL,
        AbortBehavior,
        BuildError,
        K8sResourceHandler,
        ResourceContext,
        sanitize_label_value,
    )
    from roost_k8s_pod.sdk import ContainerTask, Pod, PodTemplate
    from roost_k8s_pod.settings import ClusterSettings, K8sSettings, LogLink, PodSettings

__all__ = [
    "MANAGED_BY_LABEL",
    "POD",
    "TASK_TYPES",
    "AbortBehavior",
    "BuildError",
    "ClusterSettings",
    "ContainerTask",
    "K8sResourceHandler",
    "K8sSettings",
    "KubeApiError",
    "KubeClient",
    "KubeUnavailableError",
    "LogLink",
    "Pod",
    "PodHandler",
    "PodSettings",
    "PodTemplate",
    "ResourceContext",
    "ResourceKind",
    "sanitize_label_value",
]

_HOMES = {
    "POD": "kube",
    "KubeApiError": "kube",
    "KubeClient": "kube",
    "KubeUnavailableError": "kube",
    "ResourceKind": "kube",
    "TASK_TYPES": "pod",
    "PodHandler": "pod",
    "MANAGED_BY_LABEL": "resource",
    "AbortBehavior": "resource",
    "BuildError": "resource",
    "K8sResourceHandler": "resource",
    "ResourceContext": "resource",
    "sanitize_label_value": "resource",
    "ClusterSettings": "settings",
    "K8sSettings": "settings",
    "LogLink": "settings",
    "PodSettings": "settings",
    "ContainerTask": "sdk",
    "Pod": "sdk",
    "PodTemplate": "sdk",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'roost_k8s_pod' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"roost_k8s_pod.{home}"), name)
    globals()[name] = value
    return value
