"""A workflow the scheduler tests schedule (it takes the scheduled time as an input), and helpers that register
launch plans of it with any schedule through the services."""

from __future__ import annotations

import datetime

import registry_flows
from flyteidl.admin import common_pb2, launch_plan_pb2, schedule_pb2
from flyteidl.core import identifier_pb2

from roost import CronSchedule, LaunchPlan, task, workflow
from roost_admin.services import Services

PROJECT = registry_flows.PROJECT
DOMAIN = registry_flows.DOMAIN


@task
def stamp(kickoff: datetime.datetime, label: str) -> str:
    """The scheduled time, labelled."""
    return f"{label}@{kickoff.isoformat()}"


@workflow
def stamped(kickoff: datetime.datetime, label: str = "run") -> str:
    """Stamps the time it was scheduled for."""
    return stamp(kickoff=kickoff, label=label)


every_minute = LaunchPlan.get_or_create(
    stamped,
    "schedule_flows.every_minute",
    schedule=CronSchedule("* * * * *", kickoff_time_input_arg="kickoff"),
)


class Registrar:
    """What ``registry_flows.register`` calls, served by the registry service directly."""

    def __init__(self, services: Services) -> None:
        self.CreateTask = services.registry.create_task
        self.CreateWorkflow = services.registry.create_workflow
        self.CreateLaunchPlan = services.registry.create_launch_plan


def cron(expression: str, offset: str = "", kickoff: str = "kickoff") -> schedule_pb2.Schedule:
    """A CronSchedule."""
    return schedule_pb2.Schedule(
        cron_schedule=schedule_pb2.CronSchedule(schedule=expression, offset=offset),
        kickoff_time_input_arg=kickoff,
    )


def rate(value: int, unit: int = schedule_pb2.MINUTE, kickoff: str = "kickoff") -> schedule_pb2.Schedule:
    """A FixedRate."""
    return schedule_pb2.Schedule(
        rate=schedule_pb2.FixedRate(value=value, unit=unit), kickoff_time_input_arg=kickoff
    )


def register_workflow(services: Services, version: str = "v1") -> None:
    """Register the workflow (and its task)."""
    registry_flows.register(Registrar(services), registry_flows.serialize(stamped, version=version))


def plan_id(name: str, version: str = "v1") -> identifier_pb2.Identifier:
    """A launch plan version's identifier."""
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def create_plan(
    name: str,
    schedule: schedule_pb2.Schedule,
    *,
    version: str = "v1",
    workflow_version: str = "v1",
    annotations: dict[str, str] | None = None,
) -> launch_plan_pb2.LaunchPlanCreateRequest:
    """A CreateLaunchPlan request for ``stamped`` with ``schedule``."""
    serializer = registry_flows.serialize(every_minute, version=workflow_version)
    plan = serializer.launch_plans["schedule_flows.every_minute"]
    request = launch_plan_pb2.LaunchPlanCreateRequest(id=plan_id(name, version), spec=plan.spec)
    request.spec.entity_metadata.schedule.CopyFrom(schedule)
    for key, value in (annotations or {}).items():
        request.spec.annotations.values[key] = value
    return request


def register_plan(services: Services, name: str, schedule: schedule_pb2.Schedule, **options: object) -> None:
    """Register a launch plan of ``stamped`` with ``schedule`` (inactive)."""
    services.registry.create_launch_plan(create_plan(name, schedule, **options))  # type: ignore[arg-type]


def set_active(services: Services, name: str, active: bool = True, version: str = "v1") -> None:
    """Activate or deactivate a launch plan version, as UpdateLaunchPlan does."""
    services.registry.update_launch_plan(
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=plan_id(name, version), state=launch_plan_pb2.ACTIVE if active else launch_plan_pb2.INACTIVE
        )
    )


def execution_names(services: Services) -> list[str]:
    """Every execution's name in the project and domain."""
    listed = services.executions.list_executions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=10_000
        )
    )
    return [execution.id.name for execution in listed.executions]
