"""Pod configs, PodTemplates and ContainerTasks serialize as flytekit 1.16 (and its Pod plugin) serialize them.

flytekit runs in its own virtualenv (``flytekit_pod_side.py``) on the same definitions as ``sdk_tasks.py``;
the TaskTemplates and the overridden node are compared field by field. What legitimately differs is
removed first, each with its reason: ids (module names), the runtime metadata (which SDK), and the
Python entrypoint of Python tasks (``pyflyte-execute ... --resolver`` against ``roost-execute ...``),
whose container-contract arguments are checked to be the same.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import sdk_tasks
from flyteidl.core import tasks_pb2, workflow_pb2
from google.protobuf.json_format import MessageToDict

from roost.serialize import SerializationSettings, Serializer

HERE = Path(__file__).parent
CONTRACT = [
    "--inputs",
    "{{.input}}",
    "--output-prefix",
    "{{.outputPrefix}}",
    "--raw-output-data-prefix",
    "{{.rawOutputDataPrefix}}",
    "--checkpoint-path",
    "{{.checkpointOutputPrefix}}",
    "--prev-checkpoint",
    "{{.prevCheckpointPrefix}}",
]


@pytest.fixture(scope="module")
def flytekit_out(flytekit_python: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flytekit-pod")
    run = subprocess.run(
        [flytekit_python, str(HERE / "flytekit_pod_side.py"), str(out)],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "FLYTE_SDK_LOGGING_LEVEL": "40", "HOME": str(out)},
    )
    if run.returncode != 0:
        pytest.fail(
            f"flytekit_pod_side.py failed ({run.returncode}):\n{run.stdout}\n{run.stderr}", pytrace=False
        )
    return out


@pytest.fixture(scope="module")
def serializer() -> Serializer:
    return Serializer(
        SerializationSettings(project="proj", domain="dev", version="v1", image="tests/image:1")
    )


def comparable(template: tasks_pb2.TaskTemplate) -> dict[str, Any]:
    """The template as JSON without what legitimately differs between the SDKs."""
    data = MessageToDict(template)
    data.pop("id")
    metadata = data.pop("metadata")
    data["pod_template_name"] = metadata.get("podTemplateName", "")
    for container in (data.get("k8sPod") or {}).get("podSpec", {}).get("containers", []):
        args = container.get("args") or []
        if args[:1] in (["pyflyte-execute"], ["roost-execute"]):
            assert args[1:11] == CONTRACT, args
            container["args"] = ["<python entrypoint>", *CONTRACT]
    return data


def flytekit_task(out: Path, name: str) -> tasks_pb2.TaskTemplate:
    return tasks_pb2.TaskTemplate.FromString((out / f"{name}.task.pb").read_bytes())


@pytest.mark.parametrize("name", ["square", "defaults", "in_pod", "pod_task"])
def test_tasks_serialize_as_flytekit_does(flytekit_out: Path, serializer: Serializer, name: str) -> None:
    ours = serializer.task(getattr(sdk_tasks, name))
    theirs = flytekit_task(flytekit_out, name)
    assert comparable(ours) == comparable(theirs)
    if name in ("square", "defaults", "in_pod"):
        assert ours.id.name == theirs.id.name == name


def test_raw_container_details(serializer: Serializer) -> None:
    square = serializer.task(sdk_tasks.square)
    assert square.type == "raw-container"
    assert square.container.data_config == tasks_pb2.DataLoadingConfig(
        enabled=True,
        input_path="/var/inputs",
        output_path="/var/outputs",
        format=tasks_pb2.DataLoadingConfig.YAML,
    )
    in_pod = serializer.task(sdk_tasks.in_pod)
    assert not in_pod.HasField("container")
    assert in_pod.k8s_pod.data_config.input_path == "/in"


def test_a_pod_template_override_serializes_as_flytekit_does(
    flytekit_out: Path, serializer: Serializer
) -> None:
    theirs = workflow_pb2.Node.FromString((flytekit_out / "override.node.pb").read_bytes())
    ours = serializer.workflow(sdk_tasks.overridden).nodes[0]
    override = MessageToDict(ours.task_node.overrides.pod_template)
    expected = MessageToDict(theirs.task_node.overrides.pod_template)
    for pod in (override, expected):
        (container,) = pod["podSpec"]["containers"]
        assert container["args"][1:11] == CONTRACT
        container["args"] = ["<python entrypoint>"]
    assert override == expected
    assert ours.task_node.overrides.pod_template.primary_container_name == "primary"


def test_an_override_of_a_pod_task_uses_its_primary_container(serializer: Serializer) -> None:
    from roost_k8s_pod import PodTemplate

    template = serializer.task(sdk_tasks.pod_task)
    pod = PodTemplate(
        pod_spec={"containers": [{"name": "main", "image": "mine:2"}]}, primary_container_name="main"
    )
    override = MessageToDict(pod.task_node_override(template))
    (main,) = override["podSpec"]["containers"]
    assert main["image"] == "mine:2"
    assert main["args"][0] == "roost-execute"
    assert main["resources"] == {"requests": {"cpu": "2"}, "limits": {}}
    assert main["env"] == [{"name": "FROM_SPEC", "value": "1"}]
    assert override["primaryContainerName"] == "main"
