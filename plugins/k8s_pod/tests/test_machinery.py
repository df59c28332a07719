"""The shared machinery against the test server: create once, watch, wake, abort, finalize, quotas, clusters."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from helpers import NAMESPACE, handler_config, make_context, program_task

from roost_core import hookimpl
from roost_core.errors import ErrorKind, SettingsError
from roost_core.handler import TaskPhase, Transition
from roost_core.testing.driver import WAIT_SECONDS, Driver, wait_until
from roost_core.testing.harness import build_handler
from roost_k8s_pod import AbortBehavior, K8sHandlerSettings, K8sResourceHandler, ResourceContext, ResourceKind
from roost_k8s_pod.testing import KubeTestServer, write_kubeconfig


def pod_creates(server: KubeTestServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path.endswith("/pods"))


def test_abort_mid_run_deletes_the_pod_and_stops_its_process(server, handler, kubeconfig, tmp_path):
    ctx = make_context(tmp_path, program_task("sleep"))
    driver = Driver(handler, ctx)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the pod to run")
    name = driver.ctx.state["name"]
    assert server.kubelet.container_running(NAMESPACE, name, name)
    driver.abort()
    wait_until(lambda: server.get("pods", NAMESPACE, name) is None, "the aborted pod to be deleted")
    assert not server.kubelet.container_running(NAMESPACE, name, name)
    assert [r.method for r in server.requests if r.path.endswith(f"/pods/{name}")].count("DELETE") >= 1


def test_a_restarted_engine_reattaches_through_the_informer_without_a_second_pod(
    server, pods, kubeconfig, tmp_path
):
    ctx = make_context(tmp_path, program_task("sleep"))
    first = pods.new(handler_config(kubeconfig))
    driver = Driver(first, ctx)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the pod to run")
    saved = dict(driver.ctx.state)
    first.close()  # the engine process ends; the pod keeps running
    assert set(saved) == {"cluster", "namespace", "name", "created"}

    second = pods.new(handler_config(kubeconfig))
    try:
        resumed = Driver(second, dataclasses.replace(ctx, state=saved))
        again = resumed.round()
        assert again.phase is TaskPhase.RUNNING
        wait_until(lambda: second.informers and second.informers[0].synced.is_set(), "the informer to sync")
        server.kubelet.oom_kill(NAMESPACE, saved["name"])
        assert resumed.woken.wait(WAIT_SECONDS), "the new informer did not wake the attempt"
        assert resumed.until_done().error.code == "OOMKilled"
    finally:
        second.close()
    assert pod_creates(server) == 1


def test_a_repeated_first_round_creates_no_duplicate(server, handler, kubeconfig, tmp_path):
    ctx = make_context(tmp_path, program_task("sleep"))
    first = handler.handle(ctx)  # the engine crashed before saving this round's state ...
    second = handler.handle(ctx)  # ... so the same first round runs again
    assert first.state["name"] == second.state["name"]
    assert second.phase in (TaskPhase.QUEUED, TaskPhase.INITIALIZING, TaskPhase.RUNNING)
    assert len(server.list_objects("pods", NAMESPACE)) == 1
    assert [r.status for r in server.requests if r.method == "POST" and r.path.endswith("/pods")] == [
        201,
        409,
    ]


def test_a_watch_event_wakes_the_execution_without_polling(server, pods, kubeconfig, tmp_path):
    handler = pods.handler(handler_config(kubeconfig, recheck_interval=3600))
    ctx = make_context(tmp_path, program_task("nothing"))
    woken = threading.Event()
    first = handler.handle(dataclasses.replace(ctx, notify=woken.set))
    assert first.wake_after == 3600
    # Nothing calls handle now: only the informer can tell the engine that the pod ran and finished.
    assert woken.wait(WAIT_SECONDS)
    wait_until(
        lambda: (
            (server.get("pods", NAMESPACE, first.state["name"]) or {}).get("status", {}).get("phase")
            == "Succeeded"
        ),
        "the pod to succeed",
    )
    done = Driver(handler, dataclasses.replace(ctx, state=first.state)).until_done()
    assert done.phase is TaskPhase.SUCCESS
    gets = [
        r for r in server.requests if r.method == "GET" and r.path.endswith(f"/pods/{first.state['name']}")
    ]
    assert gets == []  # everything came from the watch cache


def test_an_exceeded_quota_waits_for_resources_with_the_reason(server, handler, kubeconfig, tmp_path):
    server.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "pods", "namespace": NAMESPACE},
            "spec": {"hard": {"pods": "1"}},
        }
    )
    busy = Driver(handler, make_context(tmp_path, program_task("sleep"), execution="busy"))
    busy.until(lambda t: t.phase is TaskPhase.RUNNING, "the first pod to run")
    waiting = Driver(handler, make_context(tmp_path, program_task("nothing"), execution="late"))
    refused = waiting.round()
    assert refused.phase is TaskPhase.WAITING_FOR_RESOURCES
    assert refused.reason.startswith(
        'Exceeded resourcequota: pods "late-n0-0" is forbidden: exceeded quota: pods, '
    )
    assert "requested: pods=1, used: pods=1, limited: pods=1" in refused.reason
    assert refused.wake_after == 2.0
    assert waiting.round().wake_after == 4.0  # backing off
    quotas = server.api.resource_type("", "v1", "resourcequotas")
    assert server.api.get(quotas, NAMESPACE, "pods")["status"] == {
        "hard": {"pods": "1"},
        "used": {"pods": "1"},
    }
    busy.abort()
    wait_until(lambda: server.get("pods", NAMESPACE, busy.ctx.state["name"]) is None, "the first pod to go")
    assert waiting.until_done().phase is TaskPhase.SUCCESS


def test_a_request_larger_than_the_quota_fails_for_good(server, handler, kubeconfig, tmp_path):
    server.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "cpu", "namespace": NAMESPACE},
            "spec": {"hard": {"requests.cpu": "100m"}},
        }
    )
    done = handler.handle(make_context(tmp_path, program_task("nothing")))
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.code == "ResourceRequestsExceedLimits"
    assert (
        "requested: requests.cpu=500m, used: requests.cpu=0, limited: requests.cpu=100m" in done.error.message
    )


def test_the_execution_cluster_label_selects_the_cluster(tmp_path, pods):
    with KubeTestServer(kubelet=True) as east, KubeTestServer(kubelet=True) as west:
        for server in (east, west):
            server.create_namespace(NAMESPACE)
        path = write_kubeconfig(tmp_path / "kubeconfig", {"east-ctx": east, "west-ctx": west})
        config = handler_config(
            clusters={
                "east": {"kubeconfig": str(path), "context": "east-ctx"},
                "west": {"kubeconfig": str(path), "context": "west-ctx"},
            },
            default_cluster="east",
            cluster_label="roost/cluster",
        )
        handler = pods.handler(config)
        ctx = make_context(tmp_path, program_task("nothing"), labels={"roost/cluster": "west"})
        done = Driver(handler, ctx).until_done()
        assert done.phase is TaskPhase.SUCCESS
        assert done.state["cluster"] == "west"
        assert len(west.list_objects("pods", NAMESPACE)) == 1
        assert east.list_objects("pods", NAMESPACE) == []
        unlabelled = make_context(tmp_path, program_task("nothing"), execution="other")
        assert Driver(handler, unlabelled).until_done().state["cluster"] == "east"
        unknown = make_context(tmp_path, program_task("nothing"), labels={"roost/cluster": "north"})
        refused = handler.handle(unknown)
        assert refused.phase is TaskPhase.PERMANENT_FAILURE
        assert refused.error.message == (
            "task 'tests.my_task': the execution's label 'roost/cluster' names cluster 'north', which is not "
            "configured; configured clusters: east, west"
        )


def test_log_links_come_from_the_templates(server, pods, kubeconfig, tmp_path):
    links = [
        {
            "name": "Kubernetes",
            "template": "https://logs/{{ .namespace }}/{{ .podName }}/{{.containerName}}?"
            "attempt={{ .taskRetryAttempt }}&unknown={{ .nope }}",
        }
    ]
    handler = pods.handler(handler_config(kubeconfig, log_links=links))
    ctx = make_context(tmp_path, program_task("nothing"))
    done = Driver(handler, ctx).until_done()
    assert [(log.name, log.uri) for log in done.logs] == [
        ("Kubernetes", f"https://logs/{NAMESPACE}/exec1-n0-0/exec1-n0-0?attempt=0&unknown={{{{ .nope }}}}")
    ]


@pytest.mark.parametrize(("keep", "kept"), [(False, False), (True, True)])
def test_finalize_deletes_failed_pods_unless_configured_to_keep_them(
    server, pods, kubeconfig, tmp_path, keep, kept
):
    handler = pods.handler(handler_config(kubeconfig, keep_failed_resources=keep))
    ctx = make_context(tmp_path, program_task("fail"))
    driver = Driver(handler, ctx)
    assert driver.until_done().phase is TaskPhase.RETRYABLE_FAILURE
    handler.finalize(driver.ctx)
    name = driver.ctx.state["name"]
    if kept:
        assert server.get("pods", NAMESPACE, name)["status"]["phase"] == "Failed"
    else:
        wait_until(lambda: server.get("pods", NAMESPACE, name) is None, "the failed pod to be deleted")


def test_finalize_deletes_succeeded_pods(server, pods, kubeconfig, tmp_path):
    handler = pods.handler(handler_config(kubeconfig, keep_failed_resources=True))
    ctx = make_context(tmp_path, program_task("nothing"))
    driver = Driver(handler, ctx)
    assert driver.until_done().phase is TaskPhase.SUCCESS
    handler.finalize(driver.ctx)
    wait_until(
        lambda: server.get("pods", NAMESPACE, driver.ctx.state["name"]) is None, "the pod to be deleted"
    )


def test_the_informer_relists_after_410_gone_and_keeps_waking(pods, tmp_path):
    # Without bookmarks the informer resumes from its last event's resource version, which the compaction
    # below makes too old: the server answers 410 Gone and the informer must list again.
    with KubeTestServer(kubelet=True, bookmark_interval=3600) as server:
        server.create_namespace(NAMESPACE)
        config = handler_config(server.write_kubeconfig(tmp_path / "kubeconfig"))
        handler = pods.handler(config)
        driver = Driver(handler, make_context(tmp_path, program_task("sleep")))
        driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the pod to run")
        informer = handler.informers[0]
        lists = informer.lists
        server.create_namespace("unrelated")  # a change the informer does not see
        server.compact()
        server.close_watches()
        wait_until(lambda: informer.lists > lists, "the informer to list again after 410 Gone")
        assert any(r.query.get("watch") == "true" and r.query.get("resourceVersion") for r in server.requests)
        driver.woken.clear()
        server.kubelet.oom_kill(NAMESPACE, driver.ctx.state["name"])
        assert driver.woken.wait(WAIT_SECONDS)
        assert driver.until_done().error.code == "OOMKilled"


def test_a_pod_the_api_server_refuses_is_a_permanent_user_error(server, handler, kubeconfig, tmp_path):
    ctx = make_context(tmp_path, program_task("nothing"), labels={"team": "not valid!"})
    done = handler.handle(ctx)
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.code == "BadTaskFormat"
    assert done.error.kind is ErrorKind.USER
    assert 'Pod "exec1-n0-0" is invalid: metadata.labels: Invalid value: "not valid!"' in done.error.message


def test_a_missing_namespace_is_a_retryable_system_error(k8s_server, handler, kubeconfig, tmp_path):
    done = handler.handle(make_context(tmp_path, program_task("nothing")))
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.kind is ErrorKind.SYSTEM
    assert done.error.code == "NamespaceNotFound"
    assert 'namespaces "proj-dev" not found' in done.error.message


def test_an_unreachable_cluster_is_retried_then_fails(pods, tmp_path):
    with KubeTestServer() as gone:
        path = gone.write_kubeconfig(tmp_path / "kubeconfig")
    config = handler_config(path, max_api_failures=1, request_timeout=2)
    handler = pods.handler(config)
    driver = Driver(handler, make_context(tmp_path, program_task("nothing")))
    first = driver.round()
    assert first.phase is TaskPhase.NOT_READY
    assert "the Kubernetes API of cluster 'default' failed" in first.reason
    second = driver.round()
    assert second.phase is TaskPhase.RETRYABLE_FAILURE
    assert second.error.kind is ErrorKind.SYSTEM
    assert second.error.code == "KubernetesUnavailable"
    assert "(2 failures in a row)" in second.error.message


def test_a_bad_setting_fails_building_the_handler_naming_the_key(pods):
    with pytest.raises(SettingsError) as raised:
        pods.handler({"kubernetes": {"namespace_tmplate": "x"}})
    assert str(raised.value).startswith(
        "engine.handlers.k8s-pod.kubernetes.namespace_tmplate: unknown key; known: active_deadline, "
    )


def test_a_namespace_template_giving_a_bad_name_fails(pods, tmp_path):
    handler = pods.handler(handler_config(namespace_template="{project}_{domain}"))
    done = handler.handle(make_context(tmp_path, program_task("nothing")))
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.message == (
        "task 'tests.my_task': namespace_template '{project}_{domain}' gives 'proj_dev', which is not a valid "
        "namespace name (a DNS-1123 label)"
    )


class ConfigMapJob(K8sResourceHandler):
    """A plugin over the machinery: a ConfigMap as 'the job', a Secret as an extra, aborted by a patch."""

    resource_kind = ResourceKind("v1", "ConfigMap", "configmaps")

    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "data": {"state": "running"}}

    def extra_resources(self, ctx: ResourceContext) -> list[dict[str, Any]]:
        return [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{ctx.name}-creds"},
                "stringData": {"token": "t"},
            }
        ]

    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
        state = obj.get("data", {}).get("state")
        if state == "done":
            return Transition.success()
        if state == "stopped":
            return Transition.failure("Stopped", "stopped")
        return Transition.running()

    def abort_behavior(self, ctx: ResourceContext) -> AbortBehavior:
        return AbortBehavior(patch={"data": {"state": "stopped"}})


class ConfigMapJobs:
    """Registers ConfigMapJob as a plugin on the toolkit does: its class is the factory, the shared settings
    its settings."""

    @hookimpl
    def roost_task_handlers(self, register):
        register(
            "configmap-job",
            ConfigMapJob,
            task_types=["configmap-job"],
            default=True,
            settings=K8sHandlerSettings,
        )


def test_a_plugin_gets_extras_created_first_and_an_abort_patch(server, kubeconfig, tmp_path):
    plugin = build_handler(
        [ConfigMapJobs()], "configmap-job", shared={"kubernetes": handler_config(kubeconfig)["kubernetes"]}
    )
    assert isinstance(plugin, ConfigMapJob)
    try:
        ctx = make_context(tmp_path, program_task("nothing"))
        driver = Driver(plugin, ctx)
        assert driver.round().phase is TaskPhase.RUNNING
        name = driver.ctx.state["name"]
        secret = server.get("secrets", NAMESPACE, f"{name}-creds")
        assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "roost"
        plugin.abort(driver.ctx)
        assert server.get("configmaps", NAMESPACE, name)["data"] == {"state": "stopped"}
        assert driver.round().error.code == "Stopped"
        plugin.finalize(driver.ctx)
        assert server.get("configmaps", NAMESPACE, name) is None
        assert server.get("secrets", NAMESPACE, f"{name}-creds") is None
    finally:
        plugin.close()


def test_objects_carry_the_identity_labels_and_annotations(server, pods, kubeconfig, tmp_path):
    config = handler_config(kubeconfig, default_labels={"team": "ml"}, default_annotations={"owner": "me"})
    handler = pods.handler(config)
    ctx = make_context(tmp_path, program_task("sleep"), labels={"purpose": "test"}, interruptible=True)
    name = handler.handle(ctx).state["name"]
    metadata = server.get("pods", NAMESPACE, name)["metadata"]
    assert metadata["labels"] == {
        "team": "ml",
        "purpose": "test",
        "execution-id": "exec1",
        "project": "proj",
        "domain": "dev",
        "workflow-name": "tests-wf",
        "node-id": "n0",
        "task-name": "tests-my-task",
        "interruptible": "true",
        "app.kubernetes.io/managed-by": "roost",
    }
    assert metadata["annotations"] == {
        "owner": "me",
        "roost.io/execution": "proj/dev/exec1",
        "roost.io/node-id": "n0",
        "roost.io/task": "proj/dev/tests.my_task/v7",
        "roost.io/attempt": "0",
        "primary_container_name": name,
    }
    handler.abort(ctx)
