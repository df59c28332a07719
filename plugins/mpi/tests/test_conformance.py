"""Both MPI handlers pass the handler conformance suite (roost_core.testing.conformance): ``mpi-local`` with
this machine's mpirun, and ``mpi-kubernetes`` against the Kubernetes API test server with the MPI operator
stand-in (whose launcher pod runs mpirun beside the worker pods). The example workflow's local and `roost
start` runs are test_examples.py's, so they are not repeated here."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mpi_tasks
import pytest
from flyteidl.core import literals_pb2
from flyteidl.plugins.kubeflow import mpi_pb2
from helpers import HERE, template

import roost_mpi.engine
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_core.testing.tasks import integer
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
from roost_mpi.testing import MPIOperator

NAMESPACE = "proj-dev"
EXAMPLES_RUN_ELSEWHERE = {
    "local_run": "test_examples.py runs the MPI example workflow with `roost run`",
    "roost_start": "test_examples.py runs the MPI example workflow on `roost start`",
}
IDENTITY = {"FLYTE_INTERNAL_EXECUTION_ID": "exec1", "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf"}


def _inputs(**values: Any) -> literals_pb2.LiteralMap:
    literals = literals_pb2.LiteralMap()
    for name, value in values.items():
        if isinstance(value, str):
            literals.literals[name].scalar.primitive.string_value = value
        else:
            literals.literals[name].CopyFrom(integer(value))
    return literals


def _cases() -> dict[str, TaskCase]:
    return {
        "succeeds": TaskCase(template(mpi_tasks.world), _inputs(n=1)),
        "slow": TaskCase(template(mpi_tasks.sleeper), _inputs(seconds=4)),
        "fails_user": TaskCase(template(mpi_tasks.crash), _inputs(rank=1, how="raise")),
    }


def _pythonpath() -> str:
    return os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestLocalMPIConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        return PluginUnderTest(
            plugins=[roost_mpi.engine],
            handler="mpi-local",
            section={"work_dir": str(tmp_path / "work"), "kill_grace_period": 3},
            shared={"task_environment": {"env": {"PYTHONPATH": _pythonpath()}}},
            **_cases(),
            custom_message=mpi_pb2.DistributedMPITrainingTask,
            environment=IDENTITY,
            exemptions={
                "system_error": "the ranks run on this machine: there is no external system to be unreachable",
                **EXAMPLES_RUN_ELSEWHERE,
            },
        )


@pytest.fixture
def mpi_server(tmp_path: Path) -> Iterator[KubeTestServer]:
    """The test server with the MPIJob CRD and the operator stand-in; its node's "image" is this environment
    (mpirun and roost-execute first on PATH)."""
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


def _kubernetes_section(kubeconfig: Path, **kubernetes: Any) -> dict[str, Any]:
    return {
        "kubernetes": {
            "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
            "recheck_interval": 600,
            **kubernetes,
        },
        "task_environment": {"env": {"PYTHONPATH": _pythonpath()}},
    }


class TestKubernetesMPIConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, mpi_server: KubeTestServer, tmp_path: Path) -> PluginUnderTest:
        server = mpi_server
        gone = tmp_path / "gone.kubeconfig"
        gone.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
            f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{_closed_port()}'}}}}]\n"
            "contexts: [{name: gone, context: {cluster: gone, user: gone}}]\n"
            "users: [{name: gone, user: {}}]\n"
        )

        def submissions() -> int:
            return sum(
                1
                for request in server.requests
                if request.method == "POST" and request.path.endswith("/mpijobs") and request.status == 201
            )

        def running() -> int:
            return sum(
                1
                for pod in server.list_objects("pods", NAMESPACE)
                if pod.get("status", {}).get("phase") in (None, "Pending", "Running")
            )

        return PluginUnderTest(
            plugins=[roost_mpi.engine],
            handler="mpi-kubernetes",
            section=_kubernetes_section(server.write_kubeconfig(tmp_path / "kubeconfig")),
            **_cases(),
            unreachable=_kubernetes_section(gone, max_api_failures=0),
            submissions=submissions,
            running=running,
            custom_message=mpi_pb2.DistributedMPITrainingTask,
            environment=IDENTITY,
            exemptions=EXAMPLES_RUN_ELSEWHERE,
        )
