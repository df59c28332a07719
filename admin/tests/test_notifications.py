"""Notifications of ended executions: the outbox filled in the transaction that records the end, webhooks
delivered to a real local HTTP server with HMAC-SHA256 signatures, retries with backoff, and receivers that
fail, hang or are unreachable recorded as failed without touching the execution."""

from __future__ import annotations

import datetime
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import schedule_flows as sf
from click.testing import CliRunner
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from pydantic import ValidationError
from test_scheduler import FakeClock, built

from roost_admin.cli import admin
from roost_admin.config import Settings
from roost_admin.errors import InvalidArgument
from roost_admin.services import Services
from roost_admin.services.notifications import signature

UTC = datetime.UTC
SECRET = "a-secret-of-some-length"
Phase = core_execution_pb2.WorkflowExecution


class Receiver:
    """A local HTTP server recording every POST; ``answers`` says what to answer each (status, or "hang")."""

    def __init__(self, answers: list[int | str] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "hang":
                    time.sleep(1.5)
                    answer = 200
                self.send_response(int(answer))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@contextmanager
def receiving(answers: list[int | str] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(answers)
    try:
        yield receiver
    finally:
        receiver.close()


def _hook(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "secret": SECRET, **extra}


@contextmanager
def notifying(tmp_path: Path, *hooks: dict[str, Any], **settings: Any) -> Iterator[Services]:
    clock = FakeClock(datetime.datetime(2026, 1, 5, 10, tzinfo=UTC))
    options = {"webhooks": list(hooks), "backoff": 0.01, "max_attempts": 3, "timeout": 0.5, **settings}
    url = f"sqlite:///{tmp_path / 'roost.db'}"
    with built(url, tmp_path, clock, notifications=options) as services:
        sf.register_workflow(services)
        yield services


def _launch(
    services: Services,
    name: str,
    *,
    disable_all: bool = False,
    domain: str = sf.DOMAIN,
    launch_plan: str = "schedule_flows.stamped",
    notifications: execution_pb2.NotificationList | None = None,
) -> None:
    spec = execution_pb2.ExecutionSpec(
        launch_plan=identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=sf.PROJECT,
            domain=sf.DOMAIN,
            name=launch_plan,
            version="v1",
        ),
    )
    if disable_all:
        spec.disable_all = True
    if notifications is not None:
        spec.notifications.CopyFrom(notifications)
    request = execution_pb2.ExecutionCreateRequest(project=sf.PROJECT, domain=domain, name=name, spec=spec)
    moment = request.inputs.literals["kickoff"].scalar.primitive.datetime
    moment.FromDatetime(datetime.datetime(2026, 1, 5))
    services.executions.create_execution(request)


def _end(services: Services, name: str, phase: int, *, domain: str = sf.DOMAIN, error: str = "") -> None:
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=sf.PROJECT, domain=domain, name=name)
    for step in (Phase.RUNNING, phase):
        event = event_pb2.WorkflowExecutionEvent(execution_id=ident, phase=step, producer_id="test")
        event.occurred_at.FromDatetime(datetime.datetime(2026, 1, 5, 10, 0, 5))
        if step == phase and error:
            event.error.CopyFrom(core_execution_pb2.ExecutionError(code="Boom", message=error))
        services.events.create_workflow_event(admin_event_pb2.WorkflowExecutionEventRequest(event=event))


def _deliver(services: Services, rounds: int = 1) -> list[Any]:
    done = []
    for _ in range(rounds):
        done += services.notifier.deliver_due("tester")
    return done


