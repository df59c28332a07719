"""Workflows the registry tests register, serialized by the Roost SDK as `roost package` does, and helpers
that send them to an admin over gRPC."""

from __future__ import annotations

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.service import admin_pb2_grpc

from roost import CronSchedule, LaunchPlan, conditional, dynamic, map_task, task, workflow
from roost.serialize import SerializationSettings, Serializer

PROJECT = "flytesnacks"
DOMAIN = "development"


@task
def add_one(x: int) -> int:
    """x + 1."""
    return x + 1


@task
def square(x: int) -> int:
    """x squared."""
    return x * x


@task
def total(values: list[int]) -> int:
    """The sum."""
    return sum(values)


@workflow
def inner(x: int) -> int:
    """One more than x."""
    return add_one(x=x)


@workflow
def outer(x: int = 1) -> int:
    """A task, then a sub-workflow."""
    return inner(x=square(x=x))


@workflow
def mapped(xs: list[int]) -> int:
    """Square every element (an array node), then add them up."""
    return total(values=map_task(square)(x=xs))


@workflow
def branching(x: int) -> int:
    """Square big numbers, add one to the others."""
    return conditional("big").if_(x > 5).then(square(x=x)).else_().then(add_one(x=x))


@dynamic
def fan(n: int) -> int:
    """Add one n times (the nodes exist only at run time)."""
    value = 0
    for _ in range(n):
        value = add_one(x=value)
    return value


@workflow
def dyn(n: int = 3) -> int:
    """A dynamic task."""
    return fan(n=n)


inner_lp = LaunchPlan.get_or_create(inner, "registry_flows.inner_lp", default_inputs={"x": 2})


@workflow
def parent(x: int) -> int:
    """Launches inner_lp as a child execution."""
    return inner_lp(x=x)


nightly = LaunchPlan.get_or_create(
    outer, "registry_flows.nightly", fixed_inputs={"x": 4}, schedule=CronSchedule("0 * * * *")
)

ALL = (outer, mapped, branching, dyn, parent, nightly)


def serialize(
    *entities: object, version: str = "v1", project: str = PROJECT, domain: str = DOMAIN
) -> Serializer:
    """Every task, workflow and launch plan the entities use; workflows get their default launch plans."""
    serializer = Serializer(SerializationSettings(project=project, domain=domain, version=version))
    for entity in entities or ALL:
        if isinstance(entity, LaunchPlan):
            serializer.launch_plan(entity)
        else:
            serializer.workflow(entity)  # type: ignore[arg-type]
            serializer.launch_plan(LaunchPlan.get_or_create(entity))  # type: ignore[arg-type]
    return serializer


def task_requests(serializer: Serializer) -> list[task_pb2.TaskCreateRequest]:
    """CreateTask requests."""
    return [
        task_pb2.TaskCreateRequest(id=t.id, spec=task_pb2.TaskSpec(template=t))
        for t in serializer.tasks.values()
    ]


def workflow_request(serializer: Serializer, name: str) -> workflow_pb2.WorkflowCreateRequest:
    """A CreateWorkflow request carrying every other workflow as a sub-workflow, as `roost package` does."""
    template = serializer.workflows[name]
    subs = [t for n, t in serializer.workflows.items() if n != name]
    return workflow_pb2.WorkflowCreateRequest(
        id=template.id, spec=workflow_pb2.WorkflowSpec(template=template, sub_workflows=subs)
    )


def launch_plan_request(plan: launch_plan_pb2.LaunchPlan) -> launch_plan_pb2.LaunchPlanCreateRequest:
    """A CreateLaunchPlan request."""
    return launch_plan_pb2.LaunchPlanCreateRequest(id=plan.id, spec=plan.spec)


def register(admin: admin_pb2_grpc.AdminServiceStub, serializer: Serializer) -> None:
    """Register everything, dependencies first: tasks, then workflows and launch plans as they become
    registrable (a workflow after the launch plans its nodes launch, a launch plan after its workflow)."""
    for request in task_requests(serializer):
        admin.CreateTask(request)
    registered: set[str] = set()
    pending: list[tuple[str, str]] = [("wf", n) for n in serializer.workflows] + [
        ("lp", n) for n in serializer.launch_plans
    ]
    while pending:
        ready = [item for item in pending if _needs(serializer, *item) <= registered]
        assert ready, f"cannot order {pending}"
        for kind, name in ready:
            if kind == "wf":
                admin.CreateWorkflow(workflow_request(serializer, name))
            else:
                admin.CreateLaunchPlan(launch_plan_request(serializer.launch_plans[name]))
            registered.add(f"{kind}:{name}")
            pending.remove((kind, name))


def _needs(serializer: Serializer, kind: str, name: str) -> set[str]:
    if kind == "lp":
        return {f"wf:{serializer.launch_plans[name].spec.workflow_id.name}"}
    nodes = serializer.workflows[name].nodes
    return {
        f"lp:{n.workflow_node.launchplan_ref.name}"
        for n in nodes
        if n.workflow_node.HasField("launchplan_ref")
    }
