"""Notification channels: the native Slack (incoming-webhook JSON) and PagerDuty (Events API v2) channels
POSTing to a local HTTP receiver, with Flyte's template variables per channel; and channels as plugins: an
outside channel registered through ``roost_notification_channels``, and a channel that is not registered
refused at registration, launch and activation naming the launch plan and field."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schedule_flows as sf
from flyteidl.admin import common_pb2, execution_pb2
from pydantic import BaseModel
from test_notifications import Phase, _deliver, _end, _launch, receiving
from test_scheduler import FakeClock

from roost_admin.config import Settings
from roost_admin.db import Database
from roost_admin.db.migrate import upgrade
from roost_admin.errors import InvalidArgument
from roost_admin.notifiers import AdminPlugins, Ended, RegisterChannel, hookimpl, render
from roost_admin.services import ServiceContext, Services
from roost_core.errors import ConfigurationError
from roost_core.plugins import EnginePlugins
from roost_core.storage import build_storage

UTC = datetime.UTC


class TeamsSettings(BaseModel):
    """A plugin channel's settings."""

    greeting: str = "hello"


class TeamsChannel:
    """An outside channel: remembers what it was asked to send (a plugin's own test double of a service)."""

    sent: list[tuple[str, str, Mapping[str, Any]]] = []

    def __init__(self, notifications: Any, section: TeamsSettings) -> None:
        self.greeting = section.greeting

    def check(self, recipient: str) -> str:
        return "" if recipient.startswith("team:") else "is not a team (team:NAME)"

    def compose(self, ended: Ended) -> list[dict[str, Any]]:
        text = render(ended.template or "{{ name }} {{ phase }}", ended.variables)
        return [{"teams": list(ended.recipients), "text": f"{self.greeting}: {text}"}]

    def send(self, ident: str, label: str, body: Mapping[str, Any]) -> str:
        TeamsChannel.sent.append((ident, label, body))
        return ""


class TeamsPlugin:
    """A plugin registering the ``teams`` channel, as an installed package's module would."""

    @staticmethod
    @hookimpl
    def roost_notification_channels(register: RegisterChannel) -> None:
        register("teams", TeamsChannel, settings=TeamsSettings)


@contextmanager
def told(tmp_path: Path, *plugins: object, **notifications: Any) -> Iterator[Services]:
    """Services over a SQLite file in ``tmp_path`` with ``plugins``' channels and ``notifications`` settings."""
    clock = FakeClock(datetime.datetime(2026, 1, 5, 10, tzinfo=UTC))
    url = f"sqlite:///{tmp_path / 'roost.db'}"
    options = {"backoff": 0.01, "max_attempts": 2, "timeout": 0.5, **notifications}
    settings = Settings(data_dir=tmp_path, db_url=url, workers=0, notifications=options)
    db = Database(url)
    upgrade(db)
    storage = build_storage(
        EnginePlugins(), {"file": {"url_base": "http://nowhere/data", "signing_key": b"k"}}
    )
    context = ServiceContext(
        settings=settings,
        db=db,
        storage=storage,
        clock=clock,
        notifiers=AdminPlugins(plugins, entry_points=False),
    )
    services = Services(context)
    services.projects.ensure_defaults()
    try:
        sf.register_workflow(services)
        yield services
    finally:
        db.dispose()


def _told(kind: str, recipients: list[str], template: str = "") -> execution_pb2.NotificationList:
    notification = common_pb2.Notification(phases=[Phase.FAILED, Phase.SUCCEEDED])
    getattr(notification, kind).recipients_email.extend(recipients)
    getattr(notification, kind).template = template
    return execution_pb2.NotificationList(notifications=[notification])


