"""The Pod handler passes the handler conformance suite (roost_core.testing.conformance) against the
Kubernetes API test server, its pods run by the test kubelet as local processes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flyteidl.core import literals_pb2
from helpers import NAMESPACE, handler_config, program_task

import roost_k8s_pod.engine
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_core.testing.tasks import integer
from roost_k8s_pod.testing import KubeTestServer


def _x(value: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"x": integer(value)})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unreachable_kubeconfig(path: Path) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{_closed_port()}'}}}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: gone}}]\n"
        "users: [{name: gone, user: {}}]\n"
    )
    return path


class TestPodHandlerConformance(HandlerConformance):
    @pytest.fixture
    def plugin(self, kube_test_server: KubeTestServer, tmp_path: Path) -> PluginUnderTest:
        server = kube_test_server
        server.create_namespace(NAMESPACE)

        def submissions() -> int:
            return sum(
                1
                for request in server.requests
                if request.method == "POST" and request.path.endswith("/pods") and request.status == 201
            )

        def running() -> int:
            return sum(
                1
                for pod in server.list_objects("pods", NAMESPACE)
                if pod.get("status", {}).get("phase") in (None, "Pending", "Running")
            )

        return PluginUnderTest(
            plugins=[roost_k8s_pod.engine],
            handler="k8s-pod",
            section=handler_config(tmp_path / "kubeconfig"),
            succeeds=TaskCase(
                program_task("double", inputs=["x"], outputs=["o0"]),
                _x(21),
                literals_pb2.LiteralMap(literals={"o0": integer(42)}),
            ),
            slow=TaskCase(program_task("nap", "3", inputs=["x"], outputs=["o0"]), _x(1)),
            fails_user=TaskCase(program_task("error", inputs=["x"], outputs=["o0"]), _x(1)),
            unreachable=handler_config(
                _unreachable_kubeconfig(tmp_path / "gone.kubeconfig"), max_api_failures=0
            ),
            submissions=submissions,
            running=running,
            environment={
                "FLYTE_INTERNAL_EXECUTION_ID": "exec1",
                "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf",
            },
            exemptions={
                "local_run": "a pod task runs locally as a plain Python task: the SDK's tests cover that",
                "roost_start": "`roost start` runs pod tasks as local processes unless pointed at a cluster; "
                "the engine workflow tests drive this handler on an engine",
            },
        )
