"""The test server's kubelet: scheduling, the primary container as a process, its environment and logs."""

from __future__ import annotations

import sys

import kubernetes
import pytest

from roost_core.testing.driver import wait_until
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer

PRINT_ENV = "import os; print(' '.join(f'{k}={os.environ.get(k)}' for k in ('TOKEN', 'MODE', 'POD', 'GREETING', 'P_KEY')))"


def pod(name: str, *, code: str = "print('hi')", **spec: object) -> dict:
    container = {"name": "main", "image": "tests/image:1", "command": [sys.executable, "-c", code]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


def phase(server: KubeTestServer, name: str) -> str:
    return (server.get("pods", "default", name) or {}).get("status", {}).get("phase", "")


def test_the_environment_is_resolved_from_the_pod_spec(k8s_server):
    k8s_server.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "stringData": {"token": "s3cret"},
        }
    )
    k8s_server.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"KEY": "from-config-map"},
        }
    )
    env = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "MODE", "value": "fast"},
        {"name": "GREETING", "value": "$(MODE) mode"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    k8s_server.create(
        pod(
            "envy",
            code=PRINT_ENV,
            container={"env": env, "envFrom": [{"prefix": "P_", "configMapRef": {"name": "cfg"}}]},
        )
    )
    wait_until(lambda: phase(k8s_server, "envy") == "Succeeded", "the pod to finish")
    log = k8s_server.kubelet.log_path("default", "envy", "main").read_text()
    assert log == "TOKEN=s3cret MODE=fast POD=envy GREETING=fast mode P_KEY=from-config-map\n"


def test_a_failing_container_reports_its_exit_code_and_log_tail(k8s_server):
    code = "import sys; print('bad things'); sys.exit(4)"
    k8s_server.create(pod("boom", code=code, container={"terminationMessagePolicy": "FallbackToLogsOnError"}))
    wait_until(lambda: phase(k8s_server, "boom") == "Failed", "the pod to fail")
    terminated = k8s_server.get("pods", "default", "boom")["status"]["containerStatuses"][0]["state"][
        "terminated"
    ]
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (
        4,
        "Error",
        "bad things\n",
    )


def test_logs_can_be_followed_with_the_real_client(k8s_server, kubeconfig):
    code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.2)"
    k8s_server.create(pod("chatty", code=code))
    wait_until(lambda: k8s_server.kubelet.log_path("default", "chatty", "main"), "the container to start")
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        core = kubernetes.client.CoreV1Api(client)
        stream = core.read_namespaced_pod_log("chatty", "default", follow=True, _preload_content=False)
        assert stream.read() == b"0\n1\n2\n"
    finally:
        client.close()


def test_deleting_a_running_pod_stops_its_process_first(k8s_server):
    k8s_server.create(pod("long", code="import time; time.sleep(3600)"))
    wait_until(
        lambda: k8s_server.kubelet.container_running("default", "long", "main"), "the process to start"
    )
    pods = k8s_server.api.resource_type("", "v1", "pods")
    deleting = k8s_server.api.delete(pods, "default", "long")
    assert "deletionTimestamp" in deleting["metadata"]
    wait_until(lambda: k8s_server.get("pods", "default", "long") is None, "the pod to go")
    assert not k8s_server.kubelet.container_running("default", "long", "main")


def test_node_selectors_and_taints_decide_where_pods_fit(tmp_path):
    options = KubeletOptions(
        labels={"pool": "cpu"},
        taints=[{"key": "dedicated", "value": "roost", "effect": "NoSchedule"}],
        work_dir=tmp_path,
    )
    with KubeTestServer(kubelet=options) as server:
        server.create(
            pod(
                "wrong-pool",
                nodeSelector={"pool": "gpu"},
                tolerations=[{"key": "dedicated", "operator": "Exists"}],
            )
        )
        server.create(pod("intolerant"))
        server.create(pod("fits", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "roost"}]))
        wait_until(lambda: phase(server, "fits") == "Succeeded", "the fitting pod to run")

        def scheduling(name: str) -> str:
            conditions = server.get("pods", "default", name)["status"].get("conditions", [])
            return next((c["message"] for c in conditions if c["type"] == "PodScheduled"), "")

        wait_until(lambda: scheduling("intolerant"), "the scheduler's verdict")
        assert (
            scheduling("wrong-pool")
            == "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
        )
        assert (
            scheduling("intolerant")
            == "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: roost}."
        )
        server.kubelet.set_node(labels={"pool": "gpu"})
        wait_until(lambda: phase(server, "wrong-pool") == "Succeeded", "the pod to fit the changed node")


def test_a_container_without_a_command_waits_in_create_container_error(k8s_server):
    body = pod("no-command")
    del body["spec"]["containers"][0]["command"]
    k8s_server.create(body)

    def waiting() -> dict:
        statuses = k8s_server.get("pods", "default", "no-command")["status"].get("containerStatuses", [])
        return statuses[0]["state"].get("waiting", {}) if statuses else {}

    wait_until(lambda: waiting().get("reason") == "CreateContainerError", "CreateContainerError")
    assert "no command and no entrypoint is configured for the image" in waiting()["message"]


def test_hooks_refuse_pods_that_do_not_run(k8s_server):
    with pytest.raises(LookupError, match="pod default/ghost has no running process on the test node"):
        k8s_server.kubelet.oom_kill("default", "ghost")
