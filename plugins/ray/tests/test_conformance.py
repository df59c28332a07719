"""Both Ray handlers pass the handler conformance suite (roost_core.testing.conformance), as the subjects the
package declares for `roost plugins check ray` (roost_ray.testing.conformance): ``ray-local`` on real local Ray
runtimes, and ``ray-k8s`` against the Kubernetes API test server with the KubeRay stand-in. The example
workflow's local and `roost start` runs are test_e2e.py's.

``ray-k8s``'s suite is an exhaustive variant (over two minutes; `nox -s ray -- -m exhaustive`): CI runs its
end-to-end tests (test_kuberay.py) and ``ray-local``'s suite but for four checks (conftest.py's
``LOCAL_CHECKS_LEFT_TO_EXHAUSTIVE``)."""

import pytest

from roost_ray.testing.conformance import TestRayK8sConformance as RayK8sSubject
from roost_ray.testing.conformance import TestRayLocalConformance

__all__ = ["TestRayK8sConformance", "TestRayLocalConformance"]


@pytest.mark.exhaustive
class TestRayK8sConformance(RayK8sSubject):
    """``ray-k8s`` against the KubeRay stand-in."""
