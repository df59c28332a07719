"""The mpi-kubernetes handler against the Kubernetes API test server (every object validated against the
Training Operator's MPIJob CRD and the core schemas) with the MPI operator stand-in, whose launcher pod runs
`mpirun` here beside the worker pods: success (rank 0's outputs only), a rank's user error naming the rank,
abort, a failure the operator reports, an unschedulable launcher, log links; and the standalone MPI
Operator's v2beta1 MPIJob against its own CRD."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mpi_tasks
import pytest
from flyteidl.core import literals_pb2
from helpers import HERE, context, integers

import roost_mpi.engine
from roost import Resources, task
from roost_core.handler import TaskHandler, TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer, SchemasNotFoundError
from roost_mpi import CleanPodPolicy, Launcher, MPIJob, RestartPolicy, RunPolicy, Worker
from roost_mpi.testing import MPIOperator

NAMESPACE = "proj-dev"
CRD = "training-operator/kubeflow.org_mpijobs.yaml"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KubeTestServer]:
    # The node's "image": this environment's programs (mpirun, roost-execute) first on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    node = KubeletOptions(work_dir=tmp_path / "kubelet", env={"PATH": path})
    with KubeTestServer(kubelet=node, bookmark_interval=0.5) as started:
        try:
            started.register_crd_file(CRD)
        except SchemasNotFoundError as exc:
            pytest.skip(str(exc))
        started.create_namespace(NAMESPACE)
        yield started


@pytest.fixture
def operator(server: KubeTestServer) -> Iterator[MPIOperator]:
    stand_in = MPIOperator(server)
    yield stand_in
    stand_in.close()


def build(server: KubeTestServer, tmp_path: Path, **section: Any) -> TaskHandler:
    """The mpi-kubernetes handler on ``server``, with ``section`` over its settings (``kubernetes`` merged)."""
    from roost_core.testing.harness import build_handler

    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    kubernetes = {
        "clusters": {"default": {"kubeconfig": str(kubeconfig)}},
        "recheck_interval": 600,
        **section.pop("kubernetes", {}),
    }
    return build_handler(
        [roost_mpi.engine],
        "mpi-kubernetes",
        section={
            "kubernetes": kubernetes,
            "task_environment": {"env": {"PYTHONPATH": pythonpath}},
            **section,
        },
    )


@pytest.fixture
def handler(server: KubeTestServer, tmp_path: Path) -> Iterator[TaskHandler]:
    built = build(server, tmp_path)
    yield built
    built.close()


def identity(tmp_path: Path, task_: Any, inputs: dict[str, Any]) -> Any:
    ctx = context(tmp_path, task_, inputs)
    import dataclasses

    return dataclasses.replace(
        ctx,
        environment={"FLYTE_INTERNAL_EXECUTION_ID": "exec1", "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf"},
    )


@task(
    task_config=MPIJob(
        launcher=Launcher(
            replicas=1, requests=Resources(cpu="1", mem="1Gi"), restart_policy=RestartPolicy.FAILURE
        ),
        worker=Worker(
            replicas=3,
            image="worker:2",
            command=["/usr/sbin/sshd", "-De"],
            requests=Resources(cpu="2", mem="2Gi", gpu="1"),
            limits=Resources(cpu="2", mem="2Gi", gpu="1"),
        ),
        slots=2,
        run_policy=RunPolicy(
            clean_pod_policy=CleanPodPolicy.ALL, backoff_limit=2, ttl_seconds_after_finished=60
        ),
    ),
    requests=Resources(cpu="500m"),
)
def shaped(n: int) -> int:
    return n


def test_the_mpijob_is_valid_and_built_from_the_task(
    server: KubeTestServer, handler: TaskHandler, tmp_path: Path
) -> None:
    ctx = identity(tmp_path, shaped, {"n": 1})
    first = Driver(handler, ctx).round()
    assert first.phase in (TaskPhase.QUEUED, TaskPhase.INITIALIZING, TaskPhase.RUNNING), first
    jobs = server.list_objects("mpijobs", NAMESPACE)
    assert [job["metadata"]["name"] for job in jobs] == [
        Driver(handler, ctx).ctx.state.get("name") or jobs[0]["metadata"]["name"]
    ]
    job = jobs[0]
    server.validate(job)  # the stored object passes the CRD's schema again
    spec = job["spec"]
    assert spec["slotsPerWorker"] == 2
    assert spec["runPolicy"] == {"cleanPodPolicy": "All", "ttlSecondsAfterFinished": 60, "backoffLimit": 2}
    launcher, worker = spec["mpiReplicaSpecs"]["Launcher"], spec["mpiReplicaSpecs"]["Worker"]
    assert (launcher["replicas"], launcher["restartPolicy"]) == (1, "OnFailure")
    assert (worker["replicas"], worker["restartPolicy"]) == (3, "Never")
    (launch_container,) = launcher["template"]["spec"]["containers"]
    (work_container,) = worker["template"]["spec"]["containers"]
    assert launch_container["name"] == work_container["name"] == "mpi"
    assert launch_container["image"] == "tests/image:1" and work_container["image"] == "worker:2"
    assert launch_container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert work_container["resources"] == {
        "requests": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }
    # The operator copies the templates' labels to its pods: the handler's pod informer selects on this one.
    for group in (launcher, worker):
        assert group["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "roost"
    argv = [*launch_container.get("command", []), *launch_container.get("args", [])]
    assert argv[0] == "mpirun" and argv[argv.index("-np") + 1] == "6"
    assert work_container["command"] == ["/usr/sbin/sshd", "-De"] and "args" not in work_container
    assert {
        "name": "PYTHONPATH",
        "value": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    } in launch_container["env"]


def test_an_mpijob_runs_every_rank_and_succeeds(
    server: KubeTestServer, operator: MPIOperator, handler: TaskHandler, tmp_path: Path
) -> None:
    ctx = identity(tmp_path, mpi_tasks.world, {"n": 10})
    driver = Driver(handler, ctx)
    running = driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the MPIJob to run")
    name = driver.ctx.state["name"]
    # Running only once the launcher and both workers run, as the operator decides.
    job = server.get("mpijobs", NAMESPACE, name)
    assert job is not None and job["status"]["replicaStatuses"]["Worker"] == {"active": 2}, job
    workers = [server.get("pods", NAMESPACE, f"{name}-worker-{i}") for i in range(2)]
    for index, pod in enumerate(workers):
        assert pod is not None and pod["status"]["phase"] == "Running"
        labels = pod["metadata"]["labels"]
        assert labels["training.kubeflow.org/replica-type"] == "worker"
        assert labels["training.kubeflow.org/replica-index"] == str(index)
        assert pod["metadata"]["ownerReferences"][0]["name"] == name
    config = server.get("configmaps", NAMESPACE, f"{name}-config")
    assert config is not None
    assert config["data"]["hostfile"] == f"{name}-worker-0 slots=2\n{name}-worker-1 slots=2\n"
    assert running.phase is TaskPhase.RUNNING
    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert integers(outputs.literals["o0"]) == [0 + 1 + 2 + 3 + 4 * 10, 4]
    (job,) = server.list_objects("mpijobs", NAMESPACE)
    kinds = [(c["type"], c["status"]) for c in job["status"]["conditions"]]
    assert kinds == [("Created", "True"), ("Running", "False"), ("Succeeded", "True")]
    assert job["status"]["replicaStatuses"]["Launcher"] == {"succeeded": 1}
    driver.finalize()
    wait_until(lambda: server.get("pods", NAMESPACE, f"{name}-worker-0") is None, "the workers to go")


def test_only_rank_zero_writes_the_outputs(
    server: KubeTestServer, operator: MPIOperator, handler: TaskHandler, tmp_path: Path
) -> None:
    # Every other rank returns after rank 0: had they written their outputs, theirs would be the last.
    ctx = identity(tmp_path, mpi_tasks.late_ranks, {"n": 7})
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done
    time.sleep(1)  # the other ranks' results would be written by now
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert integers(outputs.literals["o0"]) == [7, 0]


def test_a_rank_that_raises_fails_the_task_with_its_error(
    server: KubeTestServer, operator: MPIOperator, handler: TaskHandler, tmp_path: Path
) -> None:
    ctx = identity(tmp_path, mpi_tasks.crash, {"rank": 2, "how": "raise"})
    started = time.monotonic()
    done = Driver(handler, ctx).until_done()
    assert time.monotonic() - started < 60
    assert done.phase is TaskPhase.PERMANENT_FAILURE, done
    assert done.error is not None
    assert "task 'crash' (rank 2 of 4) raised RuntimeError: rank 2 gives up" in done.error.message
    (job,) = server.list_objects("mpijobs", NAMESPACE)
    assert job["status"]["conditions"][-1]["reason"] == "MPIJobFailed"


def live_processes_mentioning(text: str) -> list[int]:
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


def test_abort_deletes_the_mpijob_and_every_rank_stops(
    server: KubeTestServer, operator: MPIOperator, handler: TaskHandler, tmp_path: Path
) -> None:
    ctx = identity(tmp_path, mpi_tasks.sleeper, {"seconds": 600})
    driver = Driver(handler, ctx)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the MPIJob to run")
    marker = ctx.output_prefix  # on every rank's command line
    wait_until(lambda: len(live_processes_mentioning(marker)) >= 4, "the ranks to start")
    name = driver.ctx.state["name"]
    driver.abort()
    wait_until(lambda: server.get("mpijobs", NAMESPACE, name) is None, "the MPIJob to be deleted")
    for pod in (f"{name}-launcher", f"{name}-worker-0", f"{name}-worker-1"):
        wait_until(lambda pod=pod: server.get("pods", NAMESPACE, pod) is None, f"pod {pod} to be deleted")
    wait_until(lambda: not live_processes_mentioning(marker), "every rank to stop", timeout=30)


def test_a_failure_the_operator_reports_fails_the_task_with_its_message(
    server: KubeTestServer, operator: MPIOperator, handler: TaskHandler, tmp_path: Path
) -> None:
    ctx = identity(tmp_path, mpi_tasks.sleeper, {"seconds": 600})
    driver = Driver(handler, ctx)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the MPIJob to run")
    name = driver.ctx.state["name"]
    operator.fail(
        NAMESPACE,
        name,
        "BackoffLimitExceeded",
        f"MPIJob {NAMESPACE}/{name} has failed because it has reached the specified backoff limit",
    )
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE, done
    assert done.error is not None
    assert done.error.code == "BackoffLimitExceeded"
    assert done.error.message == (
        f"task 'mpi_tasks.sleeper' (execution proj/dev/exec1, node n0, attempt 0): MPIJob {NAMESPACE}/{name} failed: "
        f"MPIJob {NAMESPACE}/{name} has failed because it has reached the specified backoff limit"
    )
    driver.finalize()
    wait_until(lambda: not live_processes_mentioning(ctx.output_prefix), "every rank to stop", timeout=30)


@task(
    task_config=MPIJob(
        launcher=Launcher(replicas=1, requests=Resources(cpu="100")),
        worker=Worker(replicas=1),
        slots=1,
    )
)
def too_big(n: int) -> int:
    return n


def test_an_unschedulable_launcher_waits_with_the_schedulers_message_then_fails(
    server: KubeTestServer, operator: MPIOperator, tmp_path: Path
) -> None:
    handler = build(server, tmp_path, pod_pending_timeout=3)
    try:
        ctx = identity(tmp_path, too_big, {"n": 1})
        driver = Driver(handler, ctx)
        waiting = driver.until(lambda t: t.phase is TaskPhase.WAITING_FOR_RESOURCES, "the launcher to wait")
        name = driver.ctx.state["name"]
        assert waiting.reason == (
            f"launcher pod {NAMESPACE}/{name}-launcher: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."
        )
        done = driver.until_done()
        assert done.phase is TaskPhase.RETRYABLE_FAILURE, done
        assert done.error is not None and done.error.code == "PodPendingTimeout"
        assert done.error.message == (
            f"task 'test_kubernetes.too_big' (execution proj/dev/exec1, node n0, attempt 0): launcher pod "
            f"{NAMESPACE}/{name}-launcher stayed Pending for more than 3s (Unschedulable: 0/1 nodes are "
            "available: 1 Insufficient cpu.)"
        )
    finally:
        handler.close()


def test_log_links_name_the_launcher_and_every_worker(
    server: KubeTestServer, operator: MPIOperator, tmp_path: Path
) -> None:
    links = [{"name": "Logs", "template": "http://logs/{{ .namespace }}/{{ .podName }}"}]
    handler = build(server, tmp_path, kubernetes={"log_links": links})
    try:
        ctx = identity(tmp_path, mpi_tasks.world, {"n": 1})
        driver = Driver(handler, ctx)
        running = driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the MPIJob to run")
        name = driver.ctx.state["name"]
        assert [(log.name, log.uri) for log in running.logs] == [
            ("Logs (launcher)", f"http://logs/{NAMESPACE}/{name}-launcher"),
            ("Logs (worker 0)", f"http://logs/{NAMESPACE}/{name}-worker-0"),
            ("Logs (worker 1)", f"http://logs/{NAMESPACE}/{name}-worker-1"),
        ]
        assert driver.until_done().phase is TaskPhase.SUCCESS
    finally:
        handler.close()


def test_the_v2beta1_mpijob_of_the_mpi_operator_is_valid(tmp_path: Path) -> None:
    with KubeTestServer() as server:
        try:
            server.register_crd_file("mpi-operator/kubeflow.org_mpijobs.yaml")
        except SchemasNotFoundError as exc:
            pytest.skip(str(exc))
        server.create_namespace(NAMESPACE)
        handler = build(server, tmp_path, api_version="kubeflow.org/v2beta1")
        try:
            ctx = identity(tmp_path, shaped, {"n": 1})
            first = Driver(handler, ctx).round()
            assert first.phase is TaskPhase.QUEUED, first
            (job,) = server.list_objects("mpijobs", NAMESPACE)
            server.validate(job)
            assert job["apiVersion"] == "kubeflow.org/v2beta1"
            spec = job["spec"]
            assert spec["slotsPerWorker"] == 2 and spec["runPolicy"]["cleanPodPolicy"] == "All"
            worker = spec["mpiReplicaSpecs"]["Worker"]
            assert worker["replicas"] == 3
            assert worker["template"]["spec"]["containers"][0]["command"] == ["/usr/sbin/sshd", "-De"]
        finally:
            handler.close()


@task(
    task_config=MPIJob(
        launcher=Launcher(replicas=1),
        worker=Worker(replicas=2, requests=Resources(cpu="100")),
        slots=1,
    )
)
def big_workers(n: int) -> int:
    return n


def test_unschedulable_workers_make_the_attempt_wait_too(
    server: KubeTestServer, operator: MPIOperator, handler: TaskHandler, tmp_path: Path
) -> None:
    ctx = identity(tmp_path, big_workers, {"n": 1})
    driver = Driver(handler, ctx)
    waiting = driver.until(lambda t: t.phase is TaskPhase.WAITING_FOR_RESOURCES, "the workers to wait")
    name = driver.ctx.state["name"]
    assert waiting.reason == (
        f"worker 0 pod {NAMESPACE}/{name}-worker-0: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."
    )
    driver.abort()
    wait_until(lambda: server.get("mpijobs", NAMESPACE, name) is None, "the MPIJob to be deleted")
