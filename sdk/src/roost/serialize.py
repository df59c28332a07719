"""From SDK entities to flyteidl: TaskTemplates, WorkflowTemplates, launch plans, and compiled closures."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyteidl.admin import launch_plan_pb2
from flyteidl.core import compiler_pb2, literals_pb2, tasks_pb2, workflow_pb2
from google.protobuf import wrappers_pb2

from roost.errors import WorkflowDefinitionError
from roost.nodes import Node, Overrides

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.launch_plan import LaunchPlan
    from roost.tasks import Task
    from roost.workflows import Workflow


@dataclass(frozen=True)
class SerializationSettings:
    """Where entities are registered and how their containers start."""

    project: str = "roost"
    domain: str = "development"
    version: str = "local"
    image: str = "ghcr.io/roost/roost:latest"
    environment: dict[str, str] = field(default_factory=dict)
    fast_distribution: str = ""
    """The code archive's URI for fast registration; when set, containers unpack it before running."""
    destination_dir: str = "."

    def to_json(self) -> str:
        """These settings as JSON (handed to dynamic tasks in their environment)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SerializationSettings:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))

    def entrypoint(self, args: list[str]) -> list[str]:
        """The container args, prefixed with the code download when registering fast."""
        if not self.fast_distribution:
            return args
        return [
            "roost-fast-execute",
            "--additional-distribution",
            self.fast_distribution,
            "--dest-dir",
            self.destination_dir,
            "--",
            *args,
        ]


class Serializer:
    """Turns entities into flyteidl messages, each entity once, collecting everything a workflow uses."""

    def __init__(self, settings: SerializationSettings) -> None:
        self.settings = settings
        self.tasks: dict[str, tasks_pb2.TaskTemplate] = {}
        self.task_entities: dict[str, Task] = {}
        self.workflows: dict[str, workflow_pb2.WorkflowTemplate] = {}
        self.launch_plans: dict[str, launch_plan_pb2.LaunchPlan] = {}
        self.launch_plan_entities: dict[str, LaunchPlan] = {}
        self.order: list[tuple[str, str]] = []
        """``(kind, name)`` of every message, each after the ones it refers to: the order to register them in
        (tasks before the workflows that run them, a launch plan's workflow before the launch plan, a launch
        plan before the workflows that call it)."""

    # entities

    def task(self, task: Task) -> tasks_pb2.TaskTemplate:
        """The task's template (made once)."""
        found = self.tasks.get(task.name)
        if found is None:
            found = self.tasks[task.name] = task.template(self.settings)
            self.task_entities[task.name] = task
            self.order.append(("task", task.name))
        elif self.task_entities[task.name] is not task:
            raise WorkflowDefinitionError(f"two different tasks are named {task.name!r}")
        return found

    def workflow(self, wf: Workflow) -> workflow_pb2.WorkflowTemplate:
        """The workflow's template, with every entity it uses serialized too."""
        found = self.workflows.get(wf.name)
        if found is not None:
            return found
        nodes, outputs, failure = wf.compile()
        template = workflow_pb2.WorkflowTemplate(
            id=wf.identifier(self.settings),
            interface=wf.interface.typed(),
            nodes=[self.node(n) for n in nodes],
            outputs=[literals_pb2.Binding(var=k, binding=v) for k, v in outputs.items()],
        )
        template.metadata.on_failure = wf.failure_policy.value
        if failure is not None:
            template.failure_node.CopyFrom(self.node(failure))
        self.workflows[wf.name] = template
        self.order.append(("workflow", wf.name))
        return template

    def launch_plan(self, lp: LaunchPlan) -> launch_plan_pb2.LaunchPlan:
        """The launch plan (admin form), with its workflow serialized too."""
        found = self.launch_plans.get(lp.name)
        if found is None:
            self.workflow(lp.workflow)
            found = self.launch_plans[lp.name] = lp.to_proto(self.settings)
            self.launch_plan_entities[lp.name] = lp
            self.order.append(("launch plan", lp.name))
        return found

    # nodes

    def node(self, node: Node) -> workflow_pb2.Node:
        """A workflow node from an SDK node."""
        proto = workflow_pb2.Node(
            id=node.id,
            upstream_node_ids=list(node.upstream),
            inputs=[literals_pb2.Binding(var=k, binding=v) for k, v in node.bindings.items()],
        )
        _metadata(proto.metadata, node.overrides, node.entity)
        node.entity.serialize_target(self, node, proto)
        return proto

    def task_node(self, task: Task, overrides: Overrides) -> workflow_pb2.TaskNode:
        """A TaskNode referring to ``task``, with the node's resource, image and pod template overrides."""
        from roost.options import resources_proto

        template = self.task(task)
        target = workflow_pb2.TaskNode(reference_id=template.id)
        resources = resources_proto(overrides.requests, overrides.limits)
        if resources is not None:
            target.overrides.resources.CopyFrom(resources)
        if overrides.container_image:
            target.overrides.container_image = overrides.container_image
        if overrides.pod_template is not None:
            # A plugin's PodTemplate (roost-k8s-pod) merges the task's container into its primary container.
            override = getattr(overrides.pod_template, "task_node_override", None)
            if override is None:
                raise WorkflowDefinitionError(
                    f"{task.label}: with_overrides(pod_template=...) takes a PodTemplate (from roost_k8s_pod), "
                    f"not {type(overrides.pod_template).__name__}"
                )
            target.overrides.pod_template.CopyFrom(override(template))
        return target

    # results

    def closure(self, wf: Workflow) -> compiler_pb2.CompiledWorkflowClosure:
        """The workflow compiled with the core compiler, as the engine runs it."""
        from roost_core.compiler import CompileError, compile_workflow

        template = self.workflow(wf)
        subworkflows = [t for name, t in self.workflows.items() if name != wf.name]
        try:
            return compile_workflow(template, self.tasks.values(), subworkflows, self.launch_plans.values())
        except CompileError as exc:
            raise WorkflowDefinitionError(f"{wf.label} does not compile:\n{exc}") from None

    def in_order(self) -> Iterator[tuple[str, Any]]:
        """Every message as it is registered, in :attr:`order`: ``("task", TaskSpec)``, ``("workflow",
        WorkflowSpec)`` (with the other workflows as sub-workflows, as pyflyte sends them) and
        ``("launch plan", LaunchPlan)``."""
        from flyteidl.admin import task_pb2
        from flyteidl.admin import workflow_pb2 as admin_workflow_pb2

        for kind, name in self.order:
            if kind == "task":
                yield kind, task_pb2.TaskSpec(template=self.tasks[name])
            elif kind == "workflow":
                subs = [t for n, t in self.workflows.items() if n != name]
                yield kind, admin_workflow_pb2.WorkflowSpec(template=self.workflows[name], sub_workflows=subs)
            else:
                yield kind, self.launch_plans[name]


