"""ContainerTasks (raw containers with a data_config) as pods: the copilot init container and sidecar.

The pods are admitted by the test server against the real Pod schema. The test server's kubelet runs
only a pod's primary container (no init containers, no sidecars), so these tests play the kubelet's
part for the copilot: they run the admitted pod's containers as local processes in Kubernetes' order
(the uploader sidecar first and waiting, the downloader to completion, the primary container, then
SIGTERM to the sidecar) and report their states in the pod's status, which the handler maps. The two
data folders are absolute paths under the test's folder, so the processes share them as the pod's
containers share their emptyDir volumes.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import PodHandlers
from flyteidl.core import interface_pb2, literals_pb2
from helpers import NAMESPACE, handler_config, make_context

from roost.serialize import SerializationSettings, Serializer
from roost.types import File
from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.testing.driver import WAIT_SECONDS, Driver
from roost_k8s_pod import ContainerTask, PodTemplate
from roost_k8s_pod.testing import KubeTestServer

COPILOT = [sys.executable, "-m", "roost_k8s_pod.copilot"]
SCRIPT = (
    "import pathlib, sys; d = pathlib.Path(sys.argv[1]); o = pathlib.Path(sys.argv[2]); "
    "text = (d / 'text').read_text(); times = int((d / 'times').read_text()); "
    "(o / 'words').write_text(str(len(text.split()) * times)); (o / 'shout').write_text(text.upper())"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KubeTestServer]:
    """A test server without a kubelet: the tests run the pods' containers themselves."""
    with KubeTestServer() as test_server:
        test_server.create_namespace(NAMESPACE)
        yield test_server


def word_count(tmp_path: Path, script: str = SCRIPT, **options: Any) -> ContainerTask:
    inputs, outputs = tmp_path / "pod-inputs", tmp_path / "pod-outputs"
    return ContainerTask(
        name="word_count",
        image="python:3.11-slim",
        command=[sys.executable, "-c", script, str(inputs), str(outputs)],
        inputs={"text": File, "times": int},
        outputs={"words": int, "shout": File},
        input_data_dir=str(inputs),
        output_data_dir=str(outputs),
        **options,
    )


def first_round(
    tmp_path: Path, server: KubeTestServer, pods: PodHandlers, task: ContainerTask, text: Path
) -> tuple[Driver, dict[str, Any]]:
    """Create the attempt's pod; its inputs are ``text`` and times=3."""
    template = Serializer(SerializationSettings(project="proj", domain="dev", version="v1")).task(task)
    config = handler_config(
        server.write_kubeconfig(tmp_path / "kubeconfig"),
        copilot_image="roost/copilot:1",
        copilot_command=COPILOT,
        task_environment={"env": {"COPILOT_TEST": "1"}},
    )
    handler = pods.handler(config)
    ctx = make_context(tmp_path, template)
    file_literal = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(uri=text.as_uri(), metadata=literals_pb2.BlobMetadata())
        )
    )
    times = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=3)))
    ctx.storage.write_proto(
        ctx.inputs_uri, literals_pb2.LiteralMap(literals={"text": file_literal, "times": times})
    )
    for volume in ("pod-inputs", "pod-outputs"):
        (tmp_path / volume).mkdir()  # the pod's emptyDir volumes, which the kubelet would mount
    driver = Driver(handler, ctx)
    transition = driver.round()
    assert not transition.phase.is_terminal, transition.error
    pod = server.get("pods", NAMESPACE, transition.state["name"])
    assert pod is not None
    return driver, pod


