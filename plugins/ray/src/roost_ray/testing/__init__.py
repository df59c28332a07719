"""roost-ray's test kit.

- :class:`KubeRayOperator` (:mod:`roost_ray.testing.operator`): a stand-in for KubeRay's RayJob and RayCluster
  controllers on ``roost_k8s_pod.testing.KubeTestServer`` (needs ``roost-k8s-pod[testing]``).
- :mod:`roost_ray.testing.conformance`: the conformance subject of both handlers, run by ``roost plugins check
  ray`` and by the package's tests; its Ray tasks are in :mod:`roost_ray.testing.tasks`.

The stand-in is imported on first use, so the tasks' processes do not load the Kubernetes test server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_ray.testing.operator import (
        CLUSTER_LABEL,
        RAYCLUSTER_CRD_FILE,
        RAYJOB_CRD_FILE,
        KubeRayOperator,
    )

__all__ = ["CLUSTER_LABEL", "RAYCLUSTER_CRD_FILE", "RAYJOB_CRD_FILE", "KubeRayOperator"]


__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "roost_ray.testing.operator"))
