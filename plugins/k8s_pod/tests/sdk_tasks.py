"""Roost tasks and workflows of the SDK-side tests: the same definitions as ``flytekit_pod_side.py``, and
workflows that local runs and the Pod handler run (pods import this module through roost-execute)."""

from __future__ import annotations

import sys

from roost import Resources, task, workflow
from roost.types import Directory, File
from roost_k8s_pod import ContainerTask, Pod, PodTemplate

square = ContainerTask(
    name="square",
    image="alpine:3.20",
    command=["sh", "-c", "echo $(( {{.inputs.val}} * {{.inputs.val}} )) | tee /var/outputs/out"],
    arguments=["--flag", "{{.inputs.val}}"],
    inputs={"val": int, "f": File},
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
    inputs={"d": Directory},
    outputs={"copy": Directory, "note": str},
)

in_pod = ContainerTask(
    name="in_pod",
    image="alpine:3.20",
    command=["sh", "-c", "cat /in/x > /out/y"],
    inputs={"x": str},
    outputs={"y": str},
    input_data_dir="/in",
    output_data_dir="/out",
    pod_template=PodTemplate(
        pod_spec={
            "containers": [{"name": "helper", "image": "busybox", "command": ["sleep", "1000"]}],
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        primary_container_name="main",
        labels={"team": "a"},
        annotations={"note": "b"},
    ),
    pod_template_name="base",
)


@task(
    task_config=Pod(
        pod_template={
            "containers": [
                {"name": "logger", "image": "busybox", "args": ["tail", "-f", "/dev/null"]},
                {"name": "main", "image": "ignored:1", "env": [{"name": "FROM_SPEC", "value": "1"}]},
            ],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
        primary_container_name="main",
        labels={"team": "a"},
        annotations={"note": "b"},
    ),
    requests=Resources(cpu="2"),
)
def pod_task(x: int) -> int:
    """Runs in a pod with a logging sidecar; locally just a function."""
    return x


@task
def plain(x: int) -> int:
    """A plain task."""
    return x


@workflow
def overridden(x: int) -> int:
    """A plain task whose node runs with a pod template."""
    return plain(x=x).with_overrides(
        pod_template=PodTemplate(
            pod_spec={
                "containers": [{"name": "primary", "env": [{"name": "EXTRA", "value": "1"}]}],
                "nodeSelector": {"pool": "big"},
            },
            labels={"node": "yes"},
        )
    )


# What local runs and pods run: a Python step in a custom pod feeding a raw container.

PYTHON = sys.executable
count_words = ContainerTask(
    name="count_words",
    image="python:3.11-slim",
    command=[
        PYTHON,
        "-c",
        "import pathlib, sys; d = pathlib.Path(sys.argv[1]); o = pathlib.Path(sys.argv[2]); "
        "text = (d / 'text').read_text(); times = int((d / 'times').read_text()); "
        "(o / 'words').write_text(str(len(text.split()) * times)); "
        "(o / 'shout').write_text(text.upper())",
        "/var/inputs",
        "/var/outputs",
    ],
    inputs={"text": File, "times": int},
    outputs={"words": int, "shout": File},
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
)


@task(task_config=Pod(pod_template={"containers": [{"name": "sidecar", "image": "busybox"}]}))
def add_one(x: int) -> int:
    """A Python step in a custom pod."""
    return x + 1


@workflow
def words_times(text: File, times: int) -> tuple[int, File]:
    """Count the words of a file (times + 1 over) in a raw container, after a pod task."""
    result = count_words(text=text, times=add_one(x=times))
    return result.words, result.shout


@workflow
def pod_steps(x: int) -> int:
    """Two pod tasks in a row (what the Pod handler runs through the test kubelet)."""
    return add_one(x=add_one(x=x))
