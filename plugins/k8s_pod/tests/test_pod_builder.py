"""Pods built from every task shape, each one checked by the test server against the real Pod schema."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import PodHandlers
from flyteidl.core import security_pb2, tasks_pb2, workflow_pb2
from google.protobuf import struct_pb2
from helpers import NAMESPACE, PROGRAM, handler_config, make_context, program_task

from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_k8s_pod.testing import KubeTestServer

CPU, MEMORY, GPU, STORAGE = (
    tasks_pb2.Resources.CPU,
    tasks_pb2.Resources.MEMORY,
    tasks_pb2.Resources.GPU,
    tasks_pb2.Resources.EPHEMERAL_STORAGE,
)


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    """A server without a kubelet: pods are created (so checked against the real Pod schema), never run."""
    with KubeTestServer() as server:
        server.create_namespace(NAMESPACE)
        server.kubeconfig_path = server.write_kubeconfig(tmp_path_factory.mktemp("validator") / "kubeconfig")
        yield server


@pytest.fixture(scope="module")
def pods() -> Iterator[PodHandlers]:
    """Pod handlers shared by the module's tests, one per distinct section."""
    built = PodHandlers()
    yield built
    built.close()


_executions = itertools.count()


def attempt(
    tmp_path: Path,
    task: tasks_pb2.TaskTemplate,
    validator: KubeTestServer,
    pods,
    config=None,
    **fields,
):
    """One first round of the handler for ``task``, in an execution of its own."""
    handler = pods.handler(handler_config(validator.kubeconfig_path, **(config or {})))
    ctx = make_context(tmp_path, task, inputs={"x": 1}, execution=f"exec{next(_executions)}", **fields)
    return handler.handle(ctx)


def build(tmp_path, task, validator, pods, config=None, **fields) -> dict:
    """The pod the handler creates for ``task``; the server admitted it, so it passed the Pod schema."""
    transition = attempt(tmp_path, task, validator, pods, config, **fields)
    assert not transition.phase.is_failure, transition.error
    return validator.get("pods", NAMESPACE, transition.state["name"])


def data(tmp_path: Path, pod: dict) -> str:
    """The node's data folder of the pod's execution."""
    return f"file://{tmp_path}/data/{pod['metadata']['labels']['execution-id']}/n0"


def entries(**values: str) -> list[tasks_pb2.Resources.ResourceEntry]:
    names = {"cpu": CPU, "memory": MEMORY, "gpu": GPU, "storage": STORAGE}
    return [tasks_pb2.Resources.ResourceEntry(name=names[k], value=v) for k, v in values.items()]


def primary(pod: dict) -> dict:
    name = pod["metadata"]["annotations"]["primary_container_name"]
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_a_container_task_becomes_a_single_container_pod(tmp_path, validator, pods):
    task = program_task("double", inputs=["x"], outputs=["o0"], env={"MODE": "fast"})
    pod = build(tmp_path, task, validator, pods)
    container = primary(pod)
    assert container["name"] == pod["metadata"]["name"]
    assert container["command"] == [sys.executable, str(PROGRAM)]
    assert container["args"] == [
        "double",
        f"{data(tmp_path, pod)}/inputs.pb",
        f"{data(tmp_path, pod)}/0",
    ]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    env = env_of(container)
    assert (
        env["MODE"] == "fast"
        and env["FLYTE_INTERNAL_EXECUTION_ID"] == pod["metadata"]["labels"]["execution-id"]
    )
    assert pod["spec"]["restartPolicy"] == "Never"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }


