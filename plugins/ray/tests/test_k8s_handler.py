"""The ``ray-k8s`` handler against the Kubernetes API test server with KubeRay's RayJob CRD (every object it
creates is validated against the real schema): the RayJob it builds, and its phases through status sequences
recorded from KubeRay (success, the job's failure, an operator-reported failure, a refused spec), abort by
delete."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import ray_tasks
import yaml
from flyteidl.core import literals_pb2

import roost_ray.engine
from roost import Resources, task
from roost.testing import check_task_template
from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context
from roost_k8s_pod.testing import KubeTestServer, SchemasNotFoundError
from roost_ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from roost_ray.k8s import RayK8sHandler

NAMESPACE = "proj-dev"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeTestServer]:
    with KubeTestServer(bookmark_interval=0.5) as server:
        try:
            server.register_crd_file("kuberay/ray.io_rayjobs.yaml")
        except SchemasNotFoundError as exc:
            pytest.skip(str(exc))
        server.create_namespace(NAMESPACE)
        yield server


@pytest.fixture
def handler(kube: KubeTestServer, tmp_path: Path) -> Iterator[RayK8sHandler]:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    section = {"clusters": {"default": {"kubeconfig": str(kubeconfig)}}, "recheck_interval": 600}
    built = build_handler([roost_ray.engine], "ray-k8s", shared={"kubernetes": section})
    assert isinstance(built, RayK8sHandler)
    yield built
    built.close()


def double(n: int) -> int:
    """Twice n."""
    return 2 * n


CONFIG = RayJobConfig(
    head_node_config=HeadNodeConfig(
        ray_start_params={"log-color": "True"}, requests=Resources(cpu="1", mem="1Gi")
    ),
    worker_node_config=[
        WorkerNodeConfig("small", 2, min_replicas=1, max_replicas=4, limits=Resources(cpu="2", mem="2Gi")),
    ],
    runtime_env={"pip": ["numpy"]},
    shutdown_after_job_finishes=True,
    ttl_seconds_after_finished=30,
)


def _created(driver: Driver, kube: KubeTestServer) -> dict[str, Any]:
    first = driver.round()
    assert first.phase is TaskPhase.QUEUED, first
    obj = kube.get("rayjobs", NAMESPACE, driver.ctx.state["name"])
    assert obj is not None
    return obj


def test_the_rayjob_is_built_from_the_task_and_passes_the_schema(
    handler: RayK8sHandler, kube: KubeTestServer, tmp_path: Path
) -> None:
    template = check_task_template(task(task_config=CONFIG, limits=Resources(cpu="1", mem="1Gi"))(double))
    driver = Driver(handler, task_context(tmp_path, template, inputs={"n": 2}))
    obj = _created(driver, kube)
    assert obj["metadata"]["name"] == driver.ctx.state["name"]
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "roost"
    spec = obj["spec"]
    assert spec["entrypoint"].startswith("roost-execute --inputs ")
    assert "--task-name double" in spec["entrypoint"]
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] == 30
    assert yaml.safe_load(spec["runtimeEnvYAML"]) == {"pip": ["numpy"]}
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["log-color"] == "True"
    assert head["rayStartParams"]["disable-usage-stats"] == "true"
    (head_container,) = head["template"]["spec"]["containers"]
    assert head_container["name"] == "ray-head" and head_container["args"] == []
    assert head_container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert {p["containerPort"] for p in head_container["ports"]} == {6379, 10001, 8265}
    (worker,) = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert (worker["groupName"], worker["replicas"], worker["minReplicas"], worker["maxReplicas"]) == (
        "small",
        2,
        1,
        4,
    )
    (worker_container,) = worker["template"]["spec"]["containers"]
    assert worker_container["name"] == "ray-worker"
    assert worker_container["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert worker_container["lifecycle"]["preStop"]["exec"]["command"][-1] == "ray stop"
    submitter = spec["submitterPodTemplate"]["spec"]["containers"][0]
    assert submitter["args"][0] == "roost-execute"


def _outputs(ctx: Any, **values: int) -> None:
    ctx.storage.write_proto(
        ctx.outputs_uri,
        literals_pb2.LiteralMap(
            literals={
                k: literals_pb2.Literal(
                    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=v))
                )
                for k, v in values.items()
            }
        ),
    )


def _play(
    driver: Driver, kube: KubeTestServer, statuses: list[Mapping[str, Any]]
) -> list[tuple[TaskPhase, str, tuple[str, ...]]]:
    """Set each recorded status in turn (as KubeRay would) and note the handler's phase after each."""
    name = driver.ctx.state["name"]
    seen = []
    for status in statuses:
        driver.woken.clear()
        kube.set_status("rayjobs", NAMESPACE, name, status)
        assert driver.woken.wait(30), "the watch did not wake the attempt"
        transition = driver.round()
        seen.append((transition.phase, transition.reason, tuple(log.name for log in transition.logs)))
    return seen


