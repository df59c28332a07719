"""The admin's tables. Rows hold what lists and filters need; specs, closures and data live in the blob store
and rows point to them (``*_uri``), as flyteadmin keeps them.

Phases, states and modes are stored as the integer values of their flyteidl enums.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from roost_admin.db.base import Base, utcnow

_NAME = 255
_ID = 63


class Project(Base):
    """A project: the top of the (project, domain, name, version) namespace."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME))
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    state: Mapped[int] = mapped_column(Integer, default=0)
    """admin.Project.ProjectState: 0 ACTIVE, 1 ARCHIVED, 2 SYSTEM_GENERATED."""
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class _Versioned:
    """Columns every registered, immutable entity has."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(_ID))
    domain: Mapped[str] = mapped_column(String(_ID))
    name: Mapped[str] = mapped_column(String(_NAME))
    version: Mapped[str] = mapped_column(String(_NAME))
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the registered spec: registering the same version again must give the same digest."""
    closure_uri: Mapped[str] = mapped_column(Text)
    """The entity's admin closure (and spec) in the blob store."""
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class Task(_Versioned, Base):
    """A registered task version."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project", "domain", "name", "version"),
        Index(None, "project", "domain", "name", "created_at"),
    )

    type: Mapped[str] = mapped_column(String(_NAME), default="")


class Workflow(_Versioned, Base):
    """A registered workflow version (compiled when it was registered)."""

    __tablename__ = "workflows"
    __table_args__ = (
        UniqueConstraint("project", "domain", "name", "version"),
        Index(None, "project", "domain", "name", "created_at"),
    )


class LaunchPlan(_Versioned, Base):
    """A registered launch plan version; at most one version per name is ACTIVE."""

    __tablename__ = "launch_plans"
    __table_args__ = (
        UniqueConstraint("project", "domain", "name", "version"),
        Index(None, "project", "domain", "name", "created_at"),
        Index(None, "project", "domain", "name", "state"),
    )

    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"))
    state: Mapped[int] = mapped_column(Integer, default=0)
    """admin.LaunchPlanState: 0 INACTIVE, 1 ACTIVE."""
    schedule_type: Mapped[str] = mapped_column(String(16), default="")
    """"" (none), "cron" or "rate"."""
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    workflow: Mapped[Workflow] = relationship()


class NamedEntityMetadata(Base):
    """The mutable description and state of a named entity (the name across all its versions)."""

    __tablename__ = "named_entity_metadata"

    resource_type: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    domain: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[int] = mapped_column(Integer, default=0)
    """admin.NamedEntityState: 0 ACTIVE, 1 ARCHIVED, 2 SYSTEM_GENERATED."""


class DescriptionEntity(Base):
    """The documentation of a registered task or workflow version."""

    __tablename__ = "description_entities"
    __table_args__ = (
        UniqueConstraint(
            "resource_type", "project", "domain", "name", "version", name="uq_description_entities_id"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[int] = mapped_column(Integer)
    project: Mapped[str] = mapped_column(String(_ID))
    domain: Mapped[str] = mapped_column(String(_ID))
    name: Mapped[str] = mapped_column(String(_NAME))
    version: Mapped[str] = mapped_column(String(_NAME))
    short_description: Mapped[str] = mapped_column(Text, default="")
    long_description: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    """The serialized admin.Description (value or uri, format, icon link)."""
    source_code_link: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class Execution(Base):
    """A workflow execution: its place in the lists, its phase, and the engine's claim on it."""

    __tablename__ = "executions"
    __table_args__ = (
        UniqueConstraint("project", "domain", "name"),
        # Lists newest first, paged by keyset: (created_at, id) is the order and the position a token holds;
        # lists leave archived executions out, so the state comes before them.
        Index(None, "project", "domain", "state", "created_at", "id"),
        # Lists filtered by phase (what is queued or running now): without it, a rare phase makes the newest-first
        # scan above read every execution of the project and domain before it fills a page. It also covers the
        # counts per phase, which then read the index alone.
        Index(None, "project", "domain", "phase", "state", "created_at", "id"),
        Index(None, "parent_node_execution_id"),
        # Lists filtered by launch plan (a schedule's runs, the console's launch-plan page), newest first.
        Index(None, "launch_plan_id", "created_at"),
        # The engine workers' claim queries: due executions, expired leases, and a worker's own claims.
        Index(None, "wake_at"),
        Index(None, "lease_until"),
        Index(None, "claimed_by"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(_ID))
    domain: Mapped[str] = mapped_column(String(_ID))
    name: Mapped[str] = mapped_column(String(_ID))
    launch_plan_id: Mapped[int | None] = mapped_column(ForeignKey("launch_plans.id"))
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    """Set for single-task executions."""
    parent_node_execution_id: Mapped[int | None] = mapped_column(Integer, default=None)
    """The launch-plan node (node_executions.id) that started this execution, for child executions. Not a
    foreign key: executions and node executions would refer to each other."""
    phase: Mapped[int] = mapped_column(Integer, default=0)
    """core.WorkflowExecution.Phase."""
    state: Mapped[int] = mapped_column(Integer, default=0)
    """admin.ExecutionState: 0 ACTIVE, 1 ARCHIVED."""
    state_changed_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    """When ``state`` last changed (archived or re-activated); None until it first does."""
    mode: Mapped[int] = mapped_column(Integer, default=0)
    """admin.ExecutionMetadata.ExecutionMode."""
    principal: Mapped[str] = mapped_column(String(_NAME), default="")
    cluster: Mapped[str] = mapped_column(String(_ID), default="")
    spec_uri: Mapped[str] = mapped_column(Text)
    """The admin ExecutionSpec in the blob store."""
    inputs_uri: Mapped[str] = mapped_column(Text, default="")
    """All inputs (defaults and fixed inputs merged in)."""
    user_inputs_uri: Mapped[str] = mapped_column(Text, default="")
    """The inputs as the caller sent them."""
    outputs_uri: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str] = mapped_column(String(_NAME), default="")
    error_kind: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str] = mapped_column(Text, default="")
    abort_cause: Mapped[str] = mapped_column(Text, default="")
    abort_principal: Mapped[str] = mapped_column(String(_NAME), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    """When the last event changed the execution (claims and wake-ups leave it alone)."""
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    """Seconds from start to the end (or to the last update while running)."""
    claimed_by: Mapped[str] = mapped_column(String(_NAME), default="")
    """The engine worker evaluating the execution now."""
    lease_until: Mapped[datetime.datetime | None] = mapped_column(default=None)
    """When the worker's claim ends unless it heartbeats; another worker may then take the execution."""
    wake_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    """Unclaimed: when the execution wants its next round (None once it ended). Claimed: set by whoever
    changed the execution from outside (terminate, a signal, a child ending) to make the holder look at it."""
    held_limit: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Above 0: the execution waits (QUEUED, unclaimable, not counted as active) until fewer than this many
    executions of its launch plan are active (the launch plan's concurrency policy with ``wait``)."""

    state_row: Mapped[ExecutionState | None] = relationship(back_populates="execution", cascade="all")


class ExecutionState(Base):
    """The engine's saved state of an execution (``roost_core.engine.ExecutionState.to_dict``)."""

    __tablename__ = "execution_states"

    execution_id: Mapped[int] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    execution: Mapped[Execution] = relationship(back_populates="state_row")


class NodeExecution(Base):
    """One node of an execution, as its events describe it."""

    __tablename__ = "node_executions"
    __table_args__ = (
        UniqueConstraint("execution_id", "node_id"),
        Index(None, "execution_id", "created_at"),
        Index(None, "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(_NAME))
    """The node's unique id within the execution."""
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("node_executions.id"))
    """The parent node (branch, sub-workflow, dynamic, map) for nested nodes."""
    spec_node_id: Mapped[str] = mapped_column(String(_NAME), default="")
    node_name: Mapped[str] = mapped_column(String(_NAME), default="")
    retry_group: Mapped[str] = mapped_column(String(_ID), default="")
    phase: Mapped[int] = mapped_column(Integer, default=0)
    """core.NodeExecution.Phase."""
    is_parent: Mapped[bool] = mapped_column(default=False)
    is_dynamic: Mapped[bool] = mapped_column(default=False)
    is_array: Mapped[bool] = mapped_column(default=False)
    input_uri: Mapped[str] = mapped_column(Text, default="")
    output_uri: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str] = mapped_column(String(_NAME), default="")
    error_kind: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str] = mapped_column(Text, default="")
    cache_status: Mapped[int] = mapped_column(Integer, default=0)
    child_execution: Mapped[str] = mapped_column(String(_NAME * 2), default="")
    """``project/domain/name`` of the execution a launch-plan node started."""
    dynamic_workflow_uri: Mapped[str] = mapped_column(Text, default="")
    """The compiled workflow a dynamic node generated, in the blob store."""
    target: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """The identifier of the entity the node runs (task, workflow or launch plan)."""
    event_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    duration: Mapped[float] = mapped_column(Float, default=0.0)


class TaskExecution(Base):
    """One attempt of a task node, as its events describe it."""

    __tablename__ = "task_executions"
    __table_args__ = (
        UniqueConstraint(
            "node_execution_id", "task_project", "task_domain", "task_name", "task_version", "retry_attempt"
        ),
        Index(None, "node_execution_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_execution_id: Mapped[int] = mapped_column(ForeignKey("node_executions.id", ondelete="CASCADE"))
    task_project: Mapped[str] = mapped_column(String(_ID))
    task_domain: Mapped[str] = mapped_column(String(_ID))
    task_name: Mapped[str] = mapped_column(String(_NAME))
    task_version: Mapped[str] = mapped_column(String(_NAME))
    retry_attempt: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[int] = mapped_column(Integer, default=0)
    """core.TaskExecution.Phase."""
    phase_version: Mapped[int] = mapped_column(Integer, default=0)
    task_type: Mapped[str] = mapped_column(String(_NAME), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    logs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    custom_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metadata_json: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    """event.TaskExecutionMetadata as JSON (external resources of map tasks, ...)."""
    input_uri: Mapped[str] = mapped_column(Text, default="")
    output_uri: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str] = mapped_column(String(_NAME), default="")
    error_kind: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str] = mapped_column(Text, default="")
    event_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    duration: Mapped[float] = mapped_column(Float, default=0.0)

    node: Mapped[NodeExecution] = relationship()
    """The node execution (a new attempt of a new node gets its id when both are inserted, in one flush)."""


class Signal(Base):
    """A signal a gate node of an execution waits for, and its value once someone set it."""

    __tablename__ = "signals"
    __table_args__ = (UniqueConstraint("execution_id", "signal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    signal_id: Mapped[str] = mapped_column(String(_NAME))
    type: Mapped[bytes] = mapped_column(LargeBinary)
    """The serialized core.LiteralType the value must have."""
    value: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """The serialized core.Literal, once set."""
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleState(Base):
    """The running schedule of a launch plan name's active version: when it fires next, and which scheduler is
    firing it now. Activation makes (or replaces) the row, deactivation deletes it."""

    __tablename__ = "schedules"
    __table_args__ = (Index(None, "next_fire_at"),)

    project: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    domain: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    launch_plan_id: Mapped[int] = mapped_column(ForeignKey("launch_plans.id"))
    """The active version whose schedule this is."""
    anchor: Mapped[datetime.datetime] = mapped_column()
    """When that version was activated: a fixed rate counts its periods from here, and nothing before it is
    caught up."""
    next_fire_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    """The first fire time not launched yet (None: the schedule has no more times)."""
    last_fire_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    """The last fire time launched."""
    claimed_by: Mapped[str] = mapped_column(String(_NAME), default="")
    """The scheduler firing it now (a claim, so two schedulers do not do the same work)."""
    lease_until: Mapped[datetime.datetime | None] = mapped_column(default=None)
    """When that claim lapses if its scheduler died."""
    last_error: Mapped[str] = mapped_column(Text, default="")
    """Why the last launch failed ("" when it did not)."""
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """One message to one channel about one ended execution, in the outbox until it is delivered (or has
    failed every attempt). Inserted in the transaction that records the execution's end."""

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "state", "next_attempt_at"), Index(None, "execution_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """Sent with every attempt, so a receiver can drop repeats."""
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(_ID))
    """A webhook's name, or the kind of Flyte notification ("email", "slack", "pager_duty")."""
    kind: Mapped[str] = mapped_column(String(16))
    """The channel that sends it ("webhook", "email", "slack", "pagerduty", or a plugin's)."""
    phase: Mapped[int] = mapped_column(Integer)
    """The phase the execution ended in."""
    body: Mapped[str] = mapped_column(Text)
    """The message, as sent (JSON)."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """"pending", "delivered" or "failed"."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str] = mapped_column(String(_NAME), default="")
    lease_until: Mapped[datetime.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime.datetime | None] = mapped_column(default=None)


class MatchableAttribute(Base):
    """One matchable attribute (Flyte's "resource"): the settings of one kind for a project, a project and
    domain, or a workflow in one. Empty ``domain`` and ``workflow`` mark the broader levels."""

    __tablename__ = "matchable_attributes"
    __table_args__ = (
        UniqueConstraint(
            "resource_type",
            "project",
            "domain",
            "workflow",
            "launch_plan",
            name="uq_matchable_attributes_scope",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[int] = mapped_column(Integer)
    """admin.MatchableResource."""
    project: Mapped[str] = mapped_column(String(_ID))
    domain: Mapped[str] = mapped_column(String(_ID), default="")
    workflow: Mapped[str] = mapped_column(String(_NAME), default="")
    launch_plan: Mapped[str] = mapped_column(String(_NAME), default="")
    attributes: Mapped[bytes] = mapped_column(LargeBinary)
    """The serialized admin.MatchingAttributes."""
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class EventRecord(Base):
    """One execution event as a CloudEvent, in the outbox until every subscriber's cursor has passed it.
    Inserted in the transaction that records the event; ``seq`` comes from :class:`EventSequence`, whose row
    that transaction holds locked until it commits, so events become visible in ``seq`` order."""

    __tablename__ = "event_outbox"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    project: Mapped[str] = mapped_column(String(_ID))
    domain: Mapped[str] = mapped_column(String(_ID))
    execution: Mapped[str] = mapped_column(String(_NAME))
    """The execution's name."""
    kind: Mapped[str] = mapped_column(String(16))
    """"workflow", "node" or "task"."""
    body: Mapped[str] = mapped_column(Text)
    """The CloudEvent, in its structured JSON form (as a webhook gets it)."""
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class EventSequence(Base):
    """The one row numbering the outbox (``last``: the highest ``seq`` given out)."""

    __tablename__ = "event_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class EventCursor(Base):
    """How far one subscriber has been sent the outbox, and who is sending it now."""

    __tablename__ = "event_cursors"

    subscriber: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    """The ``seq`` of the last event it was sent (or skipped by its filters)."""
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    """Events sent to it so far."""
    claimed_by: Mapped[str] = mapped_column(String(_NAME), default="")
    lease_until: Mapped[datetime.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts in a row at the event after ``position``."""
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
