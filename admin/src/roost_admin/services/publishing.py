"""Execution events published as CloudEvents to NATS and webhooks, from a durable outbox.

Enqueueing. When ``events.subscribers`` names any, every workflow, node and task execution event the admin
records (from its engine workers or over the API) becomes one row of ``event_outbox`` in the same
transaction (:func:`enqueue`): a CloudEvent in flyteadmin's shape (type
``com.flyte.resource.cloudevents.WorkflowExecution`` / ``NodeExecution`` / ``TaskExecution``, source the
node's Flyte URL key, id ``<execution id>.<phase>``, data the ``flyteidl.event.CloudEvent*Execution``
message in proto JSON). Its ``seq`` comes from the one row of ``event_sequence``, which the transaction holds
locked until it commits, so rows become visible in ``seq`` order: a reader that has seen ``seq`` n has seen
every row before it, and an execution's events keep the order they were recorded in.

Publishing. :meth:`Publisher.publish_due` walks each subscriber's cursor (``event_cursors``, claimed with a
lease so any number of admins share the work) through the outbox in ``seq`` order: events its filters want
are sent (NATS: to ``<subject>.<project>.<domain>.<kind>``, acknowledged by JetStream when ``stream`` is set,
with ``Nats-Msg-Id`` the event's id so JetStream drops repeats; a webhook: a signed structured-mode POST), the
cursor moves past every event sent or filtered out, and stops at the first one that could not be sent, which
is tried again after a backoff: nothing is skipped while a broker is away, and the backlog drains in order
when it returns. Delivery is at least once (an admin that dies between sending and moving the cursor sends
again). Rows every subscriber's cursor has passed are deleted.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import cloudevents_pb2, event_pb2
from google.protobuf import json_format
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost_admin.config import SubscriberSettings
from roost_admin.db import models
from roost_admin.notifiers._http import post
from roost_admin.services import entities
from roost_admin.services.base import Service
from roost_admin.services.context import ServiceContext
from roost_admin.services.notifications import signature
from roost_admin.services.rows import node_phase_name, task_phase_name, to_datetime, workflow_phase_name

log = logging.getLogger(__name__)

TYPE_PREFIX = "com.flyte.resource.cloudevents."
"""flyteadmin's CloudEvent type prefix; the type ends in WorkflowExecution, NodeExecution or TaskExecution."""
_TYPES = {"workflow": "WorkflowExecution", "node": "NodeExecution", "task": "TaskExecution"}
CLAIM_MARGIN = 60.0
"""Seconds a subscriber's claim lasts beyond the broker's timeout: a round stops at its first failure, so only a
round of many slow successes outlasts it (its cursor update is then refused and its events are sent again)."""
_R = models.EventRecord
_C = models.EventCursor


def _phase(message: Any) -> str:
    if isinstance(message, event_pb2.WorkflowExecutionEvent):
        return workflow_phase_name(int(message.phase))
    if isinstance(message, event_pb2.NodeExecutionEvent):
        return node_phase_name(int(message.phase))
    return task_phase_name(int(message.phase))


def _launch_plan(session: Session, execution: models.Execution) -> identifier_pb2.Identifier | None:
    plan = session.get(models.LaunchPlan, execution.launch_plan_id) if execution.launch_plan_id else None
    if plan is None:
        return None
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=plan.project,
        domain=plan.domain,
        name=plan.name,
        version=plan.version,
    )


