"""TASK_RESOURCE defaults and limits applied to container and pod task templates."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import tasks_pb2
from google.protobuf import json_format

from roost_core.task_resources import TaskResourceError, settle_task

R = tasks_pb2.Resources


def _container(requests: dict[int, str], limits: dict[int, str] | None = None) -> tasks_pb2.TaskTemplate:
    resources = R(
        requests=[R.ResourceEntry(name=k, value=v) for k, v in requests.items()],
        limits=[R.ResourceEntry(name=k, value=v) for k, v in (limits or {}).items()],
    )
    return tasks_pb2.TaskTemplate(container=tasks_pb2.Container(image="i", resources=resources))


def _entries(entries: Any) -> dict[str, str]:
    return {R.ResourceName.Name(e.name): e.value for e in entries}


def test_a_container_gets_defaults_its_limits_follow_requests_and_are_capped():
    template = _container({R.CPU: "3", R.GPU: "2"}, {R.MEMORY: "2Gi"})
    settle_task(
        template, {"cpu": "1", "memory": "1Gi", "gpu": "1"}, {"cpu": "2", "memory": "4Gi", "gpu": "1"}
    )
    resources = template.container.resources
    # cpu lowered to the limit; memory requested at the default, keeping the task's own limit; the
    # requested GPUs are capped.
    assert _entries(resources.requests) == {"CPU": "2", "GPU": "1", "MEMORY": "1Gi"}
    assert _entries(resources.limits) == {"CPU": "2", "GPU": "1", "MEMORY": "2Gi"}


def test_no_gpu_is_requested_by_default():
    template = _container({})
    settle_task(template, {"gpu": "1", "cpu": "500m"}, {})
    assert _entries(template.container.resources.requests) == {"CPU": "500m"}


def test_tasks_without_a_container_or_pod_are_left_alone():
    template = tasks_pb2.TaskTemplate(type="sql")
    settle_task(template, {"cpu": "1"}, {"cpu": "1"})
    assert template == tasks_pb2.TaskTemplate(type="sql")


def _pod(containers: list[dict[str, Any]], primary: str = "main") -> tasks_pb2.TaskTemplate:
    template = tasks_pb2.TaskTemplate(config={"primary_container_name": primary} if primary else {})
    json_format.ParseDict({"containers": containers}, template.k8s_pod.pod_spec)
    return template


def _resources(template: tasks_pb2.TaskTemplate) -> dict[str, Any]:
    spec = json_format.MessageToDict(template.k8s_pod.pod_spec)
    return {c["name"]: c.get("resources", {}) for c in spec["containers"]}


def test_only_the_primary_container_gets_defaults_and_every_container_is_capped():
    template = _pod(
        [
            {"name": "side", "resources": {"requests": {"cpu": 4, "example.com/fpga": "1"}}},
            {"name": "main", "resources": {"limits": {"nvidia.com/gpu": "4"}}},
        ]
    )
    settle_task(template, {"cpu": "500m", "memory": "1Gi", "gpu": "1"}, {"cpu": "2", "gpu": "2"})
    assert _resources(template) == {
        # another resource is kept; the GPU keeps the name it was given
        "side": {"requests": {"cpu": "2", "example.com/fpga": "1"}, "limits": {"cpu": "2"}},
        "main": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "2"},
        },
    }


def test_a_pod_naming_no_primary_container_gets_no_defaults():
    template = _pod([{"name": "main", "image": "i"}], primary="")
    settle_task(template, {"cpu": "500m"}, {"cpu": "2"})
    assert _resources(template) == {"main": {}}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            _container({R.CPU: "2KM"}),
            "task '' container.resources.requests.cpu '2KM' is not a valid quantity: unable to parse quantity's "
            "suffix: '2KM'",
        ),
        (
            _pod([{"name": "main", "resources": {"limits": {"memory": "lots"}}}]),
            "task '' k8s_pod.pod_spec.containers[0] ('main').resources.limits.memory 'lots' is not a valid "
            "quantity: quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got 'lots'",
        ),
    ],
    ids=["container", "pod"],
)
def test_an_invalid_quantity_names_the_task_and_field(template, message):
    with pytest.raises(TaskResourceError) as info:
        settle_task(template, {}, {"cpu": "1", "memory": "1Gi"})
    assert str(info.value) == message
