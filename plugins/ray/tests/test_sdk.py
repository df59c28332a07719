"""The SDK side: flytekitplugins-ray 1.16's names, its ``custom`` byte for byte, and configuration errors that
name the task and the field."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import ray_cases
from flyteidl.plugins import ray_pb2
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from roost import Resources, task
from roost.errors import WorkflowDefinitionError
from roost.testing import check_task_template
from roost_ray import HeadNodeConfig, RayFunctionTask, RayJobConfig, WorkerNodeConfig

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def flytekit_customs(flytekit_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("flytekit-home")
    run = subprocess.run(
        [str(flytekit_venv / "bin" / "python"), str(HERE / "flytekit_ray_side.py")],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "FLYTE_SDK_LOGGING_LEVEL": "40", "HOME": str(home)},
    )
    if run.returncode != 0:
        pytest.fail(f"flytekit_ray_side.py failed ({run.returncode}):\n{run.stderr}", pytrace=False)
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def double(n: int) -> int:
    """Twice n."""
    return 2 * n


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


@pytest.mark.parametrize("case", sorted(ray_cases.CASES))
def test_custom_is_flytekits(case: str, flytekit_customs: dict[str, Any]) -> None:
    made = task(task_config=ray_cases.CASES[case])(double)
    assert isinstance(made, RayFunctionTask)
    template = check_task_template(made, custom_message=ray_pb2.RayJob)
    expected = flytekit_customs[case]
    assert template.type == expected["type"] == "ray"
    # The template's Struct, serialized, is what goes over the wire: the same bytes.
    assert template.custom == _struct(expected["custom"])
    assert template.custom.SerializeToString(deterministic=True) == _struct(
        expected["custom"]
    ).SerializeToString(deterministic=True)


def test_runtime_env_is_written_twice() -> None:
    config = RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 1)], runtime_env={"pip": ["numpy"]})
    template = check_task_template(task(task_config=config)(double), custom_message=ray_pb2.RayJob)
    job = ParseDict(MessageToDict(template.custom), ray_pb2.RayJob())
    assert job.runtime_env_yaml == "pip:\n- numpy\n"
    assert json.loads(base64.b64decode(job.runtime_env)) == {"pip": ["numpy"]}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", -1)]),
            "task 'double': RayJobConfig.worker_node_config[0].replicas must not be negative, got -1",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 2, min_replicas=-2)]),
            "task 'double': RayJobConfig.worker_node_config[0].min_replicas must not be negative, got -2",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 1), WorkerNodeConfig("x", 2, 3, 1)]),
            "task 'double': RayJobConfig.worker_node_config[1]: min_replicas (3) is greater than max_replicas (1)",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 1), WorkerNodeConfig("w", 1)]),
            "task 'double': RayJobConfig.worker_node_config[1].group_name 'w' names two worker groups",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("", 1)]),
            "task 'double': RayJobConfig.worker_node_config[0].group_name must be a non-empty string, not ''",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", "2")]),  # type: ignore[arg-type]
            "task 'double': RayJobConfig.worker_node_config[0].replicas must be an integer, not '2'",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 1)], ttl_seconds_after_finished=-5),
            "task 'double': RayJobConfig.ttl_seconds_after_finished must be a non-negative integer, not -5",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 1)], runtime_env={"pip": {1, 2}}),
            "task 'double': RayJobConfig.runtime_env must hold only JSON values",
        ),
        (
            RayJobConfig(worker_node_config=[WorkerNodeConfig("w", 1)], runtime_env="pip"),  # type: ignore[arg-type]
            "task 'double': RayJobConfig.runtime_env must be a dict, not str",
        ),
        (
            RayJobConfig(worker_node_config=WorkerNodeConfig("w", 1)),  # type: ignore[arg-type]
            "task 'double': RayJobConfig.worker_node_config must be a list of WorkerNodeConfig, not WorkerNodeConfig",
        ),
        (
            RayJobConfig(
                worker_node_config=[WorkerNodeConfig("w", 1)],
                head_node_config=HeadNodeConfig(pod_template=object(), requests=Resources(cpu="1")),
            ),
            "task 'double': RayJobConfig.head_node_config: give either pod_template or requests/limits, not both",
        ),
        (
            RayJobConfig(
                worker_node_config=[WorkerNodeConfig("w", 1)],
                head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": 2}),  # type: ignore[dict-item]
            ),
            "task 'double': RayJobConfig.head_node_config.ray_start_params must map strings to strings",
        ),
    ],
)
def test_bad_config_names_task_and_field(config: RayJobConfig, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        task(task_config=config)(double)
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    config = RayJobConfig(worker_node_config=[WorkerNodeConfig("w", -1, min_replicas=-1)])
    with pytest.raises(WorkflowDefinitionError) as caught:
        task(task_config=config)(double)
    assert "replicas must not be negative, got -1" in str(caught.value)
    assert "min_replicas must not be negative, got -1" in str(caught.value)