def cloud_event(
    ctx: ServiceContext, session: Session, execution: models.Execution, message: Any
) -> tuple[str, CloudEvent]:
    """The kind ("workflow", "node" or "task") and CloudEvent of one recorded event, as flyteadmin's
    CloudEvent publisher makes it (inline input and output data are left out: their URIs stay; a succeeded
    workflow's event carries the workflow's output interface)."""
    raw = type(message)()
    raw.CopyFrom(message)
    key = f"{execution.project}/{execution.domain}/{execution.name}"
    wrapped: Any
    if isinstance(raw, event_pb2.WorkflowExecutionEvent):
        kind, source, ident = "workflow", f"{key}/end-node", key
        if raw.WhichOneof("output_result") == "output_data":
            raw.output_uri = execution.outputs_uri or ""
        wrapped = cloudevents_pb2.CloudEventWorkflowExecution(raw_event=raw, principal=execution.principal)
        workflow = session.get(models.Workflow, execution.workflow_id) if execution.workflow_id else None
        if raw.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED and workflow is not None:
            closure = entities.workflow_message(ctx, workflow).closure
            wrapped.output_interface.CopyFrom(closure.compiled_workflow.primary.template.interface)
    elif isinstance(raw, event_pb2.NodeExecutionEvent):
        kind = "node"
        source = ident = f"{key}/{raw.id.node_id}"
        raw.ClearField("input_data")
        if raw.WhichOneof("output_result") == "output_data":
            raw.ClearField("output_data")
        wrapped = cloudevents_pb2.CloudEventNodeExecution(raw_event=raw, principal=execution.principal)
    else:
        kind = "task"
        node = raw.parent_node_execution_id.node_id
        source = f"{key}/{node}/{raw.retry_attempt}"
        ident = f"{source}/{raw.task_id.name}"
        raw.ClearField("input_data")
        if raw.WhichOneof("output_result") == "output_data":
            raw.ClearField("output_data")
        wrapped = cloudevents_pb2.CloudEventTaskExecution(raw_event=raw)
    if kind != "task":
        plan = _launch_plan(session, execution)
        if plan is not None:
            wrapped.launch_plan_id.CopyFrom(plan)
    phase = _phase(message)
    if kind == "task" and raw.phase_version:
        phase = f"{phase}.{raw.phase_version}"
    occurred = to_datetime(message.occurred_at) if message.HasField("occurred_at") else execution.updated_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=datetime.UTC)
    event = CloudEvent(
        {
            "type": TYPE_PREFIX + _TYPES[kind],
            "source": source,
            "id": f"{ident}.{phase}",
            "time": occurred,
            "datacontenttype": "application/json",
            "subject": key,
            "jsonschemaurl": "",
        },
        json_format.MessageToDict(wrapped),
    )
    return kind, event


def enqueue(ctx: ServiceContext, session: Session, recorded: Sequence[tuple[models.Execution, Any]]) -> None:
    """Put the CloudEvents of events just recorded into the outbox (in the caller's transaction, which this
    leaves holding the sequence's row until it commits)."""
    if not ctx.settings.events.subscribers or not recorded:
        return
    now = ctx.clock()
    made = [(execution, *cloud_event(ctx, session, execution, message)) for execution, message in recorded]
    session.execute(
        update(models.EventSequence)
        .where(models.EventSequence.id == 1)
        .values(last=models.EventSequence.last + len(made))
    )
    last = session.scalar(select(models.EventSequence.last).where(models.EventSequence.id == 1))
    assert last is not None
    first = int(last) - len(made) + 1
    body = JSONFormat()
    for offset, (execution, kind, event) in enumerate(made):
        session.add(
            _R(
                seq=first + offset,
                project=execution.project,
                domain=execution.domain,
                execution=execution.name,
                kind=kind,
                body=body.write(event).decode(),
                created_at=now,
            )
        )


@dataclass(frozen=True)
class PublishRound:
    """What one round did for one subscriber."""

    subscriber: str
    sent: int
    """Events sent (acknowledged) this round."""
    position: int
    """The seq its cursor stands at after the round."""
    error: str
    """Why it stopped early ("" if it did not)."""


@dataclass(frozen=True)
class CursorView:
    """A subscriber's cursor, as ``roost admin events`` shows it."""

    subscriber: str
    position: int
    delivered: int
    pending: int
    attempts: int
    last_error: str


async def _quiet(error: Exception) -> None:
    """nats-py's error callback: the round that failed reports the error itself."""
    log.debug("NATS client error: %s", error)


