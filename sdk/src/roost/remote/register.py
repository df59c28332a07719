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
from roost.errors import WorkflowDefinitionError
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
    skipped: list[str] = field(default_factory=list)
    """With ``skip_errors``: each file or entity left out, and why."""


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
    skip_errors: bool = False,
) -> Registration:
    """Upload the sources of ``path`` and register its entities (or just ``entities`` and what they use).

    Every workflow also gets its default launch plan (same name and version), as ``pyflyte register`` does.
    Messages go to the admin in dependency order (tasks, then each launch plan's workflow, the launch plan,
    then the workflows that call it). Nothing is registered when a file does not load or a workflow does
    not compile, unless ``skip_errors``: then the rest is registered and :attr:`Registration.skipped` says
    what was left out.
    """
    files = python_files(path)
    if not files:
        raise FileNotFoundError(f"no Python files at {path}")
    code = load_modules(path)
    code.check(path, "nothing was registered", skip_errors=skip_errors)
    skipped = [f"{failure.file}: {failure.reason}" for failure in code.failures]
    chosen: list[Any] = (
        list(entities)
        if entities is not None
        else [
            entity
            for module in code.modules
            for entity in entities_in(module, (Task, Workflow, LaunchPlan)).values()
            if _defined_in(entity, module)
        ]
    )
    chosen = _compiling(chosen, skipped, skip_errors=skip_errors)
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
    serializer = _serialized(chosen, settings)
    result = Registration(version, distribution, serializer, skipped=skipped)
    from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

    for kind, message in serializer.in_order():
        if kind == "task":
            client.create(kind, task_pb2.TaskCreateRequest(id=message.template.id, spec=message))
            result.tasks.append(message.template.id.name)
        elif kind == "workflow":
            client.create(kind, workflow_pb2.WorkflowCreateRequest(id=message.template.id, spec=message))
            result.workflows.append(message.template.id.name)
        else:
            client.create(kind, launch_plan_pb2.LaunchPlanCreateRequest(id=message.id, spec=message.spec))
            result.launch_plans.append(message.id.name)
            if activate:
                client.set_launch_plan_state(message.id, active=True)
    return result


def _serialized(entities: Iterable[Any], settings: SerializationSettings) -> Serializer:
    """Every entity (and what it uses) serialized; each workflow with its default launch plan."""
    serializer = Serializer(settings)
    for entity in entities:
        if isinstance(entity, Task):
            serializer.task(entity)
        elif isinstance(entity, Workflow):
            serializer.workflow(entity)
            serializer.launch_plan(LaunchPlan.get_or_create(entity))
        elif isinstance(entity, LaunchPlan):
            serializer.launch_plan(entity)
    return serializer


def _compiling(entities: list[Any], skipped: list[str], *, skip_errors: bool) -> list[Any]:
    """The entities whose workflows compile (checked here, before anything is uploaded or registered); the
    first that does not raises, unless ``skip_errors``: then it is left out and named in ``skipped``."""
    kept = []
    for entity in entities:
        try:
            serializer = _serialized([entity], SerializationSettings())
            if isinstance(entity, (Workflow, LaunchPlan)):
                serializer.closure(entity if isinstance(entity, Workflow) else entity.workflow)
        except WorkflowDefinitionError as exc:
            if not skip_errors:
                raise
            skipped.append(f"{entity.label}: {exc}")
            continue
        kept.append(entity)
    return kept


def _defined_in(entity: Any, module: Any) -> bool:
    """Whether an entity belongs to ``module`` (not merely imported into it)."""
    name = getattr(entity, "name", "")
    return isinstance(entity, LaunchPlan) or name.rpartition(".")[0] == module.__name__