RUNNING = {
    "jobDeploymentStatus": "Running",
    "jobStatus": "RUNNING",
    "jobId": "rayjob-abc",
    "rayClusterName": "rayjob-abc-raycluster-x",
    "dashboardURL": "rayjob-abc-head-svc.proj-dev.svc.cluster.local:8265",
}


def test_a_successful_job_goes_through_kuberays_states(
    handler: RayK8sHandler, kube: KubeTestServer, tmp_path: Path
) -> None:
    template = check_task_template(ray_tasks.fan_out_int)
    ctx = task_context(tmp_path, template, inputs={"n": 3})
    driver = Driver(handler, ctx)
    _created(driver, kube)
    seen = _play(
        driver,
        kube,
        [
            {"jobDeploymentStatus": "Initializing"},
            {"jobDeploymentStatus": "Running", "jobStatus": "PENDING"},
            RUNNING,
        ],
    )
    assert [s[0] for s in seen] == [TaskPhase.INITIALIZING, TaskPhase.RUNNING, TaskPhase.RUNNING]
    assert seen[-1][2] == ("Ray dashboard",)
    assert driver.transitions[-1].logs[0].uri == f"http://{RUNNING['dashboardURL']}"
    _outputs(ctx, o0=5)
    (done,) = _play(driver, kube, [{**RUNNING, "jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}])
    assert done[0] is TaskPhase.SUCCESS


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable", "words"),
    [
        (
            {**RUNNING, "jobDeploymentStatus": "Failed", "jobStatus": "FAILED", "reason": "AppFailed",
             "message": "Job entrypoint command failed with exit code 1"},
            "RayJobFailed", ErrorKind.USER, True, "ended FAILED: [AppFailed] Job entrypoint command failed",
        ),
        (
            {**RUNNING, "jobDeploymentStatus": "Complete", "jobStatus": "STOPPED"},
            "RayJobFailed", ErrorKind.USER, True, "ended STOPPED",
        ),
        (
            {"jobDeploymentStatus": "Failed", "reason": "SubmissionFailed",
             "message": "Failed to submit the job: connection refused"},
            "RayJobFailed", ErrorKind.SYSTEM, True, "KubeRay failed RayJob",
        ),
        (
            {"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded",
             "message": "The RayJob has passed the activeDeadlineSeconds."},
            "RayJobFailed", ErrorKind.SYSTEM, True, "[DeadlineExceeded] The RayJob has passed",
        ),
        (
            {"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed",
             "message": "The RayJob spec is invalid: entrypoint is empty"},
            "RayJobValidationFailed", ErrorKind.USER, False, "KubeRay refused RayJob",
        ),
        (
            {"jobDeploymentStatus": "Exploded"},
            "UnknownRayJobStatus", ErrorKind.SYSTEM, True, "unknown jobDeploymentStatus 'Exploded'",
        ),
    ],
)  # fmt: skip
def test_failures_say_whose_fault_and_what_kuberay_said(
    handler: RayK8sHandler,
    kube: KubeTestServer,
    tmp_path: Path,
    status: dict[str, Any],
    code: str,
    kind: ErrorKind,
    retryable: bool,
    words: str,
) -> None:
    template = check_task_template(ray_tasks.fan_out_int)
    driver = Driver(handler, task_context(tmp_path, template, inputs={"n": 3}))
    _created(driver, kube)
    (seen,) = _play(driver, kube, [status])
    transition = driver.transitions[-1]
    assert transition.error is not None
    assert transition.error.code == code and transition.error.kind is kind
    assert (seen[0] is TaskPhase.RETRYABLE_FAILURE) is retryable
    assert words in transition.error.message
    assert "task 'ray_tasks.fan_out_int' (execution proj/dev/exec1" in transition.error.message


def test_queued_states_and_abort_deletes_the_rayjob(
    handler: RayK8sHandler, kube: KubeTestServer, tmp_path: Path
) -> None:
    template = check_task_template(ray_tasks.fan_out_int)
    driver = Driver(handler, task_context(tmp_path, template, inputs={"n": 3}))
    _created(driver, kube)
    seen = _play(driver, kube, [{"jobDeploymentStatus": "Suspended"}, {"jobDeploymentStatus": "Retrying"}])
    assert [s[0] for s in seen] == [TaskPhase.QUEUED, TaskPhase.RUNNING]
    name = driver.ctx.state["name"]
    driver.abort()
    assert kube.get("rayjobs", NAMESPACE, name) is None