def test_an_ended_execution_is_posted_to_each_webhook_that_wants_it_signed(tmp_path):
    with receiving() as everything, receiving() as failures, receiving() as production:
        with notifying(
            tmp_path,
            _hook("all", everything.url),
            _hook("failures", failures.url, phases=["FAILED", "TIMED_OUT"]),
            _hook("prod", production.url, domains=["production"]),
            console_url="http://console.example/",
        ) as services:
            _launch(services, "good")
            _launch(services, "bad")
            _launch(services, "quiet", disable_all=True)
            _end(services, "good", Phase.SUCCEEDED)
            _end(services, "bad", Phase.FAILED, error="it broke")
            _end(services, "quiet", Phase.SUCCEEDED)
            deliveries = _deliver(services)
            assert sorted((d.channel, d.state) for d in deliveries) == [
                ("all", "delivered"),
                ("all", "delivered"),
                ("failures", "delivered"),
            ]
            assert _deliver(services) == [], "a delivered notification is not sent again"
            views = services.notifier.list_for_execution(sf.PROJECT, sf.DOMAIN, "bad")
            assert [(v.channel, v.phase, v.state, v.attempts) for v in views] == [
                ("all", "FAILED", "delivered", 1),
                ("failures", "FAILED", "delivered", 1),
            ]
        assert production.requests == []
        bodies = {m["execution"]["name"]: m for m in everything.messages()}
        assert set(bodies) == {"good", "bad"}, "disable_all turns an execution's notifications off"
        bad = bodies["bad"]
        assert bad["phase"] == "FAILED" and bad["type"] == "execution.ended"
        assert bad["error"] == {"code": "Boom", "message": "it broke"}
        assert bad["workflow"] == {
            "project": sf.PROJECT,
            "domain": sf.DOMAIN,
            "name": "schedule_flows.stamped",
            "version": "v1",
        }
        assert bad["launch_plan"]["name"] == "schedule_flows.stamped"
        assert (
            bad["link"]
            == "http://console.example/console/projects/flytesnacks/domains/development/executions/bad"
        )
        assert bodies["good"]["error"] is None
        for headers, body in everything.requests + failures.requests:
            timestamp = headers["x-roost-timestamp"]
            expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            assert headers["x-roost-signature"] == f"sha256={expected}" == signature(SECRET, timestamp, body)
            assert headers["x-roost-delivery"] == json.loads(body)["id"]
            assert headers["content-type"] == "application/json"
        assert [m["execution"]["name"] for m in failures.messages()] == ["bad"]


def test_a_failing_receiver_is_retried_with_the_same_delivery_id_until_it_takes_it(tmp_path):
    with receiving([500, 503]) as flaky, notifying(tmp_path, _hook("flaky", flaky.url)) as services:
        _launch(services, "once")
        _end(services, "once", Phase.SUCCEEDED)
        first = _deliver(services)
        assert [(d.state, d.error) for d in first] == [
            ("pending", "the receiver answered 500 Internal Server Error")
        ]
        assert _deliver(services) == [], "the retry waits for its backoff"
        services.context.clock.advance(datetime.timedelta(seconds=1))  # type: ignore[attr-defined]
        assert [d.state for d in _deliver(services)] == ["pending"]
        services.context.clock.advance(datetime.timedelta(seconds=1))  # type: ignore[attr-defined]
        assert [d.state for d in _deliver(services)] == ["delivered"]
        assert len({headers["x-roost-delivery"] for headers, _ in flaky.requests}) == 1
        assert len(flaky.requests) == 3
        (view,) = services.notifier.list_for_execution(sf.PROJECT, sf.DOMAIN, "once")
        assert (view.state, view.attempts, view.last_error) == ("delivered", 3, "")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_receivers_that_hang_or_are_unreachable_end_failed_and_the_execution_is_unaffected(tmp_path):
    with receiving(["hang", "hang", "hang"]) as slow:
        hooks = (_hook("slow", slow.url), _hook("gone", f"http://127.0.0.1:{_closed_port()}/hook"))
        with notifying(tmp_path, *hooks, max_attempts=2) as services:
            _launch(services, "done")
            started = time.monotonic()
            _end(services, "done", Phase.SUCCEEDED)
            assert time.monotonic() - started < 0.5, "recording the end does not wait for any receiver"
            for _ in range(2):
                _deliver(services)
                services.context.clock.advance(datetime.timedelta(seconds=5))  # type: ignore[attr-defined]
            views = {
                v.channel: v for v in services.notifier.list_for_execution(sf.PROJECT, sf.DOMAIN, "done")
            }
            assert (views["slow"].state, views["slow"].attempts) == ("failed", 2)
            assert views["slow"].last_error.startswith("the receiver did not answer in time")
            assert (views["gone"].state, views["gone"].attempts) == ("failed", 2)
            assert views["gone"].last_error.startswith("the receiver is unreachable: ")
            assert _deliver(services) == []
            ident = identifier_pb2.WorkflowExecutionIdentifier(
                project=sf.PROJECT, domain=sf.DOMAIN, name="done"
            )
            execution = services.executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=ident))
            assert execution.closure.phase == Phase.SUCCEEDED


