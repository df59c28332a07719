"""roost-ray's conformance subjects (entry point ``roost.conformance``), run by ``roost plugins check ray`` and by
the package's own tests: the ``ray-local`` handler on real local Ray runtimes, and the ``ray-k8s`` handler against
the Kubernetes API test server with the KubeRay stand-in, whose head pods are real local Ray heads
(``roost-k8s-pod[testing]`` needed; skipped, saying so, without it or without the server's schema folder). The
tasks are :mod:`roost_ray.testing.tasks`.

Starting a Ray runtime takes seconds, so the slow case is the succeeding task itself: it is still starting or
running when the checks abort, restart or time it out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import pytest
from flyteidl.core import literals_pb2
from flyteidl.plugins import ray_pb2

import roost_ray.engine
from roost.extend import SerializationSettings, Task, check_task_template
from roost_core.testing.conformance import HandlerConformance, PluginUnderTest, TaskCase
from roost_ray.testing import tasks

if TYPE_CHECKING:
    from roost_k8s_pod.testing import KubeTestServer

__all__ = ["RayCases", "TestRayK8sConformance", "TestRayLocalConformance", "ray_cases"]

SETTINGS = SerializationSettings(project="proj", domain="dev", version="v1")
NAMESPACE = "proj-dev"
"""The namespace of the tasks' project and domain (the Kubernetes handler's default)."""
IDENTITY = {"FLYTE_INTERNAL_EXECUTION_ID": "exec1", "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf"}
EXAMPLES_ELSEWHERE = {
    "local_run": "an installed plugin has no example workflow; the package's tests run examples/ with "
    "`roost run` (tests/test_e2e.py)",
    "roost_start": "an installed plugin has no example workflow; the package's tests run examples/ on "
    "`roost start` (tests/test_e2e.py)",
}


class RayCases(NamedTuple):
    """The cases of both handlers."""

    succeeds: TaskCase
    slow: TaskCase
    fails_user: TaskCase


def _n(value: int) -> literals_pb2.LiteralMap:
    literals = literals_pb2.LiteralMap()
    literals.literals["n"].scalar.primitive.integer = value
    return literals


def ray_cases() -> RayCases:
    """A Ray job summing the squares below 4 (also the slow case), and one whose worker divides by 0."""

    def template(task: object) -> Any:
        # @task keeps the function's signature for type checkers; the object is a Task
        return check_task_template(cast("Task", task), SETTINGS, custom_message=ray_pb2.RayJob)

    squares = template(tasks.squares)
    expected = literals_pb2.LiteralMap()
    expected.literals["o0"].scalar.primitive.integer = 14
    return RayCases(
        succeeds=TaskCase(squares, _n(4), expected),
        slow=TaskCase(squares, _n(4)),
        fails_user=TaskCase(template(tasks.divide_by_zero), _n(2)),
    )


def _processes_in(folder: Path) -> int:
    """How many processes run in ``folder`` or below (the attempts' drivers)."""
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


class TestRayLocalConformance(HandlerConformance):
    """The conformance suite on the ``ray-local`` handler: each check's handler starts a real local Ray
    runtime (one CPU), which its attempts share."""

    @pytest.fixture
    def plugin(self, tmp_path: Path) -> PluginUnderTest:
        """The ``ray-local`` handler, its attempts under ``tmp_path``; unreachable: the tasks' image mapped to
        an environment without Ray, so no runtime can start."""
        work = tmp_path / "work"
        section: dict[str, Any] = {
            "work_dir": str(work),
            "kill_grace_period": 2,
            "idle_timeout": 0,
        }
        cases = ray_cases()
        no_ray = tmp_path / "no-ray"
        (no_ray / "bin").mkdir(parents=True)
        image = cases.succeeds.template.container.image
        return PluginUnderTest(
            plugins=[roost_ray.engine],
            handler="ray-local",
            section=section,
            **cases._asdict(),
            unreachable={**section, "image_environments": {image: str(no_ray)}},
            running=lambda: _processes_in(work),
            custom_message=ray_pb2.RayJob,
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


class TestRayK8sConformance(HandlerConformance):
    """The conformance suite on the ``ray-k8s`` handler: RayJobs on the Kubernetes API test server, whose KubeRay
    stand-in starts a real local Ray head per job and submits the task's driver to it."""

    @pytest.fixture
    def ray_cluster(self, tmp_path: Path) -> Iterator[KubeTestServer]:
        """The test server (its kubelet running pods as local processes, this environment's programs first on
        their PATH) with the RayJob and RayCluster CRDs served and reconciled by the KubeRay stand-in."""
        try:
            from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
            from roost_ray.testing.operator import KubeRayOperator
        except ImportError as exc:
            pytest.skip(f"the ray-k8s checks need roost-k8s-pod[testing] installed ({exc})")
        # The node's "image": this environment's programs (ray, roost-execute) first on PATH.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        node = KubeletOptions(work_dir=tmp_path / "kubelet", env={"PATH": path})
        with KubeTestServer(kubelet=node, bookmark_interval=0.5) as server:
            try:
                operator = KubeRayOperator(server).start()
            except SchemasNotFoundError as exc:
                pytest.skip(str(exc))
            server.create_namespace(NAMESPACE)
            try:
                yield server
            finally:
                operator.close()

    @pytest.fixture
    def plugin(self, ray_cluster: KubeTestServer, tmp_path: Path) -> PluginUnderTest:
        """The ``ray-k8s`` handler on the test server; unreachable: a cluster at a closed port."""
        from roost_k8s_pod.testing import unreachable_kubeconfig

        server = ray_cluster
        gone = unreachable_kubeconfig(tmp_path / "gone.kubeconfig")

        return PluginUnderTest(
            plugins=[roost_ray.engine],
            handler="ray-k8s",
            section=_kubernetes_section(server.write_kubeconfig(tmp_path / "kubeconfig")),
            **ray_cases()._asdict(),
            unreachable=_kubernetes_section(gone, max_api_failures=0),
            submissions=lambda: server.created("rayjobs"),
            running=lambda: server.live_pods(NAMESPACE),
            custom_message=ray_pb2.RayJob,
            environment=IDENTITY,
            exemptions=EXAMPLES_ELSEWHERE,
        )
