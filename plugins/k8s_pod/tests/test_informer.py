"""Informers against the test server: list, watch, tombstones, and objects newer than a list."""

from __future__ import annotations

import threading

import kubernetes
import pytest
from helpers import NAMESPACE, handler_config, make_context, program_task

from roost_core.handler import TaskPhase
from roost_core.testing.driver import WAIT_SECONDS, Driver, wait_until
from roost_k8s_pod import POD
from roost_k8s_pod.informer import Informer
from roost_k8s_pod.kube import KubeClient


@pytest.fixture
def client(kubeconfig):
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    yield KubeClient(api_client, timeout=10)
    api_client.close()


def informer_for(client: KubeClient) -> Informer:
    return Informer(
        client, POD, NAMESPACE, label_selector="app=x", resync_interval=600, watch_timeout=60, name="t"
    )


def labelled_pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "i", "command": ["true"]}]},
    }


def test_changes_reach_the_subscriber_and_deletions_leave_a_tombstone(server, client):
    informer = informer_for(client)
    try:
        assert informer.synced.wait(WAIT_SECONDS)
        changed = threading.Event()
        informer.subscribe(NAMESPACE, "p", changed.set)
        server.create(labelled_pod("p"))
        assert changed.wait(WAIT_SECONDS)
        wait_until(lambda: informer.get(NAMESPACE, "p"), "the pod in the cache")
        changed.clear()
        server.api.delete(server.api.resource_type("", "v1", "pods"), NAMESPACE, "p", 0)
        assert changed.wait(WAIT_SECONDS)
        tombstone = wait_until(
            lambda: informer.get(NAMESPACE, "p").deleted and informer.get(NAMESPACE, "p"), "a tombstone"
        )
        assert tombstone.obj["metadata"]["name"] == "p"
        informer.unsubscribe(NAMESPACE, "p")
        assert informer.get(NAMESPACE, "p") is None
    finally:
        informer.close()


def test_a_relist_keeps_objects_newer_than_the_list(server, client):
    informer = informer_for(client)
    try:
        assert informer.synced.wait(WAIT_SECONDS)
        # An object the handler just created and put() into the cache, which the list did not contain yet.
        informer.put({"metadata": {"namespace": NAMESPACE, "name": "fresh", "resourceVersion": "999999"}})
        informer.subscribe(NAMESPACE, "fresh", lambda: None)
        lists = informer.lists
        server.create_namespace("bump")
        server.compact()
        server.close_watches()
        wait_until(lambda: informer.lists > lists, "a relist")
        assert not informer.get(NAMESPACE, "fresh").deleted
    finally:
        informer.close()


def test_one_informer_for_all_namespaces(server, pods, kubeconfig, tmp_path):
    handler = pods.handler(handler_config(kubeconfig, informer_scope="cluster"))
    ctx = make_context(tmp_path, program_task("nothing"))
    assert Driver(handler, ctx).until_done().phase is TaskPhase.SUCCESS
    watches = {r.path for r in server.requests if r.query.get("watch") == "true"}
    assert watches == {"/api/v1/pods"}
