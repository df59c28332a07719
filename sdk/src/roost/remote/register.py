"""Registering code with an admin (fast registration): upload the sources once, then register every task,
workflow and launch plan with containers that fetch those sources before they run."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.entity import Entity
from roost.launch_plan import LaunchPlan
from roost.loader import entities_in, module_name_for_file
from roost.packaging import code_archive, load_modules, python_files
from roost.remote.client import RemoteClient
from roost.serialize import SerializationSettings, Serializer
from roost.tasks import Task
from roost.workflows import Workflow

DEFAULT_IMAGE = "ghcr.io/roost/roost:latest"


@dataclass
class Registration:
    """What was registered, under which version."""

    version: str
    distribution: str
    serializer: Serializer
    """What was serialized: the registered messages by name."""
    tasks: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    launch_plans: list[str] = field(default_factory=list)


def content_version(archive: bytes, image: str) -> str:
    """A version derived from the code and the image: unchanged code registers under the same version."""
    digest = hashlib.md5(archive + image.encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:22]


def register(
    client: RemoteClient,
    path: str,
    *,
    project: str,
    domain: str,
    version: str | None = None,
    image: str | None = None,
    entities: Iterable[Entity] | None = None,
    activate: bool = False,
) -> Registration:
    """Upload the sources of ``path`` and register its entities (or just ``entities`` and what they use).

    Every workflow also gets its default launch plan (same name and version), as ``pyflyte register`` does.
    """
    files = python_files(path)
    if not files:
        raise FileNotFoundError(f"no Python files at {path}")
    modules = list(load_modules(path))
    source_root = module_name_for_file(files[0])[1]
    archive_name, archive = code_archive(source_root)
    image = image or DEFAULT_IMAGE
    version = version or content_version(archive, image)
    with tempfile.TemporaryDirectory(prefix="roost-register-") as folder:
        archive_path = Path(folder) / archive_name
        archive_path.write_bytes(archive)
        distribution = client.upload(project, domain, archive_path)
    settings = SerializationSettings(
        project=project, domain=domain, version=version, image=image, fast_distribution=distribution
    )
    serializer = Serializer(settings)
    chosen: list[Any] = (
        list(entities)
        if entities is not None
        else [
            entity
            for module in modules
            for entity in entities_in(module, (Task, Workflow, LaunchPlan)).values()
            if _defined_in(entity, module)
        ]
    )
    for entity in chosen:
        if isinstance(entity, Task):
            serializer.task(entity)
        elif isinstance(entity, Workflow):
            serializer.workflow(entity)
            serializer.launch_plan(LaunchPlan.get_or_create(entity))
        elif isinstance(entity, LaunchPlan):
            serializer.launch_plan(entity)
    result = Registration(version, distribution, serializer)
    from flyteidl.admin import task_pb2, workflow_pb2

    for template in serializer.tasks.values():
        client.create(
            "task", task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template))
        )
        result.tasks.append(template.id.name)
    for name, template in serializer.workflows.items():
        subs = [t for n, t in serializer.workflows.items() if n != name]
        client.create(
            "workflow",
            workflow_pb2.WorkflowCreateRequest(
                id=template.id, spec=workflow_pb2.WorkflowSpec(template=template, sub_workflows=subs)
            ),
        )
        result.workflows.append(name)
    from flyteidl.admin import launch_plan_pb2

    for lp in serializer.launch_plans.values():
        client.create("launch plan", launch_plan_pb2.LaunchPlanCreateRequest(id=lp.id, spec=lp.spec))
        result.launch_plans.append(lp.id.name)
        if activate:
            client.set_launch_plan_state(lp.id, active=True)
    return result


def _defined_in(entity: Any, module: Any) -> bool:
    """Whether an entity belongs to ``module`` (not merely imported into it)."""
    name = getattr(entity, "name", "")
    return isinstance(entity, LaunchPlan) or name.rpartition(".")[0] == module.__name__
