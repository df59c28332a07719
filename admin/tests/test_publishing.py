"""Execution events published as CloudEvents from the outbox: consumed from the real NATS server's JetStream
(the machine's at 127.0.0.1:4222, and a ``nats-server`` of the test's own that it stops and starts again to
show a broker outage loses nothing), and POSTed to a local webhook with filters, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schedule_flows as sf
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from pydantic import ValidationError
from sqlalchemy import func, select
from test_notifications import SECRET, _launch, receiving
from test_scheduler import FakeClock, built

from roost_admin.config import Settings
from roost_admin.db import models
from roost_admin.services import Services
from roost_admin.services.notifications import signature

UTC = datetime.UTC
Phase = core_execution_pb2.WorkflowExecution
NATS_URL = "nats://127.0.0.1:4222"


def _nats_reachable(host: str = "127.0.0.1", port: int = 4222) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def publishing(database_url: str, tmp_path: Path, *subscribers: dict[str, Any]) -> Iterator[Services]:
    clock = FakeClock(datetime.datetime(2026, 1, 5, 10, tzinfo=UTC))
    options = {"subscribers": list(subscribers), "backoff": 0.5, "timeout": 1.0}
    with built(database_url, tmp_path, clock, events=options) as services:
        sf.register_workflow(services)
        try:
            yield services
        finally:
            services.publisher.close()


def _workflow_event(services: Services, name: str, phase: int, second: int = 0) -> None:
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=sf.PROJECT, domain=sf.DOMAIN, name=name)
    event = event_pb2.WorkflowExecutionEvent(execution_id=ident, phase=phase, producer_id="test")
    event.occurred_at.FromDatetime(datetime.datetime(2026, 1, 5, 10, 0, second))
    services.events.create_workflow_event(admin_event_pb2.WorkflowExecutionEventRequest(event=event))


def _node_and_task_events(services: Services, name: str) -> None:
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=sf.PROJECT, domain=sf.DOMAIN, name=name)
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident)
    inputs = f"{services.context.settings.storage_prefix}/in"
    for phase in (core_execution_pb2.NodeExecution.RUNNING, core_execution_pb2.NodeExecution.SUCCEEDED):
        event = event_pb2.NodeExecutionEvent(id=node, phase=phase, producer_id="test", input_uri=inputs)
        event.occurred_at.FromDatetime(datetime.datetime(2026, 1, 5, 10, 0, 2))
        services.events.create_node_event(admin_event_pb2.NodeExecutionEventRequest(event=event))
        if phase == core_execution_pb2.NodeExecution.RUNNING:
            task = event_pb2.TaskExecutionEvent(
                task_id=identifier_pb2.Identifier(
                    resource_type=identifier_pb2.TASK,
                    project=sf.PROJECT,
                    domain=sf.DOMAIN,
                    name="schedule_flows.stamp",
                    version="v1",
                ),
                parent_node_execution_id=node,
                phase=core_execution_pb2.TaskExecution.SUCCEEDED,
                producer_id="test",
            )
            task.occurred_at.FromDatetime(datetime.datetime(2026, 1, 5, 10, 0, 3))
            services.events.create_task_event(admin_event_pb2.TaskExecutionEventRequest(event=task))


def _run(services: Services, name: str) -> None:
    """An execution's whole life in events: workflow RUNNING, a node and its task, workflow SUCCEEDED."""
    _launch(services, name)
    _workflow_event(services, name, Phase.RUNNING, 1)
    _node_and_task_events(services, name)
    _workflow_event(services, name, Phase.SUCCEEDED, 5)


def _outbox(services: Services) -> int:
    with services.context.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(models.EventRecord)) or 0)


def _consume(url: str, stream: str) -> list[tuple[str, dict[str, Any]]]:
    """Every message of ``stream`` (subject, CloudEvent), in the stream's order."""

    async def read() -> list[tuple[str, dict[str, Any]]]:
        import nats

        client = await nats.connect(url)
        try:
            jet = client.jetstream()
            info = await jet.stream_info(stream)
            found = []
            for sequence in range(info.state.first_seq, info.state.last_seq + 1):
                message = await jet.get_msg(stream, sequence)
                assert message.subject is not None and message.data is not None
                found.append((message.subject, json.loads(message.data)))
            return found
        finally:
            await client.close()

    return asyncio.run(read())


