"""The Slack channel: notifications POSTed to Slack incoming webhooks as ``{"text": ...}``, the text rendered
from Flyte's template variables. A recipient (the address a launch plan names) is sent to its webhook in
``routes``, else to ``url``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roost_admin.config import NotificationSettings
from roost_admin.notifiers._http import post
from roost_admin.notifiers.hookspecs import Ended
from roost_admin.notifiers.templates import render

DEFAULT_TEXT = (
    ":bell: Execution <{{ link }}|{{ project }}/{{ domain }}/{{ name }}> has *{{ phase }}* "
    "(workflow `{{ workflow.name }}`, launch plan `{{ launch_plan.name }}`). {{ error }}"
)


class SlackSettings(BaseModel):
    """``notifications.channels.slack``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    """The incoming webhook of recipients without a route ("" for none)."""
    routes: dict[str, str] = Field(default_factory=dict)
    """Recipient (as the launch plan names it) → its incoming webhook."""
    template: str = DEFAULT_TEXT
    """The message's text (a notification's own template wins)."""


class SlackChannel:
    """POSTs ``{"text": ...}`` to each recipient's incoming webhook."""

    def __init__(self, notifications: NotificationSettings, section: SlackSettings) -> None:
        self.settings = section
        self.timeout = notifications.timeout

    def _url(self, recipient: str) -> str:
        return self.settings.routes.get(recipient, self.settings.url)

    def check(self, recipient: str) -> str:
        """A recipient needs a webhook: its route, or the default."""
        if self._url(recipient):
            return ""
        return "has no Slack webhook (notifications.channels.slack.routes, or .url)"

    def compose(self, ended: Ended) -> list[dict[str, Any]]:
        """One message per webhook (recipients sharing one get one message)."""
        text = render(ended.template or self.settings.template, ended.variables)
        webhooks = sorted({self._url(recipient) for recipient in ended.recipients})
        return [
            {"recipients": [r for r in ended.recipients if self._url(r) == url], "payload": {"text": text}}
            for url in webhooks
        ]

    def send(self, ident: str, label: str, body: Mapping[str, Any]) -> str:
        """POST the payload to the recipients' webhook (looked up now, so a changed route is followed)."""
        url = self._url(body["recipients"][0])
        if not url:
            return f"recipient '{body['recipients'][0]}' has no Slack webhook any more"
        data = json.dumps(body["payload"]).encode()
        return post(url, data, {"Content-Type": "application/json"}, self.timeout)