def test_a_notification_to_a_webhook_no_longer_configured_fails_naming_it(tmp_path):
    with receiving() as receiver:
        with notifying(tmp_path, _hook("old", receiver.url)) as services:
            _launch(services, "left")
            _end(services, "left", Phase.ABORTED)
        with notifying(tmp_path, _hook("new", receiver.url)) as services:
            (delivery,) = _deliver(services)
            assert (delivery.channel, delivery.state, delivery.error) == (
                "old",
                "failed",
                "webhook 'old' is no longer configured",
            )
        assert receiver.requests == []


@pytest.mark.parametrize(
    ("webhooks", "message"),
    [
        ([_hook("a", "http://x/1", phases=["RUNNING"])], "RUNNING: not a terminal phase"),
        (
            [_hook("a", "http://x/1"), _hook("a", "http://x/2")],
            "webhook names must be unique: a used more than once",
        ),
        (
            [{"name": "a", "url": "http://x/1", "secret": "short"}],
            "String should have at least 16 characters",
        ),
        ([_hook("a", "ftp://x/1")], "String should match pattern '^https?://\\S+$'"),
        ([_hook("A b", "http://x/1")], "String should match pattern"),
    ],
)
def test_bad_webhook_settings_are_refused(tmp_path, webhooks, message):
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, notifications={"webhooks": webhooks})
    assert message in str(refused.value)