def test_slack_notifications_go_to_incoming_webhooks_with_the_channels_template(tmp_path):
    with (
        receiving() as ops,
        receiving([500, 200]) as fallback,
        told(
            tmp_path,
            routes={"slack": "slack"},
            console_url="http://console.example",
            channels={
                "slack": {
                    "url": fallback.url,
                    "routes": {"#ops": ops.url},
                    "template": "{{ project }}/{{ name }} {{ phase }}: {{ error }} <{{ link }}>",
                }
            },
        ) as services,
    ):
        _launch(services, "broke", notifications=_told("slack", ["#ops", "#all", "#more"]))
        _launch(services, "custom", notifications=_told("slack", ["#ops"], "{{ workflow.name }} done"))
        _end(services, "broke", Phase.FAILED, error="it broke")
        _end(services, "custom", Phase.SUCCEEDED)
        first = _deliver(services)
        assert sorted(d.state for d in first) == ["delivered", "delivered", "pending"]
        services.context.clock.advance(datetime.timedelta(seconds=1))  # type: ignore[attr-defined]
        assert [d.state for d in _deliver(services)] == ["delivered"], "a 500 is retried"
        views = services.notifier.list_for_execution(sf.PROJECT, sf.DOMAIN, "broke")
        assert sorted((v.channel, v.state, v.attempts) for v in views) == [
            ("slack", "delivered", 1),
            ("slack", "delivered", 2),
        ]
    texts = sorted(json.loads(body)["text"] for _, body in ops.requests)
    assert texts == [
        "flytesnacks/broke failed: it broke <http://console.example/console/projects/flytesnacks/domains/"
        "development/executions/broke>",
        "schedule_flows.stamped done",
    ], "the channel's template, or the notification's own"
    assert [json.loads(body) for _, body in fallback.requests][-1] == {
        "text": "flytesnacks/broke failed: it broke <http://console.example/console/projects/flytesnacks/"
        "domains/development/executions/broke>"
    }, "recipients without a route share the default webhook: one message"
    assert all(headers["content-type"] == "application/json" for headers, _ in ops.requests)


def test_pagerduty_notifications_are_events_api_v2_triggers_per_routing_key(tmp_path):
    with (
        receiving() as pagerduty,
        told(
            tmp_path,
            routes={"pager_duty": "pagerduty"},
            channels={
                "pagerduty": {
                    "url": pagerduty.url,
                    "routing_key": "R0UTING0DEFAULT0000000000000000",
                    "routes": {"oncall@example.org": "R0UTING0ONCALL00000000000000000"},
                    "severity": "critical",
                    "summary": "{{ name }} {{ phase }} in {{ domain }}",
                }
            },
        ) as services,
    ):
        recipients = ["oncall@example.org", "other@example.org"]
        _launch(services, "paged", notifications=_told("pager_duty", recipients))
        _end(services, "paged", Phase.FAILED, error="out of memory")
        assert sorted(d.state for d in _deliver(services)) == ["delivered", "delivered"]
    events = sorted((json.loads(body) for _, body in pagerduty.requests), key=lambda e: e["routing_key"])
    assert [e["routing_key"] for e in events] == [
        "R0UTING0DEFAULT0000000000000000",
        "R0UTING0ONCALL00000000000000000",
    ]
    event = events[0]
    assert event["event_action"] == "trigger" and event["dedup_key"]
    payload = event["payload"]
    assert payload["summary"] == "paged failed in development"
    assert (payload["severity"], payload["source"], payload["class"]) == ("critical", "roost", "FAILED")
    assert payload["component"] == "schedule_flows.stamped"
    assert payload["group"] == "flytesnacks/development"
    assert payload["custom_details"]["error"] == {"code": "Boom", "message": "out of memory"}
    assert payload["timestamp"].startswith("2026-01-05T10:00:05")


def test_a_plugin_channel_registers_through_the_same_hook_and_gets_its_settings(tmp_path):
    TeamsChannel.sent.clear()
    with told(
        tmp_path, TeamsPlugin, routes={"slack": "teams"}, channels={"teams": {"greeting": "hi"}}
    ) as services:
        assert sorted(services.context.notifiers.registrations()) == [
            "email",
            "pagerduty",
            "slack",
            "teams",
            "webhook",
        ], "the built-in channels register through the hook too"
        _launch(services, "teamed", notifications=_told("slack", ["team:data"]))
        _end(services, "teamed", Phase.SUCCEEDED)
        assert [d.state for d in _deliver(services)] == ["delivered"]
        with pytest.raises(InvalidArgument) as refused:
            _launch(services, "stray", notifications=_told("slack", ["#data"]))
        assert str(refused.value) == (
            "execution flytesnacks/development/stray: spec.notifications.notifications[0].slack."
            "recipients_email[0] '#data' is not a team (team:NAME)"
        )
    [(_, label, body)] = TeamsChannel.sent
    assert label == "slack" and body == {"teams": ["team:data"], "text": "hi: teamed succeeded"}


