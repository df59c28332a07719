"""Both Spark handlers pass the handler conformance suite (roost_core.testing.conformance), as the subjects the
package declares for `roost plugins check spark` (roost_spark.testing.conformance): ``spark`` with real pyspark,
and ``spark-kubernetes`` against the Kubernetes API test server with the spark-operator stand-in. The example
workflow's local and `roost start` runs are test_examples.py's."""

from roost_spark.testing.conformance import TestSparkKubernetesConformance, TestSparkLocalConformance

__all__ = ["TestSparkKubernetesConformance", "TestSparkLocalConformance"]
