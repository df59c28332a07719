"""Notifications of ended executions, delivered at least once from a durable outbox.

Enqueueing. When an execution's terminal phase (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) is recorded, the same
transaction inserts one row in ``notifications`` per message (:func:`enqueue`): each of
``notifications.webhooks`` in the settings whose phases, projects and domains match, and each email, Slack or
PagerDuty notification of the execution, or else of its launch plan, that names the phase, composed by the
channel ``notifications.routes`` sends that kind through (email, as flyteadmin sends all three, unless routed to
the native ``slack`` or ``pagerduty`` channel or a plugin's; see :mod:`roost_admin.notifiers`). An execution
created with ``disable_all`` gets none. So a notification exists exactly when the end is recorded, and nothing
about delivering it can delay or fail the execution.

Delivering. :meth:`Notifier.deliver_due` (run by a thread of ``roost start``) claims due rows (a conditional
UPDATE with a lease, so any number of notifiers share the outbox), sends each, and marks it delivered, or due
again after a backoff that doubles up to ``max_backoff``, or failed after ``max_attempts`` (its last error
kept, :meth:`Notifier.list_for_execution` shows it); the row's channel (``kind``) sends it. A webhook gets a
JSON POST with the headers ``X-Roost-Delivery`` (the row's id, the same on every attempt: receivers drop
repeats by it), ``X-Roost-Timestamp`` (Unix seconds) and ``X-Roost-Signature: sha256=<hex>``, the HMAC-SHA256
under the webhook's secret of ``<timestamp>.<body>`` (:func:`signature`). An email goes to the mail server
with the row's id as its ``Message-ID``.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from roost_admin.config import WebhookSettings
from roost_admin.db import models
from roost_admin.notifiers import Ended, render
from roost_admin.notifiers.webhook import signature
from roost_admin.services import entities, validation
from roost_admin.services.base import Service
from roost_admin.services.context import ServiceContext
from roost_admin.services.rows import get_execution, workflow_phase_name

log = logging.getLogger(__name__)

__all__ = ["Delivery", "NotificationView", "Notifier", "enqueue", "message", "render", "signature"]

WEBHOOK = "webhook"
DELIVERY_BATCH = 20
"""Notifications one round claims at most."""
CLAIM_MARGIN = 30.0
"""Seconds a claim lasts beyond the receiver's timeout."""
_N = models.Notification


def _wants(hook: WebhookSettings, row: models.Execution, phase: str) -> bool:
    return (
        phase in hook.phases
        and (not hook.projects or row.project in hook.projects)
        and (not hook.domains or row.domain in hook.domains)
    )


def message(ctx: ServiceContext, session: Session, row: models.Execution, ident: str) -> dict[str, Any]:
    """What a channel is told of an ended execution (Flyte's template variables: project, domain, name, phase,
    error, workflow and launch plan, a link to the execution)."""
    phase = workflow_phase_name(row.phase)
    moment = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=datetime.UTC)

    def entity(model: Any, entity_id: int | None) -> dict[str, str] | None:
        found = session.get(model, entity_id) if entity_id is not None else None
        if found is None:
            return None
        return {
            "project": found.project,
            "domain": found.domain,
            "name": found.name,
            "version": found.version,
        }

    console = ctx.settings.notifications.console_url.rstrip("/")
    return {
        "id": ident,
        "type": "execution.ended",
        "occurred_at": moment.isoformat(),
        "execution": {"project": row.project, "domain": row.domain, "name": row.name},
        "phase": phase,
        "error": {"code": row.error_code, "message": row.error_message}
        if row.error_code or row.error_message
        else None,
        "abort_cause": row.abort_cause or None,
        "launch_plan": entity(models.LaunchPlan, row.launch_plan_id),
        "workflow": entity(models.Workflow, row.workflow_id),
        "principal": row.principal,
        "link": f"{console}/console/projects/{row.project}/domains/{row.domain}/executions/{row.name}"
        if console
        else None,
    }


def _variables(told: dict[str, Any]) -> dict[str, str]:
    """The template variables of a message (see :func:`message`)."""
    variables = {
        "project": told["execution"]["project"],
        "domain": told["execution"]["domain"],
        "name": told["execution"]["name"],
        "phase": told["phase"].lower(),
        "error": told["error"]["message"] if told["error"] else "",
        "link": told["link"] or "",
    }
    for entity in ("workflow", "launch_plan"):
        for key in ("project", "domain", "name", "version"):
            variables[f"{entity}.{key}"] = (told[entity] or {}).get(key, "")
    return variables


def _wanted(
    ctx: ServiceContext, spec: execution_pb2.ExecutionSpec, row: models.Execution, session: Session
) -> list[tuple[str, list[str], str]]:
    """The execution's own notifications, else its launch plan's: (channel, recipients, template) of those
    that want its phase."""
    notifications: Sequence[common_pb2.Notification] = spec.notifications.notifications
    if not spec.HasField("notifications") and row.launch_plan_id is not None:
        plan_row = session.get(models.LaunchPlan, row.launch_plan_id)
        if plan_row is not None:
            notifications = entities.launch_plan_message(ctx, plan_row).spec.entity_metadata.notifications
    wanted = []
    for notification in notifications:
        channel = notification.WhichOneof("type")
        if channel is None or row.phase not in notification.phases:
            continue
        detail = getattr(notification, channel)
        wanted.append((channel, list(detail.recipients_email), detail.template))
    return wanted


