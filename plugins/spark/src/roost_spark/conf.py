"""Checks of Spark and Hadoop settings, before a JVM is started on them.

Spark reads every setting as a string and quietly ignores keys outside ``spark.*``; a wrong value shows up
only as a JVM stack trace once the session starts. So the values a task gives are checked here, on both
sides (``Spark(...)`` in the SDK, and ``SparkJob`` in the engine for tasks flytekit registered): strings
only, ``spark.`` keys, and the well-known numeric, size and boolean settings in the form Spark expects.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

__all__ = ["check_conf", "submit_arguments"]

_SIZE = re.compile(r"\d+([kmgtp]b?|b)?", re.IGNORECASE)
_BOOLEAN = {"true", "false"}
_INTEGER_KEYS = {
    "spark.executor.instances",
    "spark.executor.cores",
    "spark.driver.cores",
    "spark.task.cpus",
    "spark.default.parallelism",
    "spark.sql.shuffle.partitions",
    "spark.dynamicAllocation.minExecutors",
    "spark.dynamicAllocation.maxExecutors",
    "spark.dynamicAllocation.initialExecutors",
    "spark.task.maxFailures",
}
_SIZE_KEYS = re.compile(
    r"spark\.(driver|executor)\.(memory|memoryOverhead)|spark\.driver\.maxResultSize|"
    r"spark\.(executor\.pyspark\.memory|python\.worker\.memory)|spark\.memory\.offHeap\.size"
)
_BOOLEAN_KEYS = re.compile(r"spark\..*\.enabled")


def check_conf(spark_conf: Mapping[Any, Any], hadoop_conf: Mapping[Any, Any]) -> list[str]:
    """What is wrong with these settings, one sentence per problem naming the field and key; empty if fine."""
    problems: list[str] = []
    for field, conf in (("spark_conf", spark_conf), ("hadoop_conf", hadoop_conf)):
        for key, value in conf.items():
            if not isinstance(key, str) or not key:
                problems.append(f"{field} key {key!r} must be a non-empty string")
                continue
            if not isinstance(value, str):
                problems.append(
                    f"{field}[{key!r}] is {type(value).__name__} {value!r}, but Spark settings are strings: "
                    f"write {str(value).lower() if isinstance(value, bool) else str(value)!r}"
                )
                continue
            if field == "spark_conf":
                problems.extend(_check_spark_value(key, value))
    return problems


def _check_spark_value(key: str, value: str) -> list[str]:
    where = f"spark_conf[{key!r}] = {value!r}"
    if not key.startswith("spark."):
        return [
            f"{where}: Spark ignores settings whose key does not start with 'spark.'; "
            "put Hadoop settings in hadoop_conf"
        ]
    if key in _INTEGER_KEYS and not value.strip().isdigit():
        return [f"{where}: expected a whole number such as '2'"]
    if _SIZE_KEYS.fullmatch(key) and not _SIZE.fullmatch(value.strip()):
        return [f"{where}: expected a size such as '512m' or '2g'"]
    if _BOOLEAN_KEYS.fullmatch(key) and value.strip().lower() not in _BOOLEAN:
        return [f"{where}: expected 'true' or 'false'"]
    return []


def submit_arguments(master: str, settings: Mapping[str, str]) -> str:
    """``PYSPARK_SUBMIT_ARGS`` starting a JVM on ``master`` with ``settings`` (spark-submit's ``--conf``)."""
    words = ["--master", master]
    for key, value in sorted(settings.items()):
        words += ["--conf", f"{key}={value}"]
    return " ".join(shlex.quote(word) for word in [*words, "pyspark-shell"])
