"""What the pod tests share beyond the plugin test kit: roost_k8s_pod.testing.task_program as a task, and Pod
handler settings."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flyteidl.core import tasks_pb2

from roost_core.handler import TaskContext
from roost_core.testing.tasks import container_task, task_context
from roost_k8s_pod import PodSettings
from roost_k8s_pod.testing import task_program

PROGRAM = Path(task_program.__file__)
NAMESPACE = "proj-dev"


def program_task(
    mode: str,
    *extra: str,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    task_type: str = "python-task",
    image: str = "tests/image:1",
    resources: tasks_pb2.Resources | None = None,
    env: Mapping[str, str] | None = None,
) -> tasks_pb2.TaskTemplate:
    """A task whose container runs task_program.py in ``mode`` with the contract's arguments."""
    return container_task(
        [sys.executable, str(PROGRAM)],
        [mode, "{{.input}}", "{{.outputPrefix}}", *extra],
        task_type=task_type,
        inputs=inputs,
        outputs=outputs,
        image=image,
        resources=resources,
        env=env,
    )


def make_context(root: Path, task: tasks_pb2.TaskTemplate, **fields: Any) -> TaskContext:
    """A first-round context (the kit's), with the identity variables the Pod handler's labels read."""
    environment = {
        "FLYTE_INTERNAL_EXECUTION_ID": fields.get("execution", "exec1"),
        "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "tests.wf",
        **fields.pop("environment", {}),
    }
    return task_context(root, task, environment=environment, **fields)


def handler_config(kubeconfig: Path | None = None, **options: Any) -> dict[str, Any]:
    """A Pod handler section: the Pod handler's own options at the top, the rest under ``kubernetes``,
    pointing at the test server and rechecking rarely (wake-ups come from watches)."""
    own = {k: v for k, v in options.items() if k in PodSettings.model_fields}
    kubernetes = {k: v for k, v in options.items() if k not in own}
    if kubeconfig is not None:
        kubernetes.setdefault("clusters", {"default": {"kubeconfig": str(kubeconfig)}})
    kubernetes.setdefault("recheck_interval", 600)
    return {**own, "kubernetes": kubernetes}
