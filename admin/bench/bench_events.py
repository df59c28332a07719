"""Events published per second to NATS: 5,000 node execution events put into the outbox as they are recorded
(:func:`roost_admin.services.publishing.enqueue`), then drained by the publisher to a JetStream stream on the
NATS server at 127.0.0.1:4222, each acknowledged before the cursor moves. The peer: nats-py publishing the same
CloudEvents to JetStream in a bare loop, one acknowledged publish after another (the ceiling of one in-order
publisher on this broker). On SQLite and on PostgreSQL (when reachable). Printed, never asserted."""

from __future__ import annotations

import asyncio
import datetime
import socket
import tempfile
import time
import uuid
from pathlib import Path

from _bench_support import DOMAIN, PROJECT, postgres_database, print_table
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from sqlalchemy import select

from roost_admin.config import Settings
from roost_admin.db import models
from roost_admin.db.base import Database
from roost_admin.db.migrate import upgrade
from roost_admin.services import ServiceContext, Services, publishing
from roost_core.plugins import EnginePlugins
from roost_core.storage import build_storage

EVENTS = 5_000
EXECUTIONS = 50
NATS = "nats://127.0.0.1:4222"


def _fill(services: Services) -> float:
    """Put :data:`EVENTS` events into the outbox, one transaction per execution's 100; the seconds it took."""
    now = datetime.datetime.now(datetime.UTC)
    started = time.perf_counter()
    per = EVENTS // EXECUTIONS
    for number in range(EXECUTIONS):
        execution = models.Execution(
            project=PROJECT,
            domain=DOMAIN,
            name=f"e{number}",
            principal="bench",
            outputs_uri="",
            updated_at=now,
        )
        ident = identifier_pb2.WorkflowExecutionIdentifier(
            project=PROJECT, domain=DOMAIN, name=execution.name
        )
        recorded = []
        for index in range(per):
            event = event_pb2.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(node_id=f"n{index}", execution_id=ident),
                phase=core_execution_pb2.NodeExecution.RUNNING,
                producer_id="bench",
            )
            event.occurred_at.FromDatetime(now)
            recorded.append((execution, event))
        with services.context.db.begin() as session:
            publishing.enqueue(services.context, session, recorded)
    return time.perf_counter() - started


def _bodies(services: Services) -> list[tuple[str, str, str]]:
    with services.context.db.session() as session:
        rows = session.execute(select(models.EventRecord.kind, models.EventRecord.body)).all()
    return [(f"peer.{PROJECT}.{DOMAIN}.{row.kind}", str(uuid.uuid4()), row.body) for row in rows]


def _peer(bodies: list[tuple[str, str, str]], stream: str) -> float:
    """nats-py alone: the same messages, acknowledged one by one; the seconds it took."""

    async def publish() -> float:
        import nats

        client = await nats.connect(NATS)
        try:
            jet = client.jetstream()
            await jet.add_stream(name=stream, subjects=["peer.>"])
            started = time.perf_counter()
            for subject, ident, body in bodies:
                await jet.publish(subject, body.encode(), headers={"Nats-Msg-Id": ident})
            elapsed = time.perf_counter() - started
            await jet.delete_stream(stream)
            return elapsed
        finally:
            await client.close()

    return asyncio.run(publish())


def _drop(stream: str) -> None:
    async def drop() -> None:
        import nats

        client = await nats.connect(NATS)
        try:
            await client.jetstream().delete_stream(stream)
        finally:
            await client.close()

    asyncio.run(drop())


def run(label: str, url: str, folder: Path) -> tuple[str, ...]:
    """Fill the outbox, drain it to JetStream, and time the peer on the same messages."""
    stream = f"ROOST_BENCH_{uuid.uuid4().hex[:8].upper()}"
    subscriber = {"name": "bench", "url": NATS, "subject": f"bench{uuid.uuid4().hex[:8]}", "stream": stream}
    settings = Settings(data_dir=folder, db_url=url, workers=0, events={"subscribers": [subscriber]})
    db = Database(url)
    upgrade(db)
    storage = build_storage(
        EnginePlugins(), {"file": {"url_base": "http://nowhere/data", "signing_key": b"k"}}
    )
    services = Services(ServiceContext(settings=settings, db=db, storage=storage))
    try:
        filling = _fill(services)
        bodies = _bodies(services)
        started = time.perf_counter()
        sent = 0
        while sent < EVENTS:
            rounds = services.publisher.publish_due("bench")
            if any(done.error for done in rounds):
                raise RuntimeError(rounds[0].error)
            sent += sum(done.sent for done in rounds)
        publishing_seconds = time.perf_counter() - started
        peer_seconds = _peer(bodies, f"{stream}_PEER")
    finally:
        services.publisher.close()
        _drop(stream)
        db.dispose()
    rate = EVENTS / publishing_seconds
    peer = EVENTS / peer_seconds
    return (
        label,
        f"{EVENTS / filling:,.0f}/s",
        f"{rate:,.0f}/s",
        f"{peer:,.0f}/s",
        f"{rate / peer:.2f}",
    )


def _reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    """Both databases, one table."""
    if not _reachable():
        print("Events to NATS: skipped (no NATS server at 127.0.0.1:4222)")
        return
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        rows.append(run("SQLite", f"sqlite:///{temp}/roost.db", Path(temp)))
    with postgres_database() as url, tempfile.TemporaryDirectory() as temp:
        if url is None:
            rows.append(("PostgreSQL: skipped (no server at 127.0.0.1:5432)", "", "", "", ""))
        else:
            rows.append(run("PostgreSQL", url, Path(temp)))
    print_table(
        f"Events published to NATS JetStream: {EVENTS:,} node events of {EXECUTIONS} executions",
        ["setup", "into the outbox", "published", "nats-py alone", "ratio"],
        rows,
        note="published: outbox -> JetStream, each acknowledged, cursor moved per batch of 200. nats-py alone: "
        "the same CloudEvents published and acknowledged one by one in a bare loop. ratio = published / alone.",
    )


if __name__ == "__main__":
    main()
