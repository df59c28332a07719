"""Notifications of ended executions: the outbox filled in the transaction that records the end, webhooks
delivered to a real local HTTP server with HMAC-SHA256 signatures, retries with backoff, and receivers that
fail, hang or are unreachable recorded as failed without touching the execution."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schedule_flows as sf
from click.testing import CliRunner
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from pydantic import ValidationError
from test_scheduler import FakeClock, built

from roost_admin.cli import admin
from roost_admin.config import Settings
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


def _launch(services: Services, name: str, *, disable_all: bool = False, domain: str = sf.DOMAIN) -> None:
    spec = execution_pb2.ExecutionSpec(
        launch_plan=identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=sf.PROJECT,
            domain=sf.DOMAIN,
            name="schedule_flows.stamped",
            version="v1",
        ),
        disable_all=disable_all,
    )
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
