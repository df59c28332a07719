"""roost-mpi's conformance subjects (entry point ``roost.conformance``), run by ``roost plugins check mpi`` and by
the package's own tests: ``mpi-local`` with this environment's mpirun (``roost-mpi[local]``), and
``mpi-kubernetes`` against the Kubernetes API test server with the MPI operator stand-in, whose launcher pod runs
mpirun beside the worker pods (``roost-k8s-pod[testing]`` needed; skipped, saying so, without it or without the
server's schema folder). The tasks are :mod:`roost_mpi.testing.tasks`."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import pytest
from flyteidl.core import literals_pb2
from flyteidl.plugins.kubeflow import mpi_pb2

import roost_mpi.engine
from roost.extend import SerializationSettings, Task, check_task_template
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_core.testing.tasks import integer
from roost_mpi.testing import tasks

if TYPE_CHECKING:
    from roost_k8s_pod.testing import KubeTestServer

__all__ = ["MPICases", "TestKubernetesMPIConformance", "TestLocalMPIConformance", "mpi_cases"]

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


class MPICases(NamedTuple):
    """The cases of both handlers."""

    succeeds: TaskCase
    slow: TaskCase
    fails_user: TaskCase


def mpi_cases() -> MPICases:
    """Two ranks summing their ranks, two ranks sleeping 4 s, and rank 1 raising."""

    def template(task: object) -> Any:
        # @task keeps the function's signature for type checkers; the object is a Task
        return check_task_template(
            cast("Task", task), SETTINGS, custom_message=mpi_pb2.DistributedMPITrainingTask
        )

    def inputs(name: str, value: int) -> literals_pb2.LiteralMap:
        return literals_pb2.LiteralMap(literals={name: integer(value)})

    return MPICases(
        succeeds=TaskCase(template(tasks.world), inputs("n", 1)),
        slow=TaskCase(template(tasks.sleeper), inputs("seconds", 4)),
        fails_user=TaskCase(template(tasks.crash), inputs("rank", 1)),
    )


def _need_local_mpi() -> None:
    """Skip, saying what to install, when this environment has no mpirun or mpi4py (the tasks' ranks run here)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if shutil.which("mpirun", path=path) is None or importlib.util.find_spec("mpi4py") is None:
        pytest.skip("the MPI checks run real ranks: install roost-mpi[local] (Open MPI and mpi4py)")


class TestLocalMPIConformance(HandlerConformance):
    """The conformance suite on the ``mpi-local`` handler: the ranks run on this machine under mpirun."""

    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        """The ``mpi-local`` handler, its attempts under ``tmp_path``."""
        _need_local_mpi()
        return PluginUnderTest(
            plugins=[roost_mpi.engine],
            handler="mpi-local",
            section={"work_dir": str(tmp_path / "work"), "kill_grace_period": 3},
            **mpi_cases()._asdict(),
            custom_message=mpi_pb2.DistributedMPITrainingTask,
            environment=IDENTITY,
            exemptions={
                "system_error": "the ranks run on this machine: there is no external system to be unreachable",
                **EXAMPLES_ELSEWHERE,
            },
        )


def _kubernetes_section(kubeconfig: Path, **kubernetes: Any) -> dict[str, Any]:
    return {
        "kubernetes": {
            "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
            "recheck_interval": 600,
            **kubernetes,
        }
    }


class TestKubernetesMPIConformance(HandlerConformance):
    """The conformance suite on the ``mpi-kubernetes`` handler: MPIJobs on the Kubernetes API test server."""

    @pytest.fixture
    def mpi_cluster(self, tmp_path: Path) -> Iterator[KubeTestServer]:
        """The test server with the MPIJob CRD and the operator stand-in; its node's "image" is this
        environment (mpirun and roost-execute first on PATH)."""
        _need_local_mpi()  # the stand-in's launcher pod runs this environment's mpirun
        try:
            from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
            from roost_mpi.testing.operator import MPIOperator
        except ImportError as exc:
            pytest.skip(f"the mpi-kubernetes checks need roost-k8s-pod[testing] installed ({exc})")
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        with KubeTestServer(
            kubelet=KubeletOptions(work_dir=tmp_path / "kubelet", env={"PATH": path}), bookmark_interval=0.5
        ) as server:
            try:
                server.register_crd_file("training-operator/kubeflow.org_mpijobs.yaml")
            except SchemasNotFoundError as exc:
                pytest.skip(str(exc))
            server.create_namespace(NAMESPACE)
            operator = MPIOperator(server)
            try:
                yield server
            finally:
                operator.close()

    @pytest.fixture
    def plugin(self, mpi_cluster: KubeTestServer, tmp_path: Path) -> PluginUnderTest:
        """The ``mpi-kubernetes`` handler on the test server; unreachable: a cluster at a closed port."""
        from roost_k8s_pod.testing import unreachable_kubeconfig

        server = mpi_cluster
        gone = unreachable_kubeconfig(tmp_path / "gone.kubeconfig")

        return PluginUnderTest(
            plugins=[roost_mpi.engine],
            handler="mpi-kubernetes",
            section=_kubernetes_section(server.write_kubeconfig(tmp_path / "kubeconfig")),
            **mpi_cases()._asdict(),
            unreachable=_kubernetes_section(gone, max_api_failures=0),
            submissions=lambda: server.created("mpijobs"),
            running=lambda: server.live_pods(NAMESPACE),
            custom_message=mpi_pb2.DistributedMPITrainingTask,
            environment=IDENTITY,
            exemptions=EXAMPLES_ELSEWHERE,
        )
