"""The ``ray-k8s`` handler end to end on the Kubernetes API test server with the KubeRay stand-in
(``roost_ray.testing``), whose head pod is a real local Ray head and whose submitter runs ``ray job submit``
against it: success with the right outputs and the dashboard link, the user's failure, abort, and a failure
KubeRay reports. Every object the handler and the stand-in create passes the CRDs' and core schemas."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray_tasks
from flyteidl.core import literals_pb2

import roost_ray.engine
from roost.testing import check_task_template
from roost_admin.testing.server import run_roost, start_roost
from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
from roost_ray.k8s import RayK8sHandler
from roost_ray.testing import CLUSTER_LABEL, KubeRayOperator

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "examples"
NAMESPACE = "proj-dev"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KubeTestServer]:
    # The node's "image": this environment's programs (ray, roost-execute) first on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    node = KubeletOptions(work_dir=tmp_path / "kubelet", env={"PATH": path})
    with KubeTestServer(kubelet=node, bookmark_interval=0.5) as started:
        started.create_namespace(NAMESPACE)
        yield started


@pytest.fixture
def operator(server: KubeTestServer) -> Iterator[KubeRayOperator]:
    try:
        stand_in = KubeRayOperator(server).start()
    except SchemasNotFoundError as exc:
        pytest.skip(str(exc))
    yield stand_in
    stand_in.close()


@pytest.fixture
def handler(server: KubeTestServer, operator: KubeRayOperator, tmp_path: Path) -> Iterator[RayK8sHandler]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    built = build_handler(
        [roost_ray.engine],
        "ray-k8s",
        shared={
            "kubernetes": {"clusters": {"default": {"kubeconfig": str(kubeconfig)}}, "recheck_interval": 600},
            "task_environment": {"env": {"PYTHONPATH": pythonpath}},
        },
    )
    assert isinstance(built, RayK8sHandler)
    yield built
    built.close()


def live_processes_mentioning(text: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                stat = cmdline.with_name("stat").read_text().rpartition(")")[2].split()
                if stat[0] != "Z":
                    found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def test_a_rayjob_runs_its_entrypoint_on_a_local_head_and_succeeds(
    server: KubeTestServer, handler: RayK8sHandler, tmp_path: Path
) -> None:
    ctx = task_context(tmp_path, check_task_template(ray_tasks.fan_out_int), inputs={"n": 100})
    driver = Driver(handler, ctx, wait=120)
    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == sum(i * i for i in range(100))
    phases = [t.phase for t in driver.transitions]
    assert TaskPhase.INITIALIZING in phases and TaskPhase.RUNNING in phases
    links = [log for t in driver.transitions for log in t.logs]
    (job,) = server.list_objects("rayjobs", NAMESPACE)
    assert {link.name for link in links} == {"Ray dashboard"}
    assert links[0].uri == f"http://{job['status']['dashboardURL']}"
    status = job["status"]
    assert (status["jobDeploymentStatus"], status["jobStatus"], status["succeeded"]) == (
        "Complete",
        "SUCCEEDED",
        1,
    )
    assert status["jobId"].startswith(f"{job['metadata']['name']}-")
    (cluster,) = server.list_objects("rayclusters", NAMESPACE)
    assert cluster["metadata"]["name"] == status["rayClusterName"]
    assert cluster["status"]["state"] == "ready"
    head = server.get("pods", NAMESPACE, f"{cluster['metadata']['name']}-head")
    assert head is not None and head["metadata"]["labels"][CLUSTER_LABEL] == cluster["metadata"]["name"]
    for obj in [job, cluster, head, *server.list_objects("pods", NAMESPACE)]:
        server.validate({k: v for k, v in obj.items() if k != "status"})


def test_a_task_that_raises_fails_with_its_error(
    server: KubeTestServer, handler: RayK8sHandler, tmp_path: Path
) -> None:
    ctx = task_context(tmp_path, check_task_template(ray_tasks.explode), inputs={"n": 7})
    done = Driver(handler, ctx, wait=120).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE, done
    assert done.error is not None and done.error.kind is ErrorKind.USER
    assert "ValueError: no square for 7" in done.error.message
    # roost-execute wrote the error document and ended well: the Ray job itself succeeded.
    (job,) = server.list_objects("rayjobs", NAMESPACE)
    assert (job["status"]["jobDeploymentStatus"], job["status"]["jobStatus"]) == ("Complete", "SUCCEEDED")


@pytest.mark.exhaustive
def test_a_driver_that_dies_fails_the_ray_job_and_the_task(
    server: KubeTestServer, handler: RayK8sHandler, tmp_path: Path
) -> None:
    ctx = task_context(tmp_path, check_task_template(ray_tasks.crash), inputs={"code": 3})
    driver = Driver(handler, ctx, wait=120)
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE, done
    assert done.error is not None and done.error.kind is ErrorKind.USER
    name = driver.ctx.state["name"]
    assert done.error.message.startswith(
        "task 'ray_tasks.crash' (execution proj/dev/exec1, node n0, attempt 0): "
        f"Ray job of RayJob {name} ended FAILED: [AppFailed] Job entrypoint command failed with exit code 3"
    ), done.error.message
    (job,) = server.list_objects("rayjobs", NAMESPACE)
    assert (job["status"]["jobDeploymentStatus"], job["status"]["reason"]) == ("Failed", "AppFailed")


def test_abort_deletes_the_rayjob_and_every_local_process_ends(
    server: KubeTestServer, handler: RayK8sHandler, tmp_path: Path
) -> None:
    marker = tmp_path / "sleeper.pid"
    template = check_task_template(ray_tasks.hang)
    literals = literals_pb2.LiteralMap()
    literals.literals["marker"].scalar.primitive.string_value = str(marker)
    ctx = task_context(tmp_path, template, inputs=literals)
    driver = Driver(handler, ctx, wait=120)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING and bool(t.logs), "the Ray job to run")
    wait_until(
        lambda: marker.exists() and marker.read_text().isdigit(), "the remote call to start", timeout=120
    )
    sleeper = int(marker.read_text())
    name = driver.ctx.state["name"]
    (cluster,) = server.list_objects("rayclusters", NAMESPACE)
    driver.abort()
    assert server.get("rayjobs", NAMESPACE, name) is None
    wait_until(lambda: not server.list_objects("rayclusters", NAMESPACE), "the RayCluster to be deleted")
    wait_until(
        lambda: not server.list_objects("pods", NAMESPACE), "the head and submitter pods to be deleted"
    )
    wait_until(lambda: not Path(f"/proc/{sleeper}").exists(), "the Ray worker to end", timeout=30)
    temp = cluster["metadata"]["name"]
    wait_until(lambda: not live_processes_mentioning(ctx.output_prefix), "the driver to end", timeout=30)
    assert not live_processes_mentioning(temp)


def test_a_submission_kuberay_gives_up_on_fails_with_its_reason_and_message(
    server: KubeTestServer, operator: KubeRayOperator, handler: RayK8sHandler, tmp_path: Path
) -> None:
    ctx = task_context(tmp_path, check_task_template(ray_tasks.fan_out_int), inputs={"n": 3})
    driver = Driver(handler, ctx, wait=120)
    driver.round()
    operator.fail_submission(driver.ctx.state["name"])
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE, done
    assert done.error is not None and done.error.code == "RayJobFailed"
    assert done.error.message == (
        f"task 'ray_tasks.fan_out_int' (execution proj/dev/exec1, node n0, attempt 0): KubeRay failed RayJob "
        f"{driver.ctx.state['name']}: [SubmissionFailed] Job submission has failed. Reason: BackoffLimitExceeded. "
        "Message: Job has reached the specified backoff limit"
    )
    submitters = [p for p in server.list_objects("pods", NAMESPACE) if "job-name" in p["metadata"]["labels"]]
    assert len(submitters) == 3  # KubeRay's default backoff limit of 2: three tries


def test_the_example_runs_on_roost_start_as_a_rayjob(
    server: KubeTestServer, operator: KubeRayOperator, tmp_path: Path
) -> None:
    """SDK → `roost start` (ray: ray-k8s) → RayJob → the stand-in's head runs the task → outputs; the task's
    events carry the Ray dashboard link."""
    from roost.remote import ClientConfig, RemoteClient

    namespace = "flytesnacks-development"
    server.create_namespace(namespace)
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    settings = {
        "engine": {
            "default_for_task_types": {"ray": "ray-k8s"},
            "kubernetes": {
                "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
                "delete_on_finalize": False,  # kept, to be looked at below
            },
        }
    }
    roost = start_roost(tmp_path / "server", settings, drop_env=("ROOST_", "RAY_"))
    try:
        env = roost.client_env(tmp_path / "client")
        args = (
            "run",
            "--remote",
            "--wait",
            "--no-progress",
            "-o",
            "json",
            "ray_fanout.py",
            "wf",
            "--n",
            "100",
        )
        run = run_roost(env, *args, cwd=EXAMPLES, timeout=300)
        assert run.returncode == 0, f"{run.stderr}\nserver:\n{roost.log()[-3000:]}"
        assert json.loads(run.stdout) == {"o0": "the squares below 100 sum to 328350"}
        with RemoteClient(ClientConfig(endpoint=roost.grpc_endpoint)) as client:
            (execution,) = client.list("executions", "flytesnacks", "development")
            logs = [
                log
                for node in client.node_executions(execution.id)
                for attempt in client.task_executions(node.id)
                for log in attempt.closure.logs
            ]
    finally:
        roost.stop()
    (job,) = server.list_objects("rayjobs", namespace)
    assert (job["status"]["jobDeploymentStatus"], job["status"]["jobStatus"]) == ("Complete", "SUCCEEDED")
    dashboard = [(log.name, log.uri) for log in logs if log.name == "Ray dashboard"]
    assert dashboard == [("Ray dashboard", f"http://{job['status']['dashboardURL']}")]
