"""Both Ray handlers pass the handler conformance suite (roost_core.testing.conformance), as the subjects the
package declares for `roost plugins check ray` (roost_ray.testing.conformance): ``ray-local`` on real local Ray
runtimes, and ``ray-k8s`` against the Kubernetes API test server with the KubeRay stand-in. The example
workflow's local and `roost start` runs are test_e2e.py's."""

from roost_ray.testing.conformance import TestRayK8sConformance, TestRayLocalConformance

__all__ = ["TestRayK8sConformance", "TestRayLocalConformance"]