def test_roost_admin_notifications_shows_each_channels_state(tmp_path):
    with (
        receiving([500]) as receiver,
        notifying(tmp_path, _hook("ops", receiver.url), max_attempts=1) as services,
    ):
        _launch(services, "shown")
        _end(services, "shown", Phase.FAILED, error="no")
        _deliver(services)
        _launch(services, "silent")
    runner = CliRunner()
    shown = runner.invoke(admin, ["notifications", "shown", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert shown.output == (
        "ops  FAILED  failed  attempts 1  last error: the receiver answered 500 Internal Server Error\n"
    )
    silent = runner.invoke(
        admin, ["notifications", "flytesnacks/development/silent", "--data-dir", str(tmp_path)]
    )
    assert silent.output == "execution flytesnacks/development/silent has no notifications\n"
    missing = runner.invoke(admin, ["notifications", "nope", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert missing.output == "Error: execution flytesnacks/development/nope does not exist\n"


class Mailbox:
    """What a real SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@contextmanager
def mail_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_closed_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


def _notification(kind: str, phases: list[int], recipients: list[str], template: str = "") -> Any:
    notification = common_pb2.Notification(phases=phases)
    getattr(notification, kind).recipients_email.extend(recipients)
    getattr(notification, kind).template = template
    return notification


def test_launch_plan_and_execution_notifications_are_mailed_with_flytes_variables(tmp_path):
    with mail_server() as (mailbox, port):
        smtp = {"host": "127.0.0.1", "port": port, "sender": "roost@example.org"}
        with notifying(tmp_path, smtp=smtp, console_url="http://console.example") as services:
            plan = sf.create_plan("told", sf.cron("@daily"))
            plan.spec.entity_metadata.notifications.extend(
                [
                    _notification("email", [Phase.FAILED], ["oncall@example.org", "lead@example.org"]),
                    _notification("slack", [Phase.SUCCEEDED], ["team-channel@example.slack.com"]),
                    _notification(
                        "pager_duty",
                        [Phase.FAILED, Phase.TIMED_OUT],
                        ["service@example.pagerduty.com"],
                        template="{{ name }} {{ phase }}: {{ error }} ({{ launch_plan.name }}@{{ launch_plan.version }},"
                        " {{ workflow.name }}, {{ nothing }})",
                    ),
                ]
            )
            services.registry.create_launch_plan(plan)
            _launch(services, "fails", launch_plan="told")
            _end(services, "fails", Phase.FAILED, error="out of disk")
            _launch(services, "works", launch_plan="told")
            _end(services, "works", Phase.SUCCEEDED)
            own = execution_pb2.NotificationList(
                notifications=[_notification("email", [Phase.SUCCEEDED], ["me@example.org"])]
            )
            _launch(services, "mine", launch_plan="told", notifications=own)
            _end(services, "mine", Phase.SUCCEEDED)
            _launch(services, "hushed", launch_plan="told", disable_all=True)
            _end(services, "hushed", Phase.FAILED)
            deliveries = _deliver(services)
            assert sorted((d.channel, d.state) for d in deliveries) == [
                ("email", "delivered"),
                ("email", "delivered"),
                ("pager_duty", "delivered"),
                ("slack", "delivered"),
            ]
            ids = {v.id for v in services.notifier.list_for_execution(sf.PROJECT, sf.DOMAIN, "fails")}
        by_to = {m["X-Envelope-To"]: m for m in mailbox.messages}
        assert set(by_to) == {
            "oncall@example.org, lead@example.org",
            "service@example.pagerduty.com",
            "team-channel@example.slack.com",
            "me@example.org",
        }
        failed = by_to["oncall@example.org, lead@example.org"]
        assert failed["From"] == "roost@example.org"
        assert failed["Subject"] == 'Notice: Execution "fails" has failed in "development".'
        assert failed.get_content().replace("\r\n", "\n").strip() == (
            'Execution "fails" has failed in "development" of project "flytesnacks" (workflow '
            "schedule_flows.stamped, launch plan told). out of disk\n"
            "http://console.example/console/projects/flytesnacks/domains/development/executions/fails"
        )
        assert failed["Message-ID"].strip("<>").split("@")[0] in ids
        assert by_to["service@example.pagerduty.com"].get_content().strip() == (
            "fails failed: out of disk (told@v1, schedule_flows.stamped, {{ nothing }})"
        )
        assert (
            by_to["me@example.org"]["Subject"] == 'Notice: Execution "mine" has succeeded in "development".'
        )


def test_an_unreachable_mail_server_ends_failed(tmp_path):
    smtp = {"host": "127.0.0.1", "port": _closed_port(), "sender": "roost@example.org"}
    with notifying(tmp_path, smtp=smtp, max_attempts=1) as services:
        own = execution_pb2.NotificationList(
            notifications=[_notification("email", [Phase.ABORTED], ["me@example.org"])]
        )
        _launch(services, "stopped", notifications=own)
        _end(services, "stopped", Phase.ABORTED)
        (delivery,) = _deliver(services)
        assert delivery.state == "failed"
        assert delivery.error.startswith("the mail server is unreachable: ")


@pytest.mark.parametrize(
    ("notification", "field", "message"),
    [
        (
            common_pb2.Notification(phases=[Phase.FAILED]),
            "[0]",
            "names no channel (email, slack or pager_duty)",
        ),
        (
            _notification("email", [], ["a@b.org"]),
            "[0]",
            ".phases is empty; name the terminal phases to tell of",
        ),
        (
            _notification("slack", [Phase.FAILED, Phase.RUNNING], ["a@b.org"]),
            "[0].phases[1]",
            " is RUNNING, not a terminal phase (SUCCEEDED, FAILED, TIMED_OUT, ABORTED)",
        ),
        (_notification("pager_duty", [Phase.FAILED], []), "[0]", ".pager_duty.recipients_email is empty"),
        (
            _notification("email", [Phase.FAILED], ["a@b.org", "nobody"]),
            "[0].email.recipients_email[1]",
            " 'nobody' is not an email address",
        ),
    ],
)
def test_bad_notifications_are_refused_at_registration_and_launch(tmp_path, notification, field, message):
    with notifying(tmp_path) as services:
        plan = sf.create_plan("told", sf.cron("@daily"))
        plan.spec.entity_metadata.notifications.append(notification)
        with pytest.raises(InvalidArgument) as registering:
            services.registry.create_launch_plan(plan)
        prefix = "spec.entity_metadata.notifications"
        text = message if message.startswith((" ", ".")) else f" {message}"
        assert registering.value.message == (
            f"launch plan 'flytesnacks/development/told@v1': {prefix}{field}{text}"
        )
        own = execution_pb2.NotificationList(notifications=[notification])
        with pytest.raises(InvalidArgument) as launching:
            _launch(services, "bad", notifications=own)
        assert launching.value.message == (
            f"execution flytesnacks/development/bad: spec.notifications.notifications{field}{text}"
        )
