"""The fuzz suite: every RPC of the AdminService, DataProxyService and SignalService, and the HTTP routes, get
empty, unknown-id, out-of-range and random requests (hypothesis), against a seeded admin on SQLite and on
PostgreSQL. Any INTERNAL, UNKNOWN or UNAVAILABLE answer, any HTTP 5xx, a call that hangs, a message that shows
server internals (SQL, a traceback, a source path), a warning or error the server logs, or a server that stops
answering fails the suite.

``ROOST_FUZZ_EXAMPLES`` sets the number of examples per RPC (default 40: about a minute for both databases on two
cores); a deeper run: ``ROOST_FUZZ_EXAMPLES=500 nox -s admin -- admin/tests/test_fuzz.py``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import execution_support as support
import grpc
import httpx
import pytest
import registry_flows
from conftest import DATABASES, fresh_database, make_settings, started
from flyteidl.admin import (
    common_pb2,
    node_execution_pb2,
    signal_pb2,
    task_execution_pb2,
    version_pb2,
)
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2, dataproxy_pb2_grpc, signal_pb2_grpc
from fuzz_requests import HttpRequest, Pools, RequestStrategies, http_requests, methods, path_of
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost_admin.app import AdminApp, grpc_options

EXAMPLES = int(os.environ.get("ROOST_FUZZ_EXAMPLES", "40"))
CALL_TIMEOUT = 30.0
"""Seconds a call may take before it counts as a hang."""
CLIENT_ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
}
"""What a client's input may be answered with."""
LEAKS = re.compile(
    r"Traceback|File \"|site-packages|\.py\b|\b(SELECT|INSERT|UPDATE|DELETE) .+ (FROM|INTO|SET)\b|sqlalchemy|psycopg|sqlite3",
    re.I,
)
"""What a message must never show: a traceback, a source file, an SQL statement, the database driver."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


class ServerLog(logging.Handler):
    """Collects what the server logs at WARNING or above (server faults, grpc's own errors)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken = [self.format(r) for r in self.records]
        self.records.clear()
        return taken


@dataclass
class Target:
    """A seeded admin to fuzz, with a channel to it and the pools of values it knows."""

    app: AdminApp
    channel: grpc.Channel
    strategies: RequestStrategies
    signed_urls: list[str]
    log: ServerLog


@pytest.fixture(scope="module", params=DATABASES)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One admin per database for the whole module, with flows registered and executions run (one succeeded,
    one failed, one waiting at a gate), then its workers stopped so that fuzzing starts no task processes."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with fresh_database(request.param, folder) as url:
        settings_ = make_settings(folder, url, workers=1, engine=support.engine_section())
        handler = ServerLog()
        with started(settings_) as app:
            logging.getLogger().addHandler(handler)
            try:
                with grpc.insecure_channel(
                    f"127.0.0.1:{app.grpc_port}", options=grpc_options(app.settings)
                ) as channel:
                    pools, urls = _seed(app, channel)
                    handler.take()
                    yield Target(app, channel, RequestStrategies(pools), urls, handler)
            finally:
                logging.getLogger().removeHandler(handler)


def _seed(app: AdminApp, channel: grpc.Channel) -> tuple[Pools, list[str]]:
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    signals = signal_pb2_grpc.SignalServiceStub(channel)
    dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)
    support.register_flows(admin)
    done = support.wait(admin, support.launch(admin, "one", x=1))
    failed = support.wait(admin, support.launch(admin, "failing", x=1))
    gated = support.launch(admin, "gated", x=1)
    waiting = support.wait_until(
        lambda: (
            signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=gated, limit=10)).signals
        ),
        what="the gate's signal",
    )
    assert app.workers is not None
    app.workers.stop(5.0)
    app.workers = None

    pools = Pools()
    executions = [done.id, failed.id, gated]
    for ident in executions:
        pools.add(ident)
        nodes = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=100)
        ).node_executions
        for node in nodes:
            pools.add(node.id)
            pools.strings.setdefault("node_id", []).append(node.id.node_id)
            attempts = admin.ListTaskExecutions(
                task_execution_pb2.TaskExecutionListRequest(node_execution_id=node.id, limit=100)
            ).task_executions
            for attempt in attempts:
                pools.add(attempt.id)
    for signal in waiting:
        pools.add(signal.id)
    serializer = registry_flows.serialize(*support.FLOWS, version="v1")
    for task in registry_flows.task_requests(serializer):
        pools.add(task)
        pools.add(task.id)
        pools.add(
            common_pb2.NamedEntityIdentifier(
                project=task.id.project, domain=task.id.domain, name=task.id.name
            )
        )
    for lp_name in ("one", "pair_fixed", "gated"):
        lp = support.lp_id(lp_name)
        pools.add(lp)
        pools.add(common_pb2.NamedEntityIdentifier(project=lp.project, domain=lp.domain, name=lp.name))
    pools.add(support.create_request(lp="one", x=3))
    pools.add(support.create_request(lp="pair", x=3))
    pools.add(support.literal_map(x=1))
    pools.add(common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING))
    pools.integers.update({"limit": [1, 2, 100, 10_000], "retry_attempt": [0, 1]})
    for seconds in (0, 3600, 1_800_000_000, 253_402_300_799):
        pools.add(timestamp_pb2.Timestamp(seconds=seconds))
    for seconds in (1, 3600, 315_576_000_000):
        pools.add(duration_pb2.Duration(seconds=seconds))
    pools.strings.update(
        {
            "project": ["flytesnacks", "nope"],
            "domain": ["development", "qa"],
            "name": ["execution_flows.one", "execution_flows.gated", done.id.name, gated.name, "nope"],
            "version": ["v1", "v2"],
            "unique_parent_id": pools.strings["node_id"],
            "signal_id": [s.id.signal_id for s in waiting] or ["ok"],
            "token": ["", "1", "99999999999999999999", "-1", "٣", "1_0"],
            "filters": [
                "eq(phase,SUCCEEDED)",
                "eq(execution.phase,99)",
                "eq(name,a\x00b)",
                "gte(created_at,2026-01-01T00:00:00Z)",
                "lte(created_at,9999-12-31T23:59:59-01:00)",
                "value_in(phase,1;2;99999999999999999999)",
                "eq(state,99999999999999999999)",
                "eq(duration,nan)",
                "gt(duration,1e999)",
                "contains(name,%_)",
                "eq(retry_attempt,-99999999999)",
                "bogus",
                "eq(nope,1)",
            ],
            "key": ["created_at", "name", "phase", "nope"],
            "native_url": [
                f"{app.settings.storage_prefix}/nope.bin",
                "file:///etc/passwd",
                f"{app.settings.storage_prefix}/../../x",
                "s3://bucket/key",
            ],
            "filename": ["a.txt", "a/b.txt", "../x", "fast0123.tar.gz"],
            "filename_root": ["root", "a/b", "../x"],
        }
    )
    upload = dataproxy.CreateUploadLocation(
        dataproxy_pb2.CreateUploadLocationRequest(
            project="flytesnacks", domain="development", filename_root="fuzz"
        )
    )
    urls = [upload.signed_url]
    if done.closure.outputs.uri:
        download = dataproxy_pb2.CreateDownloadLocationRequest(native_url=done.closure.outputs.uri)
        urls.append(dataproxy.CreateDownloadLocation(download).signed_url)
    return pools, urls