@pytest.fixture
def start() -> Iterator[Any]:
    """Starts a container's process as the kubelet would (command + args, its plain env values); whatever
    is still running after the test is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def run(container: Mapping[str, Any]) -> subprocess.Popen[bytes]:
        env = {e["name"]: e["value"] for e in container.get("env") or () if "value" in e}
        env.update({name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ})
        argv = [*container["command"], *container.get("args", [])]
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def terminated(name: str, code: int) -> dict[str, Any]:
    return {
        "name": name,
        "image": "x",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}},
    }


def test_the_pod_of_a_container_task(tmp_path: Path, server: KubeTestServer, pods: PodHandlers) -> None:
    (tmp_path / "text.txt").write_text("a b")
    driver, pod = first_round(tmp_path, server, pods, word_count(tmp_path), tmp_path / "text.txt")
    spec = pod["spec"]
    uploader, downloader = spec["initContainers"]
    (primary,) = spec["containers"]
    ctx = driver.ctx
    assert uploader["name"] == "roost-copilot-uploader" and uploader["restartPolicy"] == "Always"
    assert downloader["name"] == "roost-copilot-downloader" and "restartPolicy" not in downloader
    assert downloader["command"] == uploader["command"] == COPILOT
    assert downloader["args"] == [
        "download",
        "--inputs",
        ctx.inputs_uri,
        "--output-prefix",
        ctx.output_prefix,
        "--to-local-dir",
        str(tmp_path / "pod-inputs"),
        "--format",
        "JSON",
    ]
    interface = interface_pb2.TypedInterface.FromString(base64.b64decode(uploader["args"][8]))
    assert interface == ctx.task.interface
    assert uploader["args"][:8] == [
        "upload",
        "--output-prefix",
        ctx.output_prefix,
        "--raw-output-prefix",
        ctx.raw_output_prefix,
        "--from-local-dir",
        str(tmp_path / "pod-outputs"),
        "--interface",
    ]
    assert uploader["args"][9:] == ["--wait-for-sigterm", "--timeout", "3600"]
    for copilot in (uploader, downloader):
        assert copilot["image"] == "roost/copilot:1"
        assert copilot["resources"] == {
            "requests": {"cpu": "500m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        }
        assert {"name": "COPILOT_TEST", "value": "1"} in copilot["env"]
    assert spec["volumes"] == [
        {"name": "roost-inputs", "emptyDir": {}},
        {"name": "roost-outputs", "emptyDir": {}},
    ]
    assert primary["volumeMounts"] == [
        {"name": "roost-inputs", "mountPath": str(tmp_path / "pod-inputs")},
        {"name": "roost-outputs", "mountPath": str(tmp_path / "pod-outputs")},
    ]
    assert primary["image"] == "python:3.11-slim"
    assert spec["terminationGracePeriodSeconds"] == 3600


def test_without_inputs_or_outputs_there_is_no_copilot_for_them(
    tmp_path: Path, server: KubeTestServer, pods
) -> None:
    template = Serializer(SerializationSettings(project="proj", domain="dev")).task(
        ContainerTask(name="quiet", image="busybox", command=["true"], outputs={"y": int})
    )
    config = handler_config(server.write_kubeconfig(tmp_path / "kubeconfig"), copilot_image="c:1")
    handler = pods.handler(config)
    transition = Driver(handler, make_context(tmp_path, template)).round()
    spec = server.get("pods", NAMESPACE, transition.state["name"])["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["roost-copilot-uploader"]
    assert spec["volumes"] == [{"name": "roost-outputs", "emptyDir": {}}]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": "roost-outputs", "mountPath": "/var/flyte/outputs"}
    ]

    nothing = Serializer(SerializationSettings(project="proj", domain="dev")).task(
        ContainerTask(
            name="nothing",
            image="busybox",
            command=["true"],
            pod_template=PodTemplate(primary_container_name="main"),
        )
    )
    transition = Driver(handler, make_context(tmp_path, nothing, execution="exec2")).round()
    spec = server.get("pods", NAMESPACE, transition.state["name"])["spec"]
    assert "initContainers" not in spec and "volumes" not in spec
    assert [c["name"] for c in spec["containers"]] == ["main"]


def test_a_container_task_runs_in_its_pod(
    tmp_path: Path, server: KubeTestServer, pods: PodHandlers, start: Any
) -> None:
    (tmp_path / "text.txt").write_text("the quick brown fox")
    driver, pod = first_round(tmp_path, server, pods, word_count(tmp_path), tmp_path / "text.txt")
    namespace, name = NAMESPACE, pod["metadata"]["name"]
    uploader_spec, downloader_spec = pod["spec"]["initContainers"]
    uploader = start(uploader_spec)
    assert start(downloader_spec).wait(WAIT_SECONDS) == 0
    assert start(pod["spec"]["containers"][0]).wait(WAIT_SECONDS) == 0
    primary = pod["spec"]["containers"][0]["name"]
    server.set_status(
        "pods",
        namespace,
        name,
        {
            "phase": "Running",
            "initContainerStatuses": [
                {**terminated("roost-copilot-uploader", 0), "state": {"running": {}}},
                terminated("roost-copilot-downloader", 0),
            ],
            "containerStatuses": [terminated(primary, 0)],
        },
    )
    waiting = driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the handler to see the exit")
    assert waiting.phase is TaskPhase.RUNNING
    assert (
        waiting.reason
        == f"container {primary!r} exited; waiting for roost-copilot-uploader to read its outputs"
    )
    uploader.send_signal(signal.SIGTERM)  # Kubernetes stops the sidecars once the primary container exited
    assert uploader.wait(WAIT_SECONDS) == 0
    server.set_status(
        "pods",
        namespace,
        name,
        {
            "phase": "Succeeded",
            "initContainerStatuses": [
                terminated("roost-copilot-uploader", 0),
                terminated("roost-copilot-downloader", 0),
            ],
            "containerStatuses": [terminated(primary, 0)],
        },
    )
    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    outputs = driver.ctx.storage.read_proto(driver.ctx.outputs_uri, literals_pb2.LiteralMap)
    assert outputs.literals["words"].scalar.primitive.integer == 12
    shout = outputs.literals["shout"].scalar.blob.uri
    assert driver.ctx.storage.read(shout) == b"THE QUICK BROWN FOX"


def test_the_task_fails_with_its_error_file(
    tmp_path: Path, server: KubeTestServer, pods: PodHandlers, start: Any
) -> None:
    (tmp_path / "text.txt").write_text("x")
    script = "import pathlib, sys; pathlib.Path(sys.argv[2], '_ERROR').write_text('times must be even'); sys.exit(1)"
    driver, pod = first_round(tmp_path, server, pods, word_count(tmp_path, script), tmp_path / "text.txt")
    uploader_spec, downloader_spec = pod["spec"]["initContainers"]
    uploader = start(uploader_spec)
    assert start(downloader_spec).wait(WAIT_SECONDS) == 0
    assert start(pod["spec"]["containers"][0]).wait(WAIT_SECONDS) == 1
    uploader.send_signal(signal.SIGTERM)
    assert uploader.wait(WAIT_SECONDS) == 0
    primary = pod["spec"]["containers"][0]["name"]
    server.set_status(
        "pods",
        NAMESPACE,
        pod["metadata"]["name"],
        {
            "phase": "Failed",
            "initContainerStatuses": [
                terminated("roost-copilot-uploader", 0),
                terminated("roost-copilot-downloader", 0),
            ],
            "containerStatuses": [terminated(primary, 1)],
        },
    )
    done = driver.until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None
    assert (done.error.code, done.error.message, done.error.kind) == (
        "OutputUploadFailed",
        "User Error: times must be even",
        ErrorKind.USER,
    )


def test_an_input_the_downloader_cannot_fetch(
    tmp_path: Path, server: KubeTestServer, pods: PodHandlers, start: Any
) -> None:
    driver, pod = first_round(tmp_path, server, pods, word_count(tmp_path), tmp_path / "missing.txt")
    downloader_spec = pod["spec"]["initContainers"][1]
    assert start(downloader_spec).wait(WAIT_SECONDS) == 1  # so the primary container never starts
    server.set_status(
        "pods",
        NAMESPACE,
        pod["metadata"]["name"],
        {"phase": "Failed", "initContainerStatuses": [terminated("roost-copilot-downloader", 1)]},
    )
    done = driver.until_done()
    assert done.error is not None
    assert (done.error.code, done.error.kind) == ("InputDownloadFailed", ErrorKind.SYSTEM)
    assert done.error.message.startswith(
        f"input 'text': cannot copy {(tmp_path / 'missing.txt').as_uri()!r} to "
    )
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
