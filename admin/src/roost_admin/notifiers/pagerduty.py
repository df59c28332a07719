"""The PagerDuty channel: notifications sent as Events API v2 ``trigger`` events, one per recipient's routing
key (``routes``, else ``routing_key``), the summary rendered from Flyte's template variables and the outbox
id as the ``dedup_key`` (a repeated delivery joins the same alert)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roost_admin.config import NotificationSettings
from roost_admin.notifiers._http import post
from roost_admin.notifiers.hookspecs import Ended
from roost_admin.notifiers.templates import render

DEFAULT_SUMMARY = 'Execution "{{ project }}/{{ domain }}/{{ name }}" has {{ phase }} (workflow {{ workflow.name }}). {{ error }}'


class PagerDutySettings(BaseModel):
    """``notifications.channels.pagerduty``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://\S+$")
    """The Events API v2 endpoint."""
    routing_key: str = ""
    """The integration key of recipients without a route ("" for none)."""
    routes: dict[str, str] = Field(default_factory=dict)
    """Recipient (as the launch plan names it) → its integration (routing) key."""
    severity: Literal["critical", "error", "warning", "info"] = "error"
    summary: str = DEFAULT_SUMMARY
    """The alert's summary (a notification's own template wins)."""
    source: str = "roost"


class PagerDutyChannel:
    """Triggers a PagerDuty alert per routing key."""

    def __init__(self, notifications: NotificationSettings, section: PagerDutySettings) -> None:
        self.settings = section
        self.timeout = notifications.timeout

    def _key(self, recipient: str) -> str:
        return self.settings.routes.get(recipient, self.settings.routing_key)

    def check(self, recipient: str) -> str:
        """A recipient needs a routing key: its route, or the default."""
        if self._key(recipient):
            return ""
        return "has no PagerDuty routing key (notifications.channels.pagerduty.routes, or .routing_key)"

    def compose(self, ended: Ended) -> list[dict[str, Any]]:
        """One trigger event per recipient (the routing key is looked up when it is sent)."""
        told = ended.message
        summary = render(ended.template or self.settings.summary, ended.variables)[:1024]
        event: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": ended.id,
            "payload": {
                "summary": summary,
                "source": self.settings.source,
                "severity": self.settings.severity,
                "timestamp": told["occurred_at"],
                "component": ended.variables.get("workflow.name", ""),
                "group": f"{ended.variables['project']}/{ended.variables['domain']}",
                "class": told["phase"],
                "custom_details": dict(told),
            },
        }
        if told.get("link"):
            event["links"] = [{"href": told["link"], "text": "Execution"}]
        return [{"recipient": recipient, "event": event} for recipient in ended.recipients]

    def send(self, ident: str, label: str, body: Mapping[str, Any]) -> str:
        """POST the event with the recipient's routing key."""
        key = self._key(body["recipient"])
        if not key:
            return f"recipient '{body['recipient']}' has no PagerDuty routing key any more"
        data = json.dumps({"routing_key": key, **body["event"]}).encode()
        return post(self.settings.url, data, {"Content-Type": "application/json"}, self.timeout)