def _metadata(metadata: workflow_pb2.NodeMetadata, overrides: Overrides, entity: Entity) -> None:
    metadata.name = overrides.name or entity.short_name
    if overrides.retries is not None:
        metadata.retries.retries = overrides.retries
    if overrides.timeout is not None:
        metadata.timeout.FromTimedelta(overrides.timeout)
    if overrides.interruptible is not None:
        metadata.interruptible = overrides.interruptible
    if overrides.cache is not None:
        from roost.options import as_cache

        cache = as_cache(overrides.cache, None, task=entity.short_name)
        metadata.cacheable = cache is not None
        if cache is not None:
            metadata.cache_version = cache.version
            metadata.cache_serializable = cache.serialize


def content_version(entities: Iterable[Any]) -> str:
    """A version derived from the serialized content: unchanged code gives the same version."""
    digest = hashlib.sha256()
    for message in sorted(entities, key=lambda m: m.id.name if hasattr(m, "id") else ""):
        digest.update(message.SerializeToString(deterministic=True))
    return digest.hexdigest()[:20]


def array_node_target(
    serializer: Serializer,
    task: Task,
    overrides: Overrides,
    *,
    parallelism: int | None,
    min_successes: int | None,
    min_success_ratio: float | None,
    bound_inputs: Iterable[str],
) -> workflow_pb2.ArrayNode:
    """An ArrayNode mapping ``task`` (which keeps its element-typed interface) over list inputs."""
    sub = workflow_pb2.Node(id="n0", task_node=serializer.task_node(task, overrides))
    sub.metadata.name = task.short_name
    array = workflow_pb2.ArrayNode(
        node=sub,
        is_original_sub_node_interface=wrappers_pb2.BoolValue(value=True),
        data_mode=workflow_pb2.ArrayNode.INDIVIDUAL_INPUT_FILES,
        bound_inputs=list(bound_inputs),
    )
    if parallelism:
        array.parallelism = parallelism
    if min_successes is not None:
        array.min_successes = min_successes
    elif min_success_ratio is not None:
        array.min_success_ratio = min_success_ratio
    return array
