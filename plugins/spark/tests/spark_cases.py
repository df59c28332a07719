"""``Spark(...)`` arguments serialized by both SDKs in the comparison tests: plain data, imported by Roost's
tests and by ``flytekit_spark_side.py`` in flytekit's virtualenv. Pod specs are Kubernetes JSON, which both
SDKs accept."""

from __future__ import annotations

from typing import Any

CASES: dict[str, dict[str, Any]] = {
    "empty": {},
    "confs": {
        "spark_conf": {
            "spark.driver.memory": "1g",
            "spark.executor.instances": "2",
            "spark.sql.shuffle.partitions": "4",
        },
        "hadoop_conf": {"fs.s3a.endpoint": "http://127.0.0.1:9000"},
    },
    "paths": {"executor_path": "/usr/bin/python3", "applications_path": "local:///app/main.py"},
    "pods": {
        "spark_conf": {"spark.executor.cores": "1"},
        "driver_pod": {
            "pod_spec": {
                "containers": [{"name": "primary", "env": [{"name": "A", "value": "1"}]}],
                "tolerations": [{"key": "spark", "operator": "Exists"}],
            },
            "labels": {"team": "data"},
        },
        "executor_pod": {"annotations": {"note": "executor"}},
    },
    "pod_without_metadata": {"driver_pod": {"pod_spec": {"containers": [{"name": "primary"}]}}},
}
"""Case name → the keyword arguments of ``Spark``; a pod is the keyword arguments of ``PodTemplate``."""
