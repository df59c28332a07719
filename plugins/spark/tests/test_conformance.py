"""Both Spark handlers pass the handler conformance suite (roost_core.testing.conformance), as the subjects the
package declares for `roost plugins check spark` (roost_spark.testing.conformance): ``spark`` with real pyspark,
and ``spark-kubernetes`` against the Kubernetes API test server with the spark-operator stand-in. The example
workflow's local and `roost start` runs are test_examples.py's.

``spark-kubernetes``' suite is an exhaustive variant (about a minute and a half; `nox -s spark -- -m
exhaustive`): CI runs its end-to-end tests (test_kubernetes.py) and ``spark``'s suite."""

import pytest

from roost_spark.testing.conformance import TestSparkKubernetesConformance as SparkKubernetesSubject
from roost_spark.testing.conformance import TestSparkLocalConformance

__all__ = ["TestSparkKubernetesConformance", "TestSparkLocalConformance"]


@pytest.mark.exhaustive
class TestSparkKubernetesConformance(SparkKubernetesSubject):
    """``spark-kubernetes`` against the spark-operator stand-in."""
