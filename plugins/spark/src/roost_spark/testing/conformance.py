"""roost-spark's conformance subjects (entry point ``roost.conformance``), run by ``roost plugins check spark``
and by the package's own tests: the ``spark`` handler with real pyspark on this machine (Java 17+ needed), and
the ``spark-kubernetes`` handler against the Kubernetes API test server with the spark-operator stand-in, whose
driver pods run the same Spark tasks with real pyspark (``roost-k8s-pod[testing]`` needed; skipped, saying so,
without it or without the server's schema folder). The tasks are :mod:`roost_spark.testing.tasks`.

A Spark session takes seconds to start, so the slow case is the succeeding task itself: it is still running
when the checks abort, restart or time it out.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import pytest
from flyteidl.core import literals_pb2
from flyteidl.plugins import spark_pb2

import roost_spark.engine
from roost.extend import SerializationSettings, Task, check_task_template
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_spark.java import JavaError, find_java
from roost_spark.testing import tasks

if TYPE_CHECKING:
    from roost_k8s_pod.testing import KubeTestServer

__all__ = ["TestSparkKubernetesConformance", "TestSparkLocalConformance", "spark_cases"]

SETTINGS = SerializationSettings(project="proj", domain="dev", version="v1")
NAMESPACE = "proj-dev"
"""The namespace of the tasks' project and domain (the Kubernetes handler's default)."""
IDENTITY = {"FLYTE_INTERNAL_EXECUTION_ID": "exec1", "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf"}
EXAMPLES_ELSEWHERE = {
    "local_run": "an installed plugin has no example workflow; the package's tests run examples/ with "
    "`roost run` (tests/test_examples.py)",
    "roost_start": "an installed plugin has no example workflow; the package's tests run examples/ on "
    "`roost start` (tests/test_examples.py)",
}


def _n(value: int) -> literals_pb2.LiteralMap:
    literals = literals_pb2.LiteralMap()
    literals.literals["n"].scalar.primitive.integer = value
    return literals


class SparkCases(NamedTuple):
    """The cases of both handlers."""

    succeeds: TaskCase
    slow: TaskCase
    fails_user: TaskCase


def spark_cases() -> SparkCases:
    """A Spark job summing 0 … 3 (also the slow case), and one whose workers divide by 0."""

    def template(task: object) -> Any:
        # @task keeps the function's signature for type checkers; the object is a Task
        return check_task_template(cast("Task", task), SETTINGS, custom_message=spark_pb2.SparkJob)

    total = template(tasks.total)
    expected = literals_pb2.LiteralMap()
    expected.literals["o0"].scalar.primitive.integer = 6
    return SparkCases(
        succeeds=TaskCase(total, _n(4), expected),
        slow=TaskCase(total, _n(4)),
        fails_user=TaskCase(template(tasks.divide_by_zero), _n(2)),
    )


def _need_local_spark() -> None:
    """Skip, saying what to install, when this environment cannot run Spark tasks (pyspark, Java 17+)."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("the Spark checks run real pyspark: install roost-spark[local]")
    try:
        find_java(os.environ)
    except JavaError as exc:
        pytest.skip(f"the Spark checks run real pyspark: {exc}")


def _processes_in(folder: Path) -> int:
    """How many processes run in ``folder`` or below (the attempts' task processes and their JVMs)."""
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone, or not ours
            continue
        if Path(cwd.removesuffix(" (deleted)")).is_relative_to(folder):
            count += 1
    return count


class TestSparkLocalConformance(HandlerConformance):
    """The conformance suite on the ``spark`` handler: real pyspark in ``local[1]`` mode."""

    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        """The ``spark`` handler, its attempts under ``tmp_path``; unreachable: a ``java_home`` with no Java."""
        _need_local_spark()
        work = tmp_path / "work"
        section = {"work_dir": str(work), "kill_grace_period": 2}
        return PluginUnderTest(
            plugins=[roost_spark.engine],
            handler="spark",
            section=section,
            **spark_cases()._asdict(),
            # Java is what a local Spark reaches for: without it the task fails as the system's fault
            unreachable={**section, "java_home": str(tmp_path / "no-jdk")},
            running=lambda: _processes_in(work),
            custom_message=spark_pb2.SparkJob,
            environment=IDENTITY,
            exemptions=EXAMPLES_ELSEWHERE,
        )


def _kubernetes_section(kubeconfig: Path, **kubernetes: Any) -> dict[str, Any]:
    return {
        "kubernetes": {
            "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
            "recheck_interval": 600,
            **kubernetes,
        }
    }


class TestSparkKubernetesConformance(HandlerConformance):
    """The conformance suite on the ``spark-kubernetes`` handler: SparkApplications on the Kubernetes API test
    server, whose spark-operator stand-in runs each driver as a local pyspark process."""

    @pytest.fixture
    def spark_cluster(self, tmp_path: Path) -> Iterator[KubeTestServer]:
        """The test server (its kubelet running pods as local processes) with the SparkApplication CRD served
        and reconciled by the operator stand-in."""
        _need_local_spark()  # the stand-in runs each driver with this environment's pyspark
        try:
            from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
            from roost_spark.testing.operator import SparkOperator
        except ImportError as exc:
            pytest.skip(f"the spark-kubernetes checks need roost-k8s-pod[testing] installed ({exc})")
        with KubeTestServer(
            kubelet=KubeletOptions(work_dir=tmp_path / "kubelet"), bookmark_interval=0.5
        ) as server:
            try:
                operator = SparkOperator(server).start()
            except SchemasNotFoundError as exc:
                pytest.skip(str(exc))
            server.create_namespace(NAMESPACE)
            try:
                yield server
            finally:
                operator.close()

    @pytest.fixture
    def plugin(self, spark_cluster: KubeTestServer, tmp_path: Path) -> PluginUnderTest:
        """The ``spark-kubernetes`` handler on the test server; unreachable: a cluster at a closed port."""
        from roost_k8s_pod.testing import unreachable_kubeconfig

        server = spark_cluster
        gone = unreachable_kubeconfig(tmp_path / "gone.kubeconfig")

        return PluginUnderTest(
            plugins=[roost_spark.engine],
            handler="spark-kubernetes",
            section=_kubernetes_section(server.write_kubeconfig(tmp_path / "kubeconfig")),
            **spark_cases()._asdict(),
            unreachable=_kubernetes_section(gone, max_api_failures=0),
            submissions=lambda: server.created("sparkapplications"),
            running=lambda: server.live_pods(NAMESPACE),
            custom_message=spark_pb2.SparkJob,
            environment=IDENTITY,
            exemptions=EXAMPLES_ELSEWHERE,
        )
