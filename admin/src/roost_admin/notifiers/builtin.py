"""Roost's own notification channels, registered through the same hook as any outside plugin."""

from __future__ import annotations

from roost_admin.notifiers.email import EmailChannel
from roost_admin.notifiers.hookspecs import RegisterChannel, hookimpl
from roost_admin.notifiers.pagerduty import PagerDutyChannel, PagerDutySettings
from roost_admin.notifiers.slack import SlackChannel, SlackSettings
from roost_admin.notifiers.webhook import WebhookChannel


@hookimpl
def roost_notification_channels(register: RegisterChannel) -> None:
    """Email (over SMTP), signed webhooks, Slack incoming webhooks and PagerDuty's Events API v2."""
    register("email", EmailChannel)
    register("webhook", WebhookChannel)
    register("slack", SlackChannel, settings=SlackSettings)
    register("pagerduty", PagerDutyChannel, settings=PagerDutySettings)