def test_an_unregistered_channel_is_refused_at_registration_launch_and_activation(tmp_path):
    unregistered = (
        "spec.entity_metadata.notifications[0].slack is sent through channel 'teams' "
        "(notifications.routes.slack), which is not registered (registered: email, pagerduty, slack, webhook)"
    )
    plan = sf.create_plan("told", sf.cron("@daily"))
    plan.spec.entity_metadata.notifications.extend(_told("slack", ["team:data"]).notifications)
    with told(tmp_path, TeamsPlugin, routes={"slack": "teams"}) as services:
        services.registry.create_launch_plan(plan)
    # The same database, served by an admin where the plugin is no longer installed.
    with told(tmp_path, routes={"slack": "teams"}) as services:
        with pytest.raises(InvalidArgument) as activating:
            sf.set_active(services, "told")
        assert activating.value.message == f"launch plan 'flytesnacks/development/told@v1': {unregistered}"
        again = sf.create_plan("told", sf.cron("@daily"), version="v2")
        again.spec.entity_metadata.notifications.extend(_told("slack", ["team:data"]).notifications)
        with pytest.raises(InvalidArgument) as registering:
            services.registry.create_launch_plan(again)
        assert registering.value.message == f"launch plan 'flytesnacks/development/told@v2': {unregistered}"
        with pytest.raises(InvalidArgument) as launching:
            _launch(services, "stray", notifications=_told("slack", ["team:data"]))
        assert launching.value.message == (
            "execution flytesnacks/development/stray: "
            + unregistered.replace("spec.entity_metadata.notifications", "spec.notifications.notifications")
        )


def test_bad_channel_settings_stop_the_admin_naming_them(tmp_path):
    unknown = r"notifications.channels.teams: channel 'teams' is not registered"
    with pytest.raises(ConfigurationError, match=unknown), told(tmp_path, channels={"teams": {}}) as services:
        services.context.channels()
    bad = {"pagerduty": {"severity": "loud"}}
    with pytest.raises(ConfigurationError) as refused, told(tmp_path, channels=bad) as services:
        services.context.channels()
    assert str(refused.value) == (
        "notifications.channels.pagerduty.severity: Input should be 'critical', 'error', 'warning' or 'info'"
    )


@pytest.mark.parametrize(
    ("kind", "routes", "recipient", "problem"),
    [
        (
            "slack",
            {"slack": "slack"},
            "#ops",
            "has no Slack webhook (notifications.channels.slack.routes, or .url)",
        ),
        (
            "pager_duty",
            {"pager_duty": "pagerduty"},
            "oncall@example.org",
            "has no PagerDuty routing key (notifications.channels.pagerduty.routes, or .routing_key)",
        ),
        (
            "email",
            {"email": "webhook"},
            "a@b.org",
            "cannot be reached through a webhook (webhooks are configured in notifications.webhooks)",
        ),
    ],
)
def test_a_recipient_the_channel_cannot_reach_is_refused(tmp_path, kind, routes, recipient, problem):
    plan = sf.create_plan("told", sf.cron("@daily"))
    plan.spec.entity_metadata.notifications.extend(_told(kind, [recipient]).notifications)
    with told(tmp_path, routes=routes) as services, pytest.raises(InvalidArgument) as refused:
        services.registry.create_launch_plan(plan)
    assert refused.value.message == (
        f"launch plan 'flytesnacks/development/told@v1': spec.entity_metadata.notifications[0].{kind}."
        f"recipients_email[0] '{recipient}' {problem}"
    )


def test_routes_name_kinds_of_notification_and_a_channel_registers_once(tmp_path):
    with pytest.raises(ValueError, match=r"teams: not a kind of notification \(email, slack, pager_duty\)"):
        Settings(data_dir=tmp_path, notifications={"routes": {"teams": "teams"}})

    class Again:
        @staticmethod
        @hookimpl
        def roost_notification_channels(register: RegisterChannel) -> None:
            register("slack", TeamsChannel)

    with pytest.raises(ConfigurationError) as twice:
        AdminPlugins((Again,), entry_points=False).registrations()
    assert str(twice.value).startswith("notification channel 'slack' is registered twice: by ")

    class Long:
        @staticmethod
        @hookimpl
        def roost_notification_channels(register: RegisterChannel) -> None:
            register("microsoft-teams-channel", TeamsChannel)

    with pytest.raises(ConfigurationError) as long:
        AdminPlugins((Long,), entry_points=False).registrations()
    assert str(long.value).endswith(
        ": a name is 1 to 16 lowercase letters, digits, '_' or '-', starting with a letter"
    )