def _check_answer(method: MethodDescriptor, request: Message | bytes, target: Target) -> None:
    call = target.channel.unary_unary(path_of(method))
    payload = request if isinstance(request, bytes) else request.SerializeToString()
    try:
        call(payload, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
        assert code in CLIENT_ERRORS, f"{method.name} answered {code.name}: {details}\nrequest: {request!r}"
        assert not LEAKS.search(details), f"{method.name} leaked server internals: {details}"
    logged = target.log.take()
    assert not logged, f"{method.name} made the server log:\n" + "\n".join(logged) + f"\nrequest: {request!r}"


@pytest.mark.parametrize("method", methods(), ids=lambda m: f"{m.containing_service.name}.{m.name}")
@FUZZ_SETTINGS
@given(data=st.data())
def test_every_rpc_answers_hostile_requests_cleanly(target: Target, method: MethodDescriptor, data) -> None:
    request = data.draw(target.strategies.request(method), label="request")
    _check_answer(method, request, target)
    # The server is still there and serving.
    admin_pb2_grpc.AdminServiceStub(target.channel).GetVersion(
        version_pb2.GetVersionRequest(), timeout=CALL_TIMEOUT
    )


@FUZZ_SETTINGS
@given(data=st.data())
def test_the_http_endpoint_answers_hostile_requests_cleanly(target: Target, data) -> None:
    request: HttpRequest = data.draw(http_requests(target.signed_urls, target.app.http_url), label="request")
    url = target.app.http_url + request.path + ("?" + urlencode(list(request.query)) if request.query else "")
    with httpx.Client(timeout=CALL_TIMEOUT) as client:
        response = client.request(request.method, url, headers=list(request.headers), content=request.body)
    assert response.status_code < 500, f"{request!r} answered {response.status_code}: {response.text}"
    assert not LEAKS.search(response.text), f"{request!r} leaked server internals: {response.text}"
    logged = target.log.take()
    assert not logged, f"{request!r} made the server log:\n" + "\n".join(logged)
