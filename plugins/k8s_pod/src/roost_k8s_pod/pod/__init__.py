"""The Pod task handler: tasks run as Kubernetes Pods."""

from __future__ import annotations

from roost_k8s_pod.pod.handler import PodHandler

__all__ = ["PodHandler"]