class _Nats:
    """One subscriber's NATS connection, kept between rounds and dropped on any error."""

    def __init__(self, subscriber: SubscriberSettings, timeout: float) -> None:
        self.subscriber = subscriber
        self.timeout = timeout
        self.client: Any = None
        self.stream_ready = False

    async def send(self, rows: Sequence[tuple[int, str, str, str]]) -> tuple[int, str]:
        """Publish ``rows`` (seq, subject, id, body) in order: how many were taken, and the first error."""
        import nats
        from nats.js.errors import NotFoundError

        subscriber = self.subscriber
        sent = 0
        try:
            if self.client is None or not self.client.is_connected:
                # Fail fast: the outbox, not the client, keeps what could not be sent, and the next round
                # connects again (nats-py would otherwise retry the connection without end).
                self.client = await asyncio.wait_for(
                    nats.connect(
                        subscriber.url,
                        connect_timeout=self.timeout,
                        allow_reconnect=False,
                        max_reconnect_attempts=1,
                        error_cb=_quiet,
                    ),
                    self.timeout * 2,
                )
                self.stream_ready = False
            if subscriber.stream:
                stream = self.client.jetstream(timeout=self.timeout)
                if not self.stream_ready:
                    try:
                        await stream.stream_info(subscriber.stream)
                    except NotFoundError:
                        await stream.add_stream(name=subscriber.stream, subjects=[f"{subscriber.subject}.>"])
                    self.stream_ready = True
                for _, subject, ident, body in rows:
                    await stream.publish(subject, body.encode(), headers={"Nats-Msg-Id": ident})
                    sent += 1
            else:
                for _, subject, _ident, body in rows:
                    await self.client.publish(subject, body.encode())
                await self.client.flush(timeout=self.timeout)
                sent = len(rows)
        except Exception as exc:  # nats-py raises many kinds; any of them means "not taken"
            await self.close()
            return sent, f"NATS at {subscriber.url}: {type(exc).__name__}: {exc}".rstrip(": ")
        return sent, ""

    async def close(self) -> None:
        """Drop the connection (quietly: it may be broken already)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.close()
            except Exception:  # a broken connection may refuse to close; it is dropped either way
                log.debug("closing the NATS connection to %s failed", self.subscriber.url, exc_info=True)


class Publisher(Service):
    """Publishes the outbox to every subscriber (see the module docstring)."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nats: dict[str, _Nats] = {}

    def publish_due(self, owner: str) -> list[PublishRound]:
        """One round as publisher ``owner``: each subscriber that is due and not claimed by another is sent
        the next batch of its events; then delivered rows are pruned."""
        rounds = []
        for subscriber in self.ctx.settings.events.subscribers:
            done = self._round(subscriber, owner)
            if done is not None:
                rounds.append(done)
        self.prune()
        return rounds

    def _claim(self, name: str, owner: str) -> int | None:
        settings = self.ctx.settings.events
        now = self.ctx.clock()
        lease = now + datetime.timedelta(seconds=settings.timeout + CLAIM_MARGIN)
        with self.ctx.db.begin() as session:
            if session.get(_C, name) is None:
                try:
                    with session.begin_nested():
                        session.add(_C(subscriber=name, position=0, delivered=0, attempts=0, last_error=""))
                except IntegrityError:  # another admin made it first
                    pass
            claimed = session.execute(
                update(_C)
                .where(
                    _C.subscriber == name,
                    or_(_C.claimed_by == "", _C.lease_until < now),
                    or_(_C.next_attempt_at.is_(None), _C.next_attempt_at <= now),
                )
                .values(claimed_by=owner, lease_until=lease)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return None
            return int(session.scalars(select(_C.position).where(_C.subscriber == name)).one())

    def _round(self, subscriber: SubscriberSettings, owner: str) -> PublishRound | None:
        position = self._claim(subscriber.name, owner)
        if position is None:
            return None
        with self.ctx.db.session() as session:
            rows = session.execute(
                select(_R.seq, _R.project, _R.domain, _R.kind, _R.body)
                .where(_R.seq > position)
                .order_by(_R.seq)
                .limit(self.ctx.settings.events.batch)
            ).all()
        wanted = [
            row
            for row in rows
            if row.kind in subscriber.types
            and (not subscriber.projects or row.project in subscriber.projects)
            and (not subscriber.domains or row.domain in subscriber.domains)
        ]
        sent, error = self._send(subscriber, wanted) if wanted else (0, "")
        # The cursor passes every row before the first one that was not sent (filtered-out rows included).
        reached = wanted[sent].seq - 1 if sent < len(wanted) else (rows[-1].seq if rows else position)
        return self._settle(subscriber.name, owner, reached, sent, error)

    def _send(self, subscriber: SubscriberSettings, rows: Sequence[Any]) -> tuple[int, str]:
        """Send rows in order: how many were taken, and why the next was not."""
        if not subscriber.is_nats:
            for index, row in enumerate(rows):
                error = self._post(subscriber, row.body)
                if error:
                    return index, error
            return len(rows), ""
        prepared = [
            (
                row.seq,
                f"{subscriber.subject}.{row.project}.{row.domain}.{row.kind}",
                json.loads(row.body)["id"],
                row.body,
            )
            for row in rows
        ]
        connection = self._nats.get(subscriber.name)
        if connection is None or connection.subscriber != subscriber:
            connection = self._nats[subscriber.name] = _Nats(subscriber, self.ctx.settings.events.timeout)
        taken: tuple[int, str] = self._run(connection.send(prepared))
        return taken

    def _run(self, work: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(work)

    def _post(self, subscriber: SubscriberSettings, body: str) -> str:
        """POST one structured-mode CloudEvent; "" when the receiver took it (a 2xx answer)."""
        data = body.encode()
        stamp = str(int(self.ctx.clock().timestamp()))
        return post(
            subscriber.url,
            data,
            {
                "Content-Type": JSONFormat().get_content_type(),
                "User-Agent": "roost-publisher",
                "X-Roost-Delivery": json.loads(body)["id"],
                "X-Roost-Timestamp": stamp,
                "X-Roost-Signature": signature(subscriber.secret, stamp, data),
            },
            self.ctx.settings.events.timeout,
        )

    def _settle(self, name: str, owner: str, reached: int, sent: int, error: str) -> PublishRound:
        settings = self.ctx.settings.events
        now = self.ctx.clock()
        with self.ctx.db.begin() as session:
            cursor = session.get(_C, name)
            assert cursor is not None
            values: dict[str, object] = {
                "position": reached,
                "delivered": cursor.delivered + sent,
                "claimed_by": "",
                "lease_until": None,
            }
            if error:
                attempts = cursor.attempts + 1
                delay = min(settings.backoff * 2 ** (attempts - 1), settings.max_backoff)
                values.update(
                    attempts=attempts,
                    last_error=error,
                    next_attempt_at=now + datetime.timedelta(seconds=delay),
                )
                log.warning("events to %s: %s; trying again in %.1f s", name, error, delay)
            else:
                values.update(attempts=0, next_attempt_at=None, last_error="")
            session.execute(update(_C).where(_C.subscriber == name, _C.claimed_by == owner).values(**values))
        return PublishRound(name, sent, reached, error)

    def prune(self) -> int:
        """Delete the events every configured subscriber's cursor has passed; how many went."""
        names = [subscriber.name for subscriber in self.ctx.settings.events.subscribers]
        if not names:
            return 0
        with self.ctx.db.begin() as session:
            positions = session.scalars(select(_C.position).where(_C.subscriber.in_(names))).all()
            if len(positions) < len(names):  # a subscriber that has no cursor yet still wants everything
                return 0
            deleted = session.execute(delete(_R).where(_R.seq <= min(positions)))
            return int(deleted.rowcount)  # type: ignore[attr-defined]

    def cursors(self) -> list[CursorView]:
        """Each configured subscriber's cursor: where it stands, what it was sent, what waits, its last error."""
        views = []
        with self.ctx.db.session() as session:
            for subscriber in self.ctx.settings.events.subscribers:
                cursor = session.get(_C, subscriber.name)
                position = cursor.position if cursor else 0
                pending = session.scalar(select(func.count()).select_from(_R).where(_R.seq > position)) or 0
                views.append(
                    CursorView(
                        subscriber.name,
                        position,
                        cursor.delivered if cursor else 0,
                        int(pending),
                        cursor.attempts if cursor else 0,
                        cursor.last_error if cursor else "",
                    )
                )
        return views

    def close(self) -> None:
        """Close the NATS connections and the event loop they run on."""
        if self._loop is None:
            return
        for connection in self._nats.values():
            self._loop.run_until_complete(connection.close())
        self._nats.clear()
        self._loop.close()
        self._loop = None