def enqueue(ctx: ServiceContext, session: Session, ended: Sequence[models.Execution]) -> None:
    """Put the notifications of executions that just ended into the outbox (in the caller's transaction)."""
    settings = ctx.settings.notifications
    if not settings.webhooks and settings.smtp is None and set(settings.routes.values()) == {"email"}:
        return  # nothing could be sent: no need to read the executions' specs
    channels = ctx.channels()
    now = ctx.clock()

    def add(row: models.Execution, ident: str, label: str, kind: str, body: dict[str, Any]) -> None:
        session.add(
            _N(
                id=ident,
                execution_id=row.id,
                channel=label,
                kind=kind,
                phase=row.phase,
                body=json.dumps(body, sort_keys=True),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                claimed_by="",
                last_error="",
                created_at=now,
            )
        )

    for row in ended:
        phase = workflow_phase_name(row.phase)
        spec = entities.load_closure(ctx, row.spec_uri, execution_pb2.ExecutionSpec, owner="an execution")
        if spec.disable_all:
            continue
        for hook in settings.webhooks:
            if _wants(hook, row, phase):
                ident = str(uuid.uuid4())
                add(row, ident, hook.name, WEBHOOK, message(ctx, session, row, ident))
        for kind, recipients, template in _wanted(ctx, spec, row, session):
            name = settings.routes[kind]
            channel = channels.get(name)
            if channel is None:  # its plugin was uninstalled after the launch plan was registered
                log.warning(
                    "notification of %s (%s) left out: channel %r is not registered", row.name, kind, name
                )
                continue
            ident = str(uuid.uuid4())
            told = message(ctx, session, row, ident)
            composed = channel.compose(Ended(ident, told, _variables(told), recipients, template))
            for number, body in enumerate(composed):
                add(row, ident if number == 0 else str(uuid.uuid4()), kind, name, body)


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a notification."""

    id: str
    channel: str
    state: str
    """"delivered", "pending" (retried later) or "failed" (no attempt left)."""
    error: str


@dataclass(frozen=True)
class NotificationView:
    """A notification of an execution, as ``roost admin notifications`` shows it."""

    id: str
    channel: str
    phase: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None


class Notifier(Service):
    """Delivers the outbox (see the module docstring)."""

    def deliver_due(self, owner: str) -> list[Delivery]:
        """One round as notifier ``owner``: claim due notifications and try each once."""
        settings = self.ctx.settings.notifications
        now = self.ctx.clock()
        with self.ctx.db.session() as session:
            ids = session.scalars(
                select(_N.id)
                .where(
                    _N.state == "pending",
                    _N.next_attempt_at <= now,
                    or_(_N.claimed_by == "", _N.lease_until < now),
                )
                .order_by(_N.next_attempt_at)
                .limit(DELIVERY_BATCH)
            ).all()
        lease = now + datetime.timedelta(seconds=settings.timeout + CLAIM_MARGIN)
        deliveries = []
        for ident in ids:
            with self.ctx.db.begin() as session:
                claimed = session.execute(
                    update(_N)
                    .where(
                        _N.id == ident,
                        _N.state == "pending",
                        or_(_N.claimed_by == "", _N.lease_until < now),
                    )
                    .values(claimed_by=owner, lease_until=lease)
                )
                row = session.get(_N, ident) if claimed.rowcount else None  # type: ignore[attr-defined]
                if row is None:
                    continue
                channel, kind, body, attempts = row.channel, row.kind, row.body, row.attempts
            error, final = self._send(kind, channel, ident, body)
            deliveries.append(self._settle(ident, owner, channel, attempts + 1, error, final=final))
        return deliveries

    def _send(self, kind: str, label: str, ident: str, body: str) -> tuple[str, bool]:
        """Deliver one notification: what went wrong ("" if nothing), and whether retrying is pointless."""
        channel = self.ctx.channels().get(kind)
        if channel is None:
            return f"channel '{kind}' is not registered", True
        if kind == WEBHOOK and all(hook.name != label for hook in self.ctx.settings.notifications.webhooks):
            return f"webhook '{label}' is no longer configured", True
        return channel.send(ident, label, json.loads(body)), False

    def _settle(
        self, ident: str, owner: str, channel: str, attempts: int, error: str, *, final: bool
    ) -> Delivery:
        settings = self.ctx.settings.notifications
        now = self.ctx.clock()
        values: dict[str, object] = {
            "attempts": attempts,
            "claimed_by": "",
            "lease_until": None,
            "last_error": error,
        }
        if not error:
            state = "delivered"
            values.update(state=state, delivered_at=now, next_attempt_at=None)
        elif final or attempts >= settings.max_attempts:
            state = "failed"
            values.update(state=state, next_attempt_at=None)
            log.warning(
                "notification %s to %s failed after %d attempt(s): %s", ident, channel, attempts, error
            )
        else:
            state = "pending"
            delay = min(settings.backoff * 2 ** (attempts - 1), settings.max_backoff)
            values["next_attempt_at"] = now + datetime.timedelta(seconds=delay)
            log.info("notification %s to %s: %s; retrying in %.1f s", ident, channel, error, delay)
        with self.ctx.db.begin() as session:
            session.execute(update(_N).where(_N.id == ident, _N.claimed_by == owner).values(**values))
        return Delivery(ident, channel, state, error)

    def list_for_execution(self, project: str, domain: str, name: str) -> list[NotificationView]:
        """The notifications of an execution, oldest first, with their state and last error."""
        ident = validation.execution_id(
            self.ctx.settings.domains,
            identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name),
        )
        with self.ctx.db.session() as session:
            execution = get_execution(session, ident)
            rows = session.scalars(
                select(_N).where(_N.execution_id == execution.id).order_by(_N.created_at, _N.channel)
            ).all()
            return [
                NotificationView(
                    row.id,
                    row.channel,
                    workflow_phase_name(row.phase),
                    row.state,
                    row.attempts,
                    row.last_error,
                    row.created_at,
                    row.delivered_at,
                )
                for row in rows
            ]
