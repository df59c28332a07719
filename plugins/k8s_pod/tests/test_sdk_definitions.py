"""The SDK side's definitions: every error message, the kubernetes client's objects, the plugin entry point,
and what each side imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flyteidl.core import tasks_pb2
from google.protobuf.json_format import MessageToDict

from roost import task, workflow
from roost.errors import WorkflowDefinitionError
from roost.serialize import SerializationSettings, Serializer
from roost_k8s_pod import ContainerTask, Pod, PodTemplate
from roost_k8s_pod.sdk import PodTask


def refused(message: str):
    return pytest.raises(WorkflowDefinitionError, match="^" + message + "$")


def test_pod_template_errors() -> None:
    with refused(r"PodTemplate: primary_container_name must be a non-empty string, not ''"):
        PodTemplate(primary_container_name="")
    with refused(r"PodTemplate: labels must map strings to strings, not \{'a': 1\}"):
        PodTemplate(labels={"a": 1})  # type: ignore[dict-item]
    with refused(r"PodTemplate: annotations must map strings to strings, not \['x'\]"):
        PodTemplate(annotations=["x"])  # type: ignore[arg-type]
    with refused(
        r"PodTemplate: pod_spec must be a mapping \(the pod spec as Kubernetes JSON\) or a "
        r"kubernetes.client.V1PodSpec, not str"
    ):
        PodTemplate(pod_spec="containers: []")
    with refused(
        r"PodTemplate: pod_spec must hold only JSON values \(strings, numbers, booleans, lists, mappings\): "
        r"Object of type set is not JSON serializable"
    ):
        PodTemplate(pod_spec={"containers": [], "x": {1}})
    with refused(r"PodTemplate: pod_spec.containers must be a list, not \{'name': 'a'\}"):
        PodTemplate(pod_spec={"containers": {"name": "a"}})
    with refused(
        r"PodTemplate: pod_spec.containers\[1\] must be a mapping with a name, not \{'image': 'x'\}"
    ):
        PodTemplate(pod_spec={"containers": [{"name": "a"}, {"image": "x"}]})


def test_kubernetes_client_objects_are_read() -> None:
    from kubernetes.client import V1Container, V1EnvVar, V1PodSpec, V1Toleration

    spec = V1PodSpec(
        containers=[V1Container(name="primary", env=[V1EnvVar(name="A", value="1")])],
        tolerations=[V1Toleration(key="gpu", operator="Exists")],
    )
    assert PodTemplate(pod_spec=spec).spec() == {
        "containers": [{"name": "primary", "env": [{"name": "A", "value": "1"}]}],
        "tolerations": [{"key": "gpu", "operator": "Exists"}],
    }
    with refused(r"PodTemplate: pod_spec must be a V1PodSpec, not a V1Container"):
        PodTemplate(pod_spec=V1Container(name="x"))


def test_pod_config_errors() -> None:
    template = PodTemplate(primary_container_name="main", labels={"a": "1"})
    with refused(
        r"Pod: primary_container_name 'other' differs from the PodTemplate's 'main'; name the primary "
        r"container in one place"
    ):
        Pod(pod_template=template, primary_container_name="other")
    merged = Pod(pod_template=template, labels={"b": "2"}).template()
    assert (merged.primary_container_name, dict(merged.labels or {})) == ("main", {"a": "1", "b": "2"})
    assert Pod().template().spec() == {"containers": []}

    def fn(x: int) -> int:
        return x

    with refused(r"task 'fn': a pod task needs a Pod task_config, not str"):
        PodTask(fn, None, "not a pod")


def test_the_pod_config_makes_pod_tasks_through_the_plugin_entry_point() -> None:
    @task(task_config=Pod(primary_container_name="main"))
    def in_a_pod(x: int) -> int:
        return x

    assert isinstance(in_a_pod, PodTask)
    template = in_a_pod.template(SerializationSettings(image="img:1"))
    assert (template.type, template.task_type_version) == ("sidecar", 2)
    assert not template.HasField("container")
    assert template.config["primary_container_name"] == "main"
    (main,) = MessageToDict(template.k8s_pod.pod_spec)["containers"]
    assert (main["name"], main["image"], main["command"]) == ("main", "img:1", [])
    assert main["args"][0] == "roost-execute"


def container_task(**overrides: object) -> ContainerTask:
    arguments: dict[str, object] = {"name": "t", "image": "busybox", "command": ["true"], **overrides}
    return ContainerTask(**arguments)  # type: ignore[arg-type]


def test_container_task_errors() -> None:
    with refused(r"ContainerTask: name must be a non-empty string, not ''"):
        container_task(name="")
    with refused(r"ContainerTask 't': command must be a list of strings, not 'echo hi'"):
        container_task(command="echo hi")
    with refused(r"ContainerTask 't': arguments must be a list of strings, not \[1\]"):
        container_task(arguments=[1])
    from roost import Resources

    with refused(r"ContainerTask 't': give resources, or requests and limits, not both"):
        container_task(resources=Resources(cpu="1"), limits=Resources(cpu="2"))
    with refused(r"ContainerTask 't': pod_template must be a PodTemplate, not dict"):
        container_task(pod_template={"containers": []})
    with refused(r"ContainerTask 't': retries must be 0 or more, not -1"):
        container_task(retries=-1)
    with refused(
        r"ContainerTask 't': output 'many' is a list\[int\]; a container's outputs are read back from files, "
        r"which works for File, Directory and simple types \(int, float, str, bool, datetime, timedelta, dict\)"
    ):
        container_task(outputs={"many": list[int]})
    with refused(r"ContainerTask 't': input name 'a/b' cannot be a file name"):
        container_task(inputs={"a/b": int})
    with refused(r"ContainerTask 't': output name '..' cannot be a file name"):
        container_task(outputs={"..": int})
    with refused(
        r"ContainerTask 't': 'echo \{\{.inputs.y\}\}' uses \{\{.inputs.y\}\}, but there is no input 'y' "
        r"\(inputs: x\)"
    ):
        container_task(command=["sh", "-c", "echo {{.inputs.y}}"], inputs={"x": int})
    with refused(r"ContainerTask 't': input_data_dir must be an absolute path, not 'inputs'"):
        container_task(input_data_dir="inputs")
    with refused(
        r"ContainerTask 't': input_data_dir and output_data_dir are both '/data/'; they must differ"
    ):
        container_task(input_data_dir="/data/", output_data_dir="/data")


def test_container_task_options() -> None:
    from datetime import timedelta

    from roost import Secret

    io = container_task(
        io_strategy=ContainerTask.IOStrategy.DO_NOT_UPLOAD, metadata_format=ContainerTask.MetadataFormat.PROTO
    )
    config = io.data_config()
    assert config.io_strategy.upload_mode == tasks_pb2.IOStrategy.DO_NOT_UPLOAD
    assert config.format == tasks_pb2.DataLoadingConfig.PROTO
    stream = container_task(io_strategy=ContainerTask.IOStrategy.DOWNLOAD_STREAM).data_config()
    assert stream.io_strategy.download_mode == tasks_pb2.IOStrategy.DOWNLOAD_STREAM
    full = container_task(
        retries=2,
        timeout=timedelta(minutes=5),
        interruptible=True,
        cache=True,
        cache_version="1",
        secret_requests=[Secret(group="g", key="k")],
        docs="Does it.",
    )
    template = full.template(SerializationSettings())
    assert template.metadata.retries.retries == 2
    assert template.metadata.timeout.seconds == 300
    assert template.metadata.interruptible and template.metadata.discoverable
    assert template.metadata.discovery_version == "1"
    assert [s.group for s in template.security_context.secrets] == ["g"]
    assert full.label == "ContainerTask 't'" and full.__doc__ == "Does it."


def test_a_pod_template_override_must_be_a_pod_template() -> None:
    @task
    def step(x: int) -> int:
        return x

    @workflow
    def flow(x: int) -> int:
        return step(x=x).with_overrides(pod_template={"containers": []})

    with refused(
        r"task 'step': with_overrides\(pod_template=...\) takes a PodTemplate \(from roost_k8s_pod\), not dict"
    ):
        Serializer(SerializationSettings()).workflow(flow)


def test_an_override_needs_a_command_to_run() -> None:
    template = tasks_pb2.TaskTemplate(type="sidecar")
    template.id.name = "tasks.odd"
    template.config["primary_container_name"] = "main"
    with refused(
        r"task 'tasks.odd' has neither a container nor a primary container 'main' in a pod spec, so a "
        r"pod_template override has no command to run"
    ):
        PodTemplate().task_node_override(template)


def test_each_side_imports_only_its_own() -> None:
    code = (
        "import sys, roost.plugins.manager as m\n"
        "assert m.sdk_plugins().task_types()\n"  # loads roost_k8s_pod.sdk through its entry point
        "assert 'roost_k8s_pod.sdk' in sys.modules\n"
        "engine = [n for n in sys.modules if n.split('.')[0] == 'kubernetes' or n in (\n"
        "    'roost_k8s_pod.engine', 'roost_k8s_pod.pod', 'roost_k8s_pod.resource', 'roost_k8s_pod.kube')]\n"
        "assert not engine, engine\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    engine_only = (
        "import sys, roost_k8s_pod.engine\n"
        "from roost_core.plugins import EnginePlugins\n"
        "EnginePlugins([roost_k8s_pod.engine], entry_points=False).handler_registrations()\n"
        "assert not [n for n in sys.modules if n == 'roost' or n.startswith('roost.')], 'the SDK was imported'\n"
        "assert 'roost_k8s_pod.sdk' not in sys.modules and 'kubernetes' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", engine_only], check=True)
