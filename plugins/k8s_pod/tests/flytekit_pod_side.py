"""flytekit's half of the SDK serialization tests; runs in a virtualenv with flytekit 1.16.31 and its Pod plugin.

    python flytekit_pod_side.py OUT_DIR

Defines the same tasks and workflow as ``sdk_tasks.py`` with flytekit and writes each serialized
TaskTemplate (``OUT_DIR/<name>.task.pb``) and the workflow's node with a pod_template override
(``OUT_DIR/override.node.pb``).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import OrderedDict

from flytekit import ContainerTask, PodTemplate, Resources, task, workflow
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from kubernetes.client import V1Container, V1EnvVar, V1PodSpec, V1Toleration, V1Volume

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the Pod plugin says it is deprecated
    from flytekitplugins.pod import Pod

IMAGE = "tests/image:1"

square = ContainerTask(
    name="square",
    image="alpine:3.20",
    command=["sh", "-c", "echo $(( {{.inputs.val}} * {{.inputs.val}} )) | tee /var/outputs/out"],
    arguments=["--flag", "{{.inputs.val}}"],
    inputs=OrderedDict(val=int, f=FlyteFile),
    outputs={"out": int},
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    metadata_format=ContainerTask.MetadataFormat.YAML,
    requests=Resources(cpu="1", mem="1Gi"),
    limits=Resources(mem="2Gi"),
    environment={"MODE": "fast"},
)

defaults = ContainerTask(
    name="defaults",
    image="alpine:3.20",
    command=["cp", "-r", "/var/flyte/inputs/d", "/var/flyte/outputs/copy"],
    inputs=OrderedDict(d=FlyteDirectory),
    outputs={"copy": FlyteDirectory, "note": str},
)

in_pod = ContainerTask(
    name="in_pod",
    image="alpine:3.20",
    command=["sh", "-c", "cat /in/x > /out/y"],
    inputs=OrderedDict(x=str),
    outputs={"y": str},
    input_data_dir="/in",
    output_data_dir="/out",
    pod_template=PodTemplate(
        pod_spec=V1PodSpec(
            containers=[V1Container(name="helper", image="busybox", command=["sleep", "1000"])],
            tolerations=[V1Toleration(key="gpu", operator="Exists", effect="NoSchedule")],
        ),
        primary_container_name="main",
        labels={"team": "a"},
        annotations={"note": "b"},
    ),
    pod_template_name="base",
)


@task(
    task_config=Pod(
        pod_spec=V1PodSpec(
            containers=[
                V1Container(name="logger", image="busybox", args=["tail", "-f", "/dev/null"]),
                V1Container(name="main", image="ignored:1", env=[V1EnvVar(name="FROM_SPEC", value="1")]),
            ],
            volumes=[V1Volume(name="scratch", empty_dir={})],
        ),
        primary_container_name="main",
        labels={"team": "a"},
        annotations={"note": "b"},
    ),
    requests=Resources(cpu="2"),
)
def pod_task(x: int) -> int:
    return x


@task
def plain(x: int) -> int:
    return x


@workflow
def overridden(x: int) -> int:
    return plain(x=x).with_overrides(
        pod_template=PodTemplate(
            pod_spec=V1PodSpec(
                containers=[V1Container(name="primary", env=[V1EnvVar(name="EXTRA", value="1")])],
                node_selector={"pool": "big"},
            ),
            labels={"node": "yes"},
        )
    )


def main(out_dir: str) -> None:
    settings = SerializationSettings(
        image_config=ImageConfig(default_image=Image(name="default", fqn="tests/image", tag="1")),
        project="proj",
        domain="dev",
        version="v1",
    )
    os.makedirs(out_dir, exist_ok=True)
    for name, entity in {
        "square": square,
        "defaults": defaults,
        "in_pod": in_pod,
        "pod_task": pod_task,
    }.items():
        template = get_serializable(OrderedDict(), settings, entity).template.to_flyte_idl()
        with open(os.path.join(out_dir, f"{name}.task.pb"), "wb") as file:
            file.write(template.SerializeToString())
    workflow_spec = get_serializable(OrderedDict(), settings, overridden).template.to_flyte_idl()
    with open(os.path.join(out_dir, "override.node.pb"), "wb") as file:
        file.write(workflow_spec.nodes[0].SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