def test_resources_gpus_and_ephemeral_storage(tmp_path, validator, pods):
    resources = tasks_pb2.Resources(
        requests=entries(cpu="2", memory="4Gi", gpu="1", storage="10Gi"),
        limits=entries(cpu="4", gpu="1", memory="0"),
    )
    pod = build(
        tmp_path,
        program_task("nothing", resources=resources),
        validator,
        pods,
        {
            "resource_tolerations": {
                "nvidia.com/gpu": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
            }
        },
    )
    assert primary(pod)["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1", "ephemeral-storage": "10Gi"},
        "limits": {"cpu": "4", "memory": "4Gi", "nvidia.com/gpu": "1", "ephemeral-storage": "10Gi"},
    }
    assert pod["spec"]["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_resources_are_capped_and_overridden_by_the_node(tmp_path, validator, pods):
    task = program_task("nothing", resources=tasks_pb2.Resources(requests=entries(cpu="8", memory="1Gi")))
    overrides = workflow_pb2.TaskNodeOverrides(
        resources=tasks_pb2.Resources(limits=entries(memory="2Gi")), container_image="tests/other:2"
    )
    pod = build(
        tmp_path,
        task,
        validator,
        pods,
        {"max_resources": {"cpu": "4", "memory": "64Gi"}},
        overrides=overrides,
    )
    container = primary(pod)
    assert container["image"] == "tests/other:2"
    assert container["resources"] == {
        "requests": {"cpu": "4", "memory": "1Gi"},
        "limits": {"cpu": "4", "memory": "2Gi"},
    }


def test_interruptible_pods_get_tolerations_selectors_and_affinity(tmp_path, validator, pods):
    config = {
        "interruptible_tolerations": [
            {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ],
        "interruptible_node_selector": {"node-pool": "spot"},
        "interruptible_node_selector_requirement": {"key": "spot", "operator": "In", "values": ["true"]},
        "non_interruptible_node_selector_requirement": {"key": "spot", "operator": "DoesNotExist"},
        "default_tolerations": [{"key": "roost", "operator": "Exists"}],
        "default_node_selector": {"team": "ml"},
    }
    spot = build(tmp_path, program_task("nothing"), validator, pods, config, interruptible=True)
    assert spot["spec"]["tolerations"] == [
        {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"key": "roost", "operator": "Exists"},
    ]
    assert spot["spec"]["nodeSelector"] == {"team": "ml", "node-pool": "spot"}
    terms = spot["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchExpressions": [{"key": "spot", "operator": "In", "values": ["true"]}]}]
    assert spot["metadata"]["labels"]["interruptible"] == "true"
    regular = build(tmp_path, program_task("nothing"), validator, pods, config)
    assert regular["spec"]["nodeSelector"] == {"team": "ml"}
    terms = regular["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}]}]


def test_secrets_become_env_vars_or_files(tmp_path, validator, pods):
    task = program_task("nothing")
    task.security_context.secrets.extend(
        [
            security_pb2.Secret(
                group="db", key="password", mount_requirement=security_pb2.Secret.ENV_VAR, env_var="DB_PASS"
            ),
            security_pb2.Secret(group="gcp", key="Key.json", mount_requirement=security_pb2.Secret.FILE),
            security_pb2.Secret(group="gcp", key="token", env_var="GCP_TOKEN_FILE"),
        ]
    )
    task.security_context.run_as.k8s_service_account = "runner"
    pod = build(tmp_path, task, validator, pods)
    container = primary(pod)
    env = env_of(container)
    ref = {"secretKeyRef": {"name": "db", "key": "password", "optional": True}}
    assert env["_FSEC_DB_PASSWORD"] == ref and env["DB_PASS"] == ref
    assert env["FLYTE_SECRETS_ENV_PREFIX"] == "_FSEC_"
    assert env["FLYTE_SECRETS_DEFAULT_DIR"] == "/etc/flyte/secrets"
    assert env["GCP_TOKEN_FILE"] == "/etc/flyte/secrets/gcp/token"
    [volume] = pod["spec"]["volumes"]
    assert volume["secret"] == {
        "secretName": "gcp",
        "optional": True,
        "items": [{"key": "Key.json", "path": "key.json"}, {"key": "token", "path": "token"}],
    }
    assert container["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/etc/flyte/secrets/gcp"}
    ]
    assert pod["spec"]["serviceAccountName"] == "runner"


def test_the_task_timeout_becomes_the_active_deadline(tmp_path, validator, pods):
    task = program_task("nothing")
    assert "activeDeadlineSeconds" not in build(tmp_path, task, validator, pods)["spec"]
    assert (
        build(tmp_path, task, validator, pods, {"active_deadline": "2h"})["spec"]["activeDeadlineSeconds"]
        == 7200
    )
    task.metadata.timeout.FromTimedelta(timedelta(minutes=5))
    assert (
        build(tmp_path, task, validator, pods, {"active_deadline": "2h"})["spec"]["activeDeadlineSeconds"]
        == 300
    )


def test_the_default_pod_template_is_the_base(tmp_path, validator, pods):
    template = {
        "metadata": {"labels": {"from": "template"}, "annotations": {"a": "b"}},
        "spec": {
            "priorityClassName": "batch",
            "tolerations": [{"key": "t", "operator": "Exists"}],
            "containers": [
                {
                    "name": "default",
                    "env": [{"name": "FROM_DEFAULT", "value": "1"}],
                    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                },
                {
                    "name": "primary",
                    "securityContext": {"runAsNonRoot": True},
                    "image": "ignored/because:task-wins",
                },
            ],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
    }
    pod = build(
        tmp_path,
        program_task("nothing"),
        validator,
        pods,
        {"default_pod_template": template, "default_tolerations": [{"key": "d", "operator": "Exists"}]},
    )
    container = primary(pod)
    assert pod["spec"]["priorityClassName"] == "batch"
    assert pod["spec"]["tolerations"] == [
        {"key": "t", "operator": "Exists"},
        {"key": "d", "operator": "Exists"},
    ]
    assert container["securityContext"] == {"runAsNonRoot": True}
    assert container["image"] == "tests/image:1"
    assert env_of(container)["FROM_DEFAULT"] == "1"
    assert container["volumeMounts"] == [{"name": "scratch", "mountPath": "/scratch"}]
    assert pod["metadata"]["labels"]["from"] == "template"


def test_a_named_pod_template(tmp_path, validator, pods):
    task = program_task("nothing")
    task.metadata.pod_template_name = "gpu"
    templates = {"gpu": {"spec": {"runtimeClassName": "nvidia", "containers": []}}}
    assert (
        build(tmp_path, task, validator, pods, {"pod_templates": templates})["spec"]["runtimeClassName"]
        == "nvidia"
    )


def k8s_pod_task(task_type: str = "python-task") -> tasks_pb2.TaskTemplate:
    """What flytekit sends for a task with a pod template: a pod spec and the primary container's name."""
    task = program_task("double", inputs=["x"], outputs=["o0"], task_type=task_type)
    spec = {
        "containers": [
            {
                "name": "primary",
                "image": "tests/image:1",
                "command": list(task.container.command),
                "args": list(task.container.args),
                "resources": {"requests": {"cpu": "1"}},
            },
            {"name": "sidecar", "image": "tests/sidecar:1", "args": ["--out", "{{.outputPrefix}}"]},
        ],
        "volumes": [{"name": "shared", "emptyDir": {}}],
    }
    task.ClearField("container")
    task.k8s_pod.pod_spec.update(spec)
    task.k8s_pod.metadata.labels["pod-label"] = "yes"
    task.config["primary_container_name"] = "primary"
    return task


def test_a_pod_target_with_a_sidecar(tmp_path, validator, pods):
    pod = build(tmp_path, k8s_pod_task(), validator, pods)
    main, sidecar = pod["spec"]["containers"]
    assert pod["metadata"]["annotations"]["primary_container_name"] == "primary"
    assert pod["metadata"]["labels"]["pod-label"] == "yes"
    assert main["args"][1] == f"{data(tmp_path, pod)}/inputs.pb"
    assert main["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert sidecar["args"] == ["--out", f"{data(tmp_path, pod)}/0"]
    assert "resources" not in sidecar or sidecar["resources"] == {}
    assert env_of(sidecar)["FLYTE_INTERNAL_EXECUTION_ID"] == pod["metadata"]["labels"]["execution-id"]


def test_sidecar_tasks_of_versions_0_and_1(tmp_path, validator, pods):
    spec = k8s_pod_task().k8s_pod.pod_spec
    old = program_task("nothing", task_type="sidecar")
    old.ClearField("container")
    old.custom.update(
        {"podSpec": struct_to_dict(spec), "primaryContainerName": "primary", "labels": {"v": "0"}}
    )
    assert build(tmp_path, old, validator, pods)["metadata"]["labels"]["v"] == "0"
    newer = program_task("nothing", task_type="sidecar")
    newer.ClearField("container")
    newer.task_type_version = 1
    newer.custom.CopyFrom(spec)
    newer.config["primary_container_name"] = "sidecar"
    assert (
        build(tmp_path, newer, validator, pods)["metadata"]["annotations"]["primary_container_name"]
        == "sidecar"
    )


def struct_to_dict(struct: struct_pb2.Struct) -> dict:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(struct)


def test_a_pod_template_override_on_the_node(tmp_path, validator, pods):
    template = tasks_pb2.K8sPod(primary_container_name="main")
    template.pod_spec.update(
        {"containers": [{"name": "main", "image": "tests/override:1", "args": ["{{.input}}"]}]}
    )
    overrides = workflow_pb2.TaskNodeOverrides(pod_template=template)
    pod = build(tmp_path, program_task("nothing"), validator, pods, overrides=overrides)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main"]
    assert primary(pod)["args"] == [f"{data(tmp_path, pod)}/inputs.pb"]


def test_tasks_that_cannot_become_pods(tmp_path, validator, pods):
    pods_before = len(validator.list_objects("pods", NAMESPACE))

    def refusal(task, config=None, **fields):
        transition = attempt(tmp_path, task, validator, pods, config, **fields)
        assert transition.phase is TaskPhase.PERMANENT_FAILURE
        return transition.error

    no_primary = k8s_pod_task()
    no_primary.config["primary_container_name"] = "absent"
    assert refusal(no_primary).message.endswith(
        "the pod spec has no primary container 'absent' (containers: 'primary', 'sidecar')"
    )
    template = program_task("nothing")
    template.metadata.pod_template_name = "nope"
    assert refusal(template).message.endswith(
        "pod template 'nope' does not exist (configured pod templates: none)"
    )
    raw = program_task("nothing", task_type="raw-container")
    raw.container.data_config.enabled = True
    error = refusal(raw)
    assert (error.code, error.kind) == ("BadConfiguration", ErrorKind.SYSTEM)
    assert error.message.endswith(
        "the task moves its data with the copilot (data_config: a raw container reading its inputs from files "
        "and writing its outputs as files), and engine.kubernetes.copilot_image is not set; set it to an "
        "image with roost-k8s-pod installed"
    )
    raw.container.data_config.input_path = raw.container.data_config.output_path = "/data"
    assert refusal(raw, {"copilot_image": "roost:1"}).message.endswith(
        "the task's data_config uses '/data' for both inputs and outputs"
    )
    bad = program_task("nothing", resources=tasks_pb2.Resources(requests=entries(cpu="lots")))
    assert "resource requests.cpu: quantities must match the regular expression" in refusal(bad).message
    memory = refusal(program_task("nothing"), scheme="mem")
    assert memory.code == "UnsupportedStorage" and memory.kind is ErrorKind.SYSTEM
    unknown_input = program_task("nothing", "{{.Inputs.nope}}")
    assert "uses {{.Inputs.nope}}, but the task has no input 'nope'" in refusal(unknown_input).message
    empty = program_task("nothing")
    empty.ClearField("container")
    assert refusal(empty).message.endswith(
        "a 'python-task' task needs a container or a k8s_pod target; this one has neither"
    )
    assert len(validator.list_objects("pods", NAMESPACE)) == pods_before
