"""roost-spark's test kit.

- :class:`SparkOperator` (:mod:`roost_spark.testing.operator`): a spark-operator stand-in for
  ``roost_k8s_pod.testing.KubeTestServer`` (needs ``roost-k8s-pod[testing]``).
- :mod:`roost_spark.testing.conformance`: the conformance subject of both handlers, run by ``roost plugins
  check spark`` and by the package's tests; its Spark tasks are in :mod:`roost_spark.testing.tasks`.

The stand-in is imported on first use, so the tasks' processes do not load the Kubernetes test server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_spark.testing.operator import CRD_FILE, SparkOperator

__all__ = ["CRD_FILE", "SparkOperator"]


__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "roost_spark.testing.operator"))