def _delete_stream(url: str, stream: str) -> None:
    async def drop() -> None:
        import nats
        from nats.js.errors import NotFoundError

        client = await nats.connect(url)
        try:
            await client.jetstream().delete_stream(stream)
        except NotFoundError:
            pass
        finally:
            await client.close()

    asyncio.run(drop())


def _drain(services: Services, rounds: int = 5) -> list[Any]:
    done = []
    for _ in range(rounds):
        done += services.publisher.publish_due("tester")
    return done


@pytest.mark.skipif(not _nats_reachable(), reason="no NATS server at 127.0.0.1:4222")
def test_events_are_published_to_jetstream_as_flyte_cloudevents_in_order(database_url, tmp_path):
    stream = f"ROOST_TEST_{uuid.uuid4().hex[:8].upper()}"
    subject = f"roosttest{uuid.uuid4().hex[:8]}"
    subscriber = {"name": "bus", "url": NATS_URL, "subject": subject, "stream": stream}
    try:
        with publishing(database_url, tmp_path, subscriber) as services:
            _run(services, "first")
            _run(services, "second")
            assert _outbox(services) == 10, "one outbox row per recorded event"
            rounds = _drain(services, 1)
            assert [(r.subscriber, r.sent, r.error) for r in rounds] == [("bus", 10, "")]
            assert _outbox(services) == 0, "rows every cursor has passed are pruned"
            assert _drain(services, 1)[0].sent == 0, "a published event is not sent again"
            [cursor] = services.publisher.cursors()
            assert (cursor.delivered, cursor.pending, cursor.last_error) == (10, 0, "")
        found = _consume(NATS_URL, stream)
    finally:
        _delete_stream(NATS_URL, stream)
    events = [event for _, event in found]
    first = [e for e in events if e["subject"] == f"{sf.PROJECT}/{sf.DOMAIN}/first"]
    assert [e["type"].rsplit(".", 1)[1] for e in first] == [
        "WorkflowExecution",
        "NodeExecution",
        "TaskExecution",
        "NodeExecution",
        "WorkflowExecution",
    ], "an execution's events arrive in the order they were recorded"
    assert [e["id"] for e in first] == [
        f"{sf.PROJECT}/{sf.DOMAIN}/first.RUNNING",
        f"{sf.PROJECT}/{sf.DOMAIN}/first/n0.RUNNING",
        f"{sf.PROJECT}/{sf.DOMAIN}/first/n0/0/schedule_flows.stamp.SUCCEEDED",
        f"{sf.PROJECT}/{sf.DOMAIN}/first/n0.SUCCEEDED",
        f"{sf.PROJECT}/{sf.DOMAIN}/first.SUCCEEDED",
    ]
    succeeded = first[-1]
    assert succeeded["type"] == "com.flyte.resource.cloudevents.WorkflowExecution"
    assert succeeded["source"] == f"{sf.PROJECT}/{sf.DOMAIN}/first/end-node"
    assert succeeded["specversion"] == "1.0" and succeeded["datacontenttype"] == "application/json"
    assert succeeded["data"]["rawEvent"]["phase"] == "SUCCEEDED"
    assert succeeded["data"]["rawEvent"]["executionId"]["name"] == "first"
    assert succeeded["data"]["launchPlanId"]["name"] == "schedule_flows.stamped"
    assert set(succeeded["data"]["outputInterface"]["outputs"]["variables"]) == {"o0"}
    assert "outputInterface" not in first[0]["data"], "only a succeeded workflow's event carries it"
    assert first[1]["data"]["rawEvent"]["inputUri"].endswith("/in")
    assert first[2]["source"] == f"{sf.PROJECT}/{sf.DOMAIN}/first/n0/0"
    subjects = {s for s, _ in found}
    assert subjects == {f"{subject}.{sf.PROJECT}.{sf.DOMAIN}.{kind}" for kind in ("workflow", "node", "task")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnNats:
    """A ``nats-server`` with JetStream of the test's own, that it can stop and start again (same port, same
    store)."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("nats-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not _nats_reachable(port=self.port):
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.mark.skipif(shutil.which("nats-server") is None, reason="no nats-server binary to run")
def test_a_broker_outage_mid_stream_and_an_admin_restart_lose_nothing(database_url, tmp_path):
    broker = OwnNats(tmp_path / "jetstream")
    broker.start()
    subscriber = {"name": "bus", "url": broker.url, "subject": "roost.events", "stream": "ROOST"}
    try:
        with publishing(database_url, tmp_path, subscriber) as services:
            clock = services.context.clock
            assert isinstance(clock, FakeClock)
            _run(services, "before")
            assert _drain(services, 1)[0].sent == 5
            broker.stop()
            _run(services, "during")
            _launch(services, "after")
            _workflow_event(services, "after", Phase.RUNNING, 1)
            [failed] = _drain(services, 1)
            assert failed.sent == 0 and "NATS at " + broker.url in failed.error
            assert _drain(services, 1) == [], "a failed subscriber waits out its backoff"
            [cursor] = services.publisher.cursors()
            assert (cursor.pending, cursor.attempts) == (6, 1)
            assert "NATS at" in cursor.last_error
            assert _outbox(services) == 6, "nothing is pruned while the broker is away"
        # A new admin over the same database (the old one stopped) carries on from the cursor.
        with built(
            database_url, tmp_path, clock, events={"subscribers": [subscriber], "timeout": 1.0}
        ) as restarted:
            try:
                clock.advance(datetime.timedelta(seconds=5))
                [still_down] = _drain(restarted, 1)
                assert still_down.sent == 0
                broker.start()
                clock.advance(datetime.timedelta(seconds=5))
                assert sum(r.sent for r in _drain(restarted)) == 6, "the backlog drains when it returns"
                _workflow_event(restarted, "after", Phase.SUCCEEDED, 9)
                assert sum(r.sent for r in _drain(restarted)) == 1
                assert _outbox(restarted) == 0
                [cursor] = restarted.publisher.cursors()
                assert (cursor.delivered, cursor.attempts, cursor.last_error) == (12, 0, "")
            finally:
                restarted.publisher.close()
        found = [event for _, event in _consume(broker.url, "ROOST")]
    finally:
        broker.stop()
    names = [event["subject"].rsplit("/", 1)[1] for event in found]
    assert names == ["before"] * 5 + ["during"] * 5 + ["after"] * 2, "in order, none lost, none twice"
    assert len({event["id"] for event in found}) == 12


def test_webhook_subscribers_get_signed_cloudevents_that_their_filters_want(database_url, tmp_path):
    with (
        receiving() as workflows,
        receiving([500]) as everything,
        publishing(
            database_url,
            tmp_path,
            {"name": "wf", "url": workflows.url, "secret": SECRET, "types": ["workflow"]},
            {"name": "all", "url": everything.url, "secret": SECRET, "domains": [sf.DOMAIN]},
            {"name": "other", "url": everything.url, "secret": SECRET, "projects": ["elsewhere"]},
        ) as services,
    ):
        _run(services, "one")
        rounds = {r.subscriber: r for r in _drain(services, 1)}
        assert rounds["wf"].sent == 2 and rounds["other"].sent == 0
        assert (
            rounds["all"].sent == 0
            and rounds["all"].error == "the receiver answered 500 Internal Server Error"
        )
        assert _outbox(services) == 5, "kept for the subscriber that failed"
        services.context.clock.advance(datetime.timedelta(seconds=2))  # type: ignore[attr-defined]
        rounds = {r.subscriber: r for r in _drain(services, 1)}
        assert rounds["all"].sent == 5
        assert _outbox(services) == 0
    assert [json.loads(body)["data"]["rawEvent"]["phase"] for _, body in workflows.requests] == [
        "RUNNING",
        "SUCCEEDED",
    ]
    bodies = [json.loads(body) for _, body in everything.requests]
    assert [b["id"] for b in bodies[1:]] == [b["id"] for b in bodies[:1]] + [
        f"{sf.PROJECT}/{sf.DOMAIN}/one/n0.RUNNING",
        f"{sf.PROJECT}/{sf.DOMAIN}/one/n0/0/schedule_flows.stamp.SUCCEEDED",
        f"{sf.PROJECT}/{sf.DOMAIN}/one/n0.SUCCEEDED",
        f"{sf.PROJECT}/{sf.DOMAIN}/one.SUCCEEDED",
    ], "the refused event is sent again first, then the rest in order"
    for headers, body in workflows.requests + everything.requests:
        assert headers["content-type"] == "application/cloudevents+json"
        assert headers["x-roost-signature"] == signature(SECRET, headers["x-roost-timestamp"], body)
        assert headers["x-roost-delivery"] == json.loads(body)["id"]


def test_nothing_is_kept_without_subscribers(tmp_path):
    with publishing(f"sqlite:///{tmp_path / 'roost.db'}", tmp_path) as services:
        _run(services, "alone")
        assert _outbox(services) == 0


def test_bad_subscriber_settings_are_refused_naming_the_field(tmp_path):
    with pytest.raises(ValidationError, match="a webhook needs a secret of at least 16 characters"):
        Settings(data_dir=tmp_path, events={"subscribers": [{"name": "w", "url": "http://x/h"}]})
    with pytest.raises(ValidationError, match="subscriber names must be unique: bus used more than once"):
        Settings(
            data_dir=tmp_path,
            events={"subscribers": [{"name": "bus", "url": NATS_URL}, {"name": "bus", "url": NATS_URL}]},
        )
    with pytest.raises(ValidationError, match=r"events.subscribers.0.types.0"):
        Settings(
            data_dir=tmp_path, events={"subscribers": [{"name": "b", "url": NATS_URL, "types": ["job"]}]}
        )


def test_roost_admin_events_shows_each_subscribers_cursor(tmp_path):
    import yaml
    from click.testing import CliRunner

    from roost_admin.cli import admin

    with receiving([503]) as down:
        subscriber = {"name": "audit", "url": down.url, "secret": SECRET, "types": ["workflow"]}
        with publishing(f"sqlite:///{tmp_path / 'roost.db'}", tmp_path, subscriber) as services:
            _run(services, "seen")
            _drain(services, 1)
    config = tmp_path / "roost.yaml"
    config.write_text(yaml.safe_dump({"events": {"subscribers": [subscriber]}}))
    runner = CliRunner()
    shown = runner.invoke(admin, ["events", "--config", str(config), "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert shown.output == (
        "audit  delivered 0  waiting 5  attempts 1  last error: the receiver answered 503 Service Unavailable\n"
    )
    none = runner.invoke(admin, ["events", "--data-dir", str(tmp_path)])
    assert none.output == "no event subscribers are configured (events.subscribers)\n"


@pytest.mark.skipif(not _nats_reachable(), reason="no NATS server at 127.0.0.1:4222")
def test_roost_start_publishes_its_engines_events_to_nats(tmp_path, database_url):
    import execution_support as support

    stream = f"ROOST_TEST_{uuid.uuid4().hex[:8].upper()}"
    subscriber = {
        "name": "bus",
        "url": NATS_URL,
        "subject": f"roosttest{uuid.uuid4().hex[:8]}",
        "stream": stream,
    }
    events = {"subscribers": [subscriber], "poll_interval": 0.05}
    try:
        with support.running_admin(tmp_path, database_url, workers=1, events=events) as (app, admin, _):
            ident = support.launch(admin, "one", x=1)
            ended = support.wait(admin, ident)
            assert ended.closure.phase == Phase.SUCCEEDED

            def published() -> list[dict[str, Any]]:
                try:
                    found = [event for _, event in _consume(NATS_URL, stream)]
                except Exception:  # the stream is made by the publisher's first round
                    return []
                done = any(
                    e["type"].endswith("WorkflowExecution") and e["data"]["rawEvent"]["phase"] == "SUCCEEDED"
                    for e in found
                )
                return found if done else []

            found = support.wait_until(published, what="the execution's events on NATS")
            assert app.publisher is not None
    finally:
        _delete_stream(NATS_URL, stream)
    mine = [e for e in found if e["subject"] == f"{ident.project}/{ident.domain}/{ident.name}"]
    kinds = {e["type"].rsplit(".", 1)[1] for e in mine}
    assert kinds == {"WorkflowExecution", "NodeExecution", "TaskExecution"}
    workflow_phases = [
        e["data"]["rawEvent"]["phase"] for e in mine if e["type"].endswith("WorkflowExecution")
    ]
    assert workflow_phases[-1] == "SUCCEEDED" and "RUNNING" in workflow_phases
    assert mine[-1]["type"].endswith("WorkflowExecution"), "the end comes last"
