"""Each pod failure mode, produced by the test server's kubelet, mapped to the attempt's phase."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flyteidl.core import tasks_pb2
from helpers import NAMESPACE, handler_config, make_context, program_task

from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver, wait_until


def start(pods, server, kubeconfig, tmp_path, task, **config):
    """Drive an attempt until its pod runs (or stops short of it); returns the driver."""
    handler = pods.handler(handler_config(kubeconfig, **config))
    ctx = make_context(tmp_path, task, inputs={"x": 1})
    return Driver(handler, ctx)


def running(driver):
    return driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the pod to run")


def test_a_task_error_document_is_the_failure(server, pods, kubeconfig, tmp_path):
    driver = start(pods, server, kubeconfig, tmp_path, program_task("error"))
    done = driver.until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.code == "USER:ValueError"
    assert done.error.message == "the user code failed"
    assert done.error.kind is ErrorKind.USER


def test_a_non_zero_exit_without_error_document_carries_the_last_log_lines(
    server, pods, kubeconfig, tmp_path
):
    driver = start(pods, server, kubeconfig, tmp_path, program_task("fail"), log_tail_lines=3)
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.kind is ErrorKind.USER
    assert done.error.code == "Error"
    assert "exited with code 3 (Error); last lines of its log:\n" in done.error.message
    assert done.error.message.endswith("noise line 28\nnoise line 29\nValueError: the last words")


def test_without_a_termination_message_the_log_tail_is_fetched(server, pods, kubeconfig, tmp_path):
    # terminationMessagePolicy File (set by the pod template) leaves the status without the log tail.
    template = {"spec": {"containers": [{"name": "primary", "terminationMessagePolicy": "File"}]}}
    task = program_task("fail")
    task.container.Clear()
    task.k8s_pod.pod_spec.update(
        {
            "containers": [
                {
                    "name": "main",
                    "image": "tests/image:1",
                    "command": list(program_task("fail").container.command),
                    "args": list(program_task("fail").container.args),
                    "terminationMessagePolicy": "File",
                }
            ]
        }
    )
    task.config["primary_container_name"] = "main"
    driver = start(pods, server, kubeconfig, tmp_path, task, log_tail_lines=2, pod_templates={"t": template})
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    pod = server.get("pods", NAMESPACE, driver.ctx.state["name"])
    assert "message" not in pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert done.error.message.endswith("last lines of its log:\nnoise line 29\nValueError: the last words")


def test_image_pull_back_off_waits_for_its_grace_period(server, pods, kubeconfig, tmp_path):
    server.kubelet.fail_image_pull("tests/missing:1")
    driver = start(
        pods,
        server,
        kubeconfig,
        tmp_path,
        program_task("nothing", image="tests/missing:1"),
        image_pull_backoff_grace_period="1h",
    )
    waiting = driver.until(lambda t: "ImagePullBackOff" in t.reason, "ImagePullBackOff")
    assert waiting.phase is TaskPhase.INITIALIZING
    assert 'Back-off pulling image "tests/missing:1"' in waiting.reason


def test_image_pull_back_off_past_its_grace_period_is_a_retryable_system_error(
    server, pods, kubeconfig, tmp_path
):
    server.kubelet.fail_image_pull("tests/missing:1")
    driver = start(
        pods,
        server,
        kubeconfig,
        tmp_path,
        program_task("nothing", image="tests/missing:1"),
        image_pull_backoff_grace_period=0,
    )
    done = driver.until(lambda t: t.phase.is_failure, "the pull to fail")
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.kind is ErrorKind.SYSTEM
    assert done.error.code in ("ErrImagePull", "ImagePullBackOff")
    assert "grace period" in done.error.message


def test_an_unschedulable_pod_waits_for_resources(server, pods, kubeconfig, tmp_path):
    server.kubelet.set_node(capacity={"cpu": "1", "memory": "1Gi", "pods": "10"})
    resources = tasks_pb2.Resources(
        requests=[tasks_pb2.Resources.ResourceEntry(name=tasks_pb2.Resources.CPU, value="4")]
    )
    driver = start(
        pods,
        server,
        kubeconfig,
        tmp_path,
        program_task("double", inputs=["x"], outputs=["o0"], resources=resources),
    )
    waiting = driver.until(lambda t: t.phase is TaskPhase.WAITING_FOR_RESOURCES, "Unschedulable")
    assert waiting.reason == "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."
    server.kubelet.set_node(capacity={"cpu": "8", "memory": "8Gi", "pods": "10"})
    assert driver.until_done().phase is TaskPhase.SUCCESS


def test_an_oom_killed_container_is_a_user_error_that_says_so(server, pods, kubeconfig, tmp_path):
    driver = start(pods, server, kubeconfig, tmp_path, program_task("sleep"))
    running(driver)
    server.kubelet.oom_kill(NAMESPACE, driver.ctx.state["name"])
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.code == "OOMKilled"
    assert done.error.kind is ErrorKind.USER
    assert (
        "was OOMKilled: it ran out of memory (memory limit of 1Gi); ask for more memory" in done.error.message
    )


@pytest.mark.parametrize("interruptible", [True, False])
def test_eviction_is_a_retryable_system_error(server, handler, kubeconfig, tmp_path, interruptible):
    ctx = make_context(tmp_path, program_task("sleep"), interruptible=interruptible)
    driver = Driver(handler, ctx)
    running(driver)
    server.kubelet.evict(NAMESPACE, driver.ctx.state["name"], "The node was low on resource: memory.")
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "Interrupted"
    kind = "interruptible " if interruptible else ""
    assert (
        f"the {kind}pod was interrupted: the pod was evicted: The node was low on resource: memory."
        in done.error.message
    )


def test_preemption_of_an_interruptible_pod_is_a_retryable_system_error(
    server, handler, kubeconfig, tmp_path
):
    ctx = make_context(tmp_path, program_task("sleep"), interruptible=True)
    driver = Driver(handler, ctx)
    running(driver)
    name = driver.ctx.state["name"]
    server.kubelet.preempt(NAMESPACE, name)
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "Interrupted"
    assert "PreemptionByScheduler" in done.error.message
    wait_until(lambda: server.get("pods", NAMESPACE, name) is None, "the preempted pod to go")


def test_a_pod_over_its_active_deadline_fails(server, pods, kubeconfig, tmp_path):
    task = program_task("sleep")
    task.metadata.timeout.FromTimedelta(timedelta(seconds=1))
    driver = start(pods, server, kubeconfig, tmp_path, task)
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.code == "DeadlineExceeded"
    assert "ran longer than its activeDeadlineSeconds (1s)" in done.error.message


def test_a_missing_secret_fails_after_its_grace_period(server, pods, kubeconfig, tmp_path):
    task = program_task("nothing")
    task.container.ClearField("env")
    template = {
        "spec": {
            "containers": [
                {
                    "name": "primary",
                    "env": [
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "token"}}}
                    ],
                }
            ]
        }
    }
    driver = start(pods, server, kubeconfig, tmp_path, task, default_pod_template=template)
    done = driver.until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.code == "CreateContainerConfigError"
    assert 'secret "absent" not found' in done.error.message


def test_a_pod_deleted_from_outside_is_a_system_error(server, pods, kubeconfig, tmp_path):
    driver = start(pods, server, kubeconfig, tmp_path, program_task("sleep"))
    running(driver)
    server.api.delete(server.api.resource_type("", "v1", "pods"), NAMESPACE, driver.ctx.state["name"], 0)
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "ResourceDeletedExternally"
