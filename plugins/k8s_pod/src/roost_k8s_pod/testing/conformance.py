"""roost-k8s-pod's conformance subject (entry point ``roost.conformance``), run by ``roost plugins check k8s_pod``
and by the package's own tests: the Pod handler against the Kubernetes API test server (the ``kube_test_server``
fixture), its pods run by the test kubelet as local processes of :mod:`roost_k8s_pod.testing.task_program`. Needs
the ``testing`` extra and roost-core's conformance suite (pytest)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2, tasks_pb2

import roost_k8s_pod.engine
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_core.testing.tasks import container_task, integer
from roost_k8s_pod.testing import KubeTestServer, task_program, unreachable_kubeconfig

__all__ = ["NAMESPACE", "TestPodHandlerConformance", "pod_section", "program_task"]

NAMESPACE = "proj-dev"
"""The namespace of the test tasks' project and domain (the handler's default)."""


def program_task(mode: str, *extra: str) -> tasks_pb2.TaskTemplate:
    """A task with input ``x`` and output ``o0`` whose container runs the task program in ``mode``."""
    return container_task(
        [sys.executable, str(Path(task_program.__file__))],
        [mode, "{{.input}}", "{{.outputPrefix}}", *extra],
        inputs=["x"],
        outputs=["o0"],
    )


def pod_section(kubeconfig: Path, **kubernetes: Any) -> dict[str, Any]:
    """The Pod handler's settings for the cluster of ``kubeconfig``: watches wake it, so it rechecks rarely."""
    return {
        "kubernetes": {
            "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
            "recheck_interval": 600,
            **kubernetes,
        }
    }


def _x(value: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"x": integer(value)})


class TestPodHandlerConformance(HandlerConformance):
    """The conformance suite on the ``k8s-pod`` handler."""

    @pytest.fixture
    def plugin(self, kube_test_server: KubeTestServer, tmp_path: Path) -> PluginUnderTest:
        """The Pod handler on the test server: a task doubling its input, one napping 3 s first, one writing
        the user's error document; unreachable: a cluster at a closed port."""
        server = kube_test_server
        server.create_namespace(NAMESPACE)

        return PluginUnderTest(
            plugins=[roost_k8s_pod.engine],
            handler="k8s-pod",
            section=pod_section(tmp_path / "kubeconfig"),
            succeeds=TaskCase(
                program_task("double"), _x(21), literals_pb2.LiteralMap(literals={"o0": integer(42)})
            ),
            slow=TaskCase(program_task("nap", "3"), _x(1)),
            fails_user=TaskCase(program_task("error"), _x(1)),
            unreachable=pod_section(unreachable_kubeconfig(tmp_path / "gone.kubeconfig"), max_api_failures=0),
            submissions=lambda: server.created("pods"),
            running=lambda: server.live_pods(NAMESPACE),
            environment={
                "FLYTE_INTERNAL_EXECUTION_ID": "exec1",
                "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf",
            },
            exemptions={
                "local_run": "a pod task runs locally as a plain Python task: the SDK's tests cover that",
                "roost_start": "`roost start` runs pod tasks as local processes unless pointed at a cluster; "
                "the package's engine workflow tests drive this handler on an engine",
            },
        )
