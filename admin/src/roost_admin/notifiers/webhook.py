"""The webhook channel: ``notifications.webhooks`` told of every ended execution their filters match, by a JSON
POST signed with HMAC-SHA256 over the timestamp and the body."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from roost_admin.config import NotificationSettings
from roost_admin.notifiers._http import post
from roost_admin.notifiers.hookspecs import Ended


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 under ``secret`` of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookChannel:
    """POSTs the JSON message to the webhook the outbox row names."""

    def __init__(self, notifications: NotificationSettings, section: None = None) -> None:
        self.settings = notifications

    def check(self, recipient: str) -> str:
        """Webhooks are chosen by the settings, not by launch plans: no recipient reaches one."""
        return "cannot be reached through a webhook (webhooks are configured in notifications.webhooks)"

    def compose(self, ended: Ended) -> list[dict[str, Any]]:
        """The message as it is."""
        return [dict(ended.message)]

    def send(self, ident: str, label: str, body: Mapping[str, Any]) -> str:
        """POST with ``X-Roost-Delivery``, ``X-Roost-Timestamp`` and ``X-Roost-Signature``."""
        hook = next((hook for hook in self.settings.webhooks if hook.name == label), None)
        if hook is None:
            return f"webhook '{label}' is no longer configured"
        data = json.dumps(body, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Roost-Delivery": ident,
            "X-Roost-Timestamp": timestamp,
            "X-Roost-Signature": signature(hook.secret, timestamp, data),
        }
        return post(hook.url, data, headers, self.settings.timeout)
