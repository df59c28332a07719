"""RemoteJobHandler driven round by round against the fake query service, as the engine would."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import MakeHandler
from fake_query_service import (
    FakeQueryService,
    QueryJob,
    QueryPlugin,
    make_ctx,
    settings,
    step,
    where,
)
from flyteidl.core import literals_pb2

from roost_core.errors import ErrorKind, SettingsError
from roost_core.handler import TaskContext, TaskPhase, Transition
from roost_core.remote import (
    JobMeta,
    JobPhase,
    MemoryResourceManager,
    RemoteJobError,
    RemoteJobPlugin,
    UserError,
)
from roost_core.remote.naming import attempt_job_id
from roost_core.storage import Storage
from roost_core.testing.harness import FakeClock

WAIT = 5.0
"""Upper bound for background work that normally takes milliseconds; reached only when broken."""


def woken(event: threading.Event) -> bool:
    """Wait for a notify, then re-arm the event for the next one."""
    fired = event.wait(WAIT)
    event.clear()
    return fired


def wait_for(predicate: Any, what: str) -> None:
    """Wait until ``predicate()`` holds (for things the tests cannot be notified of)."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def test_happy_path_creates_watches_and_writes_outputs(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    plugin = QueryPlugin(service)
    handler = make_handler(plugin)
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set, limit=5)

    created = step(handler, ctx)
    assert created.phase is TaskPhase.QUEUED
    assert created.reason == "created remote job q-1"
    assert ctx.state["phase"] == JobPhase.CREATED.value
    assert ctx.state["meta"] == {"id": "q-1"}
    assert service.statements["q-1"] == "SELECT count(*) FROM trips LIMIT 5"

    assert woken(event), "the first status should wake the execution"
    assert step(handler, ctx).reason == "queued on the query service"

    service.set_state("q-1", "RUNNING")
    assert woken(event)
    running = step(handler, ctx)
    assert running.phase is TaskPhase.RUNNING
    assert [(log.name, log.uri) for log in running.logs] == [("Query console", "https://queries.example/q-1")]

    service.set_state("q-1", "SUCCEEDED", rows=42)
    assert woken(event)
    done = step(handler, ctx)
    assert done.phase is TaskPhase.SUCCESS
    outputs = storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert outputs.literals["rows"].scalar.primitive.integer == 42
    assert len(handler.status_cache) == 0
    assert service.calls["submit"] == 1
    # handle never fetched inline: every get ran on the cache's worker threads.
    assert plugin.get_threads
    assert all(name.startswith("roost-remote-fake-query-") for name in plugin.get_threads)


def test_a_repeated_final_round_ends_the_same_way_until_finalize(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    # The engine may call handle again with the state from before the final round (its save failed, a
    # crash): the job's final status is kept, so the repeat does not wait for a status fetched anew.
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)
    service.set_state("q-1", "SUCCEEDED", rows=42)
    assert woken(event)
    before = dict(ctx.state)
    first = handler.handle(ctx)
    again = handler.handle(ctx)
    assert ctx.state == before
    assert (first.phase, again.phase) == (TaskPhase.SUCCESS, TaskPhase.SUCCESS), again
    key = attempt_job_id(ctx.task_execution_id)
    assert key in handler.status_cache and len(handler.status_cache) == 0, "kept, but no longer fetched"
    handler.finalize(ctx)
    assert key not in handler.status_cache


def test_remote_failure_is_a_user_failure_naming_task_and_job(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)
    service.set_state("q-1", "FAILED", error="table trips does not exist")
    assert woken(event)
    failed = step(handler, ctx)
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert failed.error.kind is ErrorKind.USER
    assert failed.error.code == "QueryFailed"
    assert failed.error.message == f"{where()}, remote job q-1: table trips does not exist"


def test_status_change_notifies_and_unchanged_status_does_not(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)

    polls = service.calls["poll"]
    # Two more polls complete means at least one full refresh found the same status.
    wait_for(lambda: service.calls["poll"] >= polls + 2, "more polls")
    assert not event.is_set()

    service.set_state("q-1", "RUNNING")
    assert woken(event)
    assert step(handler, ctx).phase is TaskPhase.RUNNING


def test_full_quota_waits_then_proceeds_when_another_job_finishes(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"adhoc-cluster": 1})
    handler = make_handler(config=config)
    first = make_ctx(storage, node="n0")
    second = make_ctx(storage, node="n1")

    assert step(handler, first).phase is TaskPhase.QUEUED
    waiting = step(handler, second)
    assert waiting.phase is TaskPhase.WAITING_FOR_RESOURCES
    assert waiting.reason == "waiting for quota 'adhoc-cluster': 1 of 1 units in use, 1 needed"
    assert service.calls["submit"] == 1

    service.set_state("q-1", "SUCCEEDED", rows=1)
    wait_for(lambda: step(handler, first).phase is TaskPhase.SUCCESS, "the first job to end")
    assert handler.resource_manager.in_use("adhoc-cluster") == 1
    assert step(handler, second).phase is TaskPhase.WAITING_FOR_RESOURCES, "units are held until finalize"
    handler.finalize(first)

    assert step(handler, second).reason == "created remote job q-2"
    assert handler.resource_manager.in_use("adhoc-cluster") == 1


def test_plugin_can_pick_quotas_and_amounts(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"adhoc-cluster": 5, "slots": 3})

    class HeavyQueries(QueryPlugin):
        def resource_requirements(self, ctx: TaskContext) -> dict[str, int]:
            return {"slots": 2, "adhoc-cluster": 1}

    handler = make_handler(HeavyQueries(service), config=config)
    first = make_ctx(storage, node="n0")
    second = make_ctx(storage, node="n1")
    step(handler, first)
    assert step(handler, second).reason == ("waiting for quota 'slots': 2 of 3 units in use, 2 needed")
    # All or nothing: the refused attempt holds no unit of the other quota either.
    assert handler.resource_manager.in_use("adhoc-cluster") == 1
    assert first.state["quota"] == {"slots": 2, "adhoc-cluster": 1}


def test_no_quota_needed_when_plugin_asks_for_none(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"adhoc-cluster": 1})

    class Unlimited(QueryPlugin):
        def resource_requirements(self, ctx: TaskContext) -> dict[str, int]:
            return {}

    handler = make_handler(Unlimited(service), config=config)
    for node in ("n0", "n1"):
        assert step(handler, make_ctx(storage, node=node)).phase is TaskPhase.QUEUED
    assert handler.resource_manager.in_use("adhoc-cluster") == 0


@pytest.mark.parametrize(
    ("needs", "message"),
    [
        ({"gpu-cluster": 1}, "quota 'gpu-cluster' is not configured (configured quotas: 'adhoc-cluster')"),
        ({"adhoc-cluster": 3}, "3 units of quota 'adhoc-cluster' are needed but its limit is 2"),
    ],
)
def test_unsatisfiable_quota_request_fails_permanently(
    make_handler: MakeHandler,
    service: FakeQueryService,
    storage: Storage,
    needs: dict[str, int],
    message: str,
) -> None:
    class Misconfigured(QueryPlugin):
        def resource_requirements(self, ctx: TaskContext) -> dict[str, int]:
            return needs

    handler = make_handler(Misconfigured(service), config=settings(quotas={"adhoc-cluster": 2}))
    failed = step(handler, make_ctx(storage))
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert failed.error.code == "RemoteJobQuotaMisconfigured"
    assert failed.error.kind is ErrorKind.SYSTEM
    assert failed.error.message == f"{where()}: {message}"
    assert service.calls["submit"] == 0


def test_bad_resource_requirements_fail_naming_the_plugin(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    class Sloppy(QueryPlugin):
        def resource_requirements(self, ctx: TaskContext) -> dict[str, Any]:
            return {"adhoc-cluster": 0, "slots": "1"}

    failed = step(make_handler(Sloppy(service)), make_ctx(storage))
    assert failed.error is not None
    assert failed.error.message == (
        f"{where()}: plugin 'fake-query' asked for quota units that are not positive whole "
        "numbers by quota name: 'adhoc-cluster': 0, 'slots': '1'"
    )


def test_user_error_from_resource_requirements(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    class PicksCluster(QueryPlugin):
        def resource_requirements(self, ctx: TaskContext) -> dict[str, int]:
            raise UserError("cluster 'gpu' does not exist", code="UnknownCluster")

    failed = step(make_handler(PicksCluster(service)), make_ctx(storage))
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("UnknownCluster", ErrorKind.USER)
    assert failed.error.message == f"{where()}: cluster 'gpu' does not exist"


def test_write_rate_limit_defers_create_without_blocking(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(write_rate_limit={"qps": 2, "burst": 1})
    clock = FakeClock()
    handler = make_handler(clock=clock, config=config)
    first = make_ctx(storage, node="n0")
    second = make_ctx(storage, node="n1")

    assert step(handler, first).phase is TaskPhase.QUEUED
    deferred = step(handler, second)
    assert deferred.phase is TaskPhase.WAITING_FOR_RESOURCES
    assert deferred.reason == (
        "write rate limit of 'fake-query' reached (2/s, burst 1); the remote job will be created "
        "in a later round"
    )
    assert deferred.wake_after == 0.5
    assert second.state["phase"] == JobPhase.ALLOCATED.value
    assert service.calls["submit"] == 1

    clock.advance(0.5)
    assert step(handler, second).reason == "created remote job q-2"


def test_read_rate_limit_holds_back_status_fetches(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(read_rate_limit={"qps": 1, "burst": 1})
    clock = FakeClock()
    handler = make_handler(clock=clock, config=config)
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)
    polls = service.calls["poll"]

    service.set_state("q-1", "RUNNING")
    # The resync interval is 5 ms; without a read token no fetch may happen, however long we wait.
    time.sleep(0.05)
    assert service.calls["poll"] == polls
    assert not event.is_set()

    clock.advance(1.0)
    assert woken(event)
    assert step(handler, ctx).phase is TaskPhase.RUNNING


def test_create_failures_are_retried_then_permanent(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    ctx = make_ctx(storage)
    service.fail_submits = 3

    for failures in (1, 2):
        retry = step(handler, ctx)
        assert retry.phase is TaskPhase.NOT_READY
        assert retry.version == failures
        assert retry.reason == (
            f"create() failed ({failures} of 2 failures tolerated), will retry: "
            "ConnectionError: query service unavailable"
        )
        assert ctx.state["system_failures"] == failures

    failed = step(handler, ctx)
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("RemoteJobCreateFailed", ErrorKind.SYSTEM)
    assert failed.error.message == (
        f"{where()}: create() failed 3 times in a row, more than max_system_failures=2; "
        "last error: ConnectionError: query service unavailable"
    )
    assert service.job_ids() == []


def test_a_successful_create_resets_the_failure_count(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    ctx = make_ctx(storage)
    service.fail_submits = 2
    step(handler, ctx)
    step(handler, ctx)
    assert step(handler, ctx).reason == "created remote job q-1"
    assert ctx.state["system_failures"] == 0


def test_rejected_query_is_a_user_failure_with_the_plugins_message(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    failed = step(handler, make_ctx(storage, statement="SELEC count(*) FROM trips"))
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("RemoteJobUserError", ErrorKind.USER)
    assert failed.error.message == f"{where()}: query rejected: syntax error near 'SELEC'"
    assert service.calls["submit"] == 1, "user errors are not retried"


def test_retryable_user_error(make_handler: MakeHandler, service: FakeQueryService, storage: Storage) -> None:
    class Busy(QueryPlugin):
        def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
            raise UserError("table trips is locked by another job", code="TableLocked", retryable=True)

    failed = step(make_handler(Busy(service)), make_ctx(storage))
    assert failed.phase is TaskPhase.RETRYABLE_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("TableLocked", ErrorKind.USER)


def test_job_gone_from_remote_is_a_user_failure(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)
    service.forget("q-1")
    assert woken(event)
    failed = step(handler, ctx)
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("QueryGone", ErrorKind.USER)
    assert failed.error.message == f"{where()}, remote job q-1: query q-1 no longer exists"
    assert len(handler.status_cache) == 0


@pytest.mark.parametrize(
    ("cancel_fails", "cancelled", "job_state"),
    [
        (False, "the job was cancelled", "CANCELLED"),
        (True, "cancelling the job failed too", "QUEUED"),
    ],
)
def test_get_failures_past_the_budget_fail_the_attempt_and_cancel_the_job(
    make_handler: MakeHandler,
    service: FakeQueryService,
    storage: Storage,
    *,
    cancel_fails: bool,
    cancelled: str,
    job_state: str,
) -> None:
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    service.fail_polls = 3
    service.fail_cancels = int(cancel_fails)
    step(handler, ctx)
    assert woken(event), "giving up should wake the execution"
    failed = step(handler, ctx)
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("RemoteJobUnreachable", ErrorKind.SYSTEM)
    assert failed.error.message == (
        f"{where()}, remote job q-1: get() failed 3 times in a row, more than "
        f"max_system_failures=2; {cancelled}; last error: TimeoutError: poll timed out"
    )
    assert service.job("q-1").state == job_state


def test_get_failures_within_the_budget_are_absorbed(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    service.fail_polls = 2
    step(handler, ctx)
    assert woken(event)
    assert step(handler, ctx).reason == "queued on the query service"


def test_status_failures_are_retried_then_permanent(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    event = threading.Event()
    # Outputs go to a scheme nobody serves, so writing them in status() fails every time.
    ctx = make_ctx(storage, notify=event.set, output_prefix="gs://nowhere/out")
    step(handler, ctx)
    assert woken(event)
    service.set_state("q-1", "SUCCEEDED", rows=3)
    assert woken(event)
    retry = step(handler, ctx)
    assert retry.phase is TaskPhase.RUNNING
    assert retry.reason == (
        "status() failed (1 of 2 failures tolerated), will retry: StorageError: no blob store for "
        "gs:// in 'gs://nowhere/out/outputs.pb'; configured: mem://"
    )
    step(handler, ctx)
    failed = step(handler, ctx)
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("RemoteJobStatusFailed", ErrorKind.SYSTEM)
    assert failed.error.message.startswith(
        f"{where()}, remote job q-1: status() failed 3 times in a row, more than "
        "max_system_failures=2; last error: StorageError: no blob store for gs://"
    )
    assert len(handler.status_cache) == 0


def test_status_must_not_set_state(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    class KeepsState(QueryPlugin):
        def status(self, ctx: TaskContext, resource: QueryJob) -> Transition:
            return Transition.running(state={"mine": 1})

    handler = make_handler(KeepsState(service))
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)
    failed = step(handler, ctx)
    assert failed.error is not None
    assert failed.error.code == "RemoteJobPluginError"
    assert failed.error.message == (
        f"{where()}, remote job q-1: plugin 'fake-query' returned a Transition with state set from "
        "status(); return a Transition without state (the machinery keeps the plugin state; put "
        "what the job needs in its meta)"
    )
    assert ctx.state["meta"] == {"id": "q-1"}, "the machinery's state survives"


@pytest.mark.parametrize(
    ("meta", "why"),
    [
        (
            {"id": "q-9", "submitted": object()},
            "it is not JSON-able (Object of type object is not JSON serializable)",
        ),
        ("q-9", "expected a mapping, got str"),
    ],
)
def test_meta_that_cannot_be_saved_fails_naming_the_plugin(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage, meta: Any, why: str
) -> None:
    class Careless(QueryPlugin):
        def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
            return meta  # type: ignore[no-any-return]

    failed = step(make_handler(Careless(service)), make_ctx(storage))
    assert failed.error is not None
    assert failed.error.code == "RemoteJobBadMeta"
    assert failed.error.message == (
        f"{where()}: plugin 'fake-query' returned a job meta from create() that cannot be saved: {why}"
    )


def test_meta_is_handed_back_in_its_json_form(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    seen: list[JobMeta] = []

    class TupleMeta(QueryPlugin):
        def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
            return {"id": super().create(ctx, inputs)["id"], "region": ("eu", 1)}

        def get(self, meta: JobMeta) -> QueryJob:
            seen.append(meta)
            return super().get(meta)

    handler = make_handler(TupleMeta(service))
    event = threading.Event()
    step(handler, make_ctx(storage, notify=event.set))
    assert woken(event)
    assert seen[0] == {"id": "q-1", "region": ["eu", 1]}


def test_corrupt_state_fails_permanently(make_handler: MakeHandler, storage: Storage) -> None:
    failed = step(make_handler(), make_ctx(storage, state={"phase": "launched"}))
    assert failed.phase is TaskPhase.PERMANENT_FAILURE
    assert failed.error is not None
    assert (failed.error.code, failed.error.kind) == ("RemoteJobCorruptState", ErrorKind.SYSTEM)
    assert failed.error.message == (f"{where()}: the saved plugin state is corrupt: unknown phase 'launched'")


def test_abort_cancels_the_remote_job(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    ctx = make_ctx(storage)
    step(handler, ctx)
    handler.abort(ctx)
    assert service.job("q-1").state == "CANCELLED"
    handler.abort(ctx)
    assert service.calls["cancel"] == 2, "abort may be repeated"
    assert len(handler.status_cache) == 0


def test_abort_before_create_has_nothing_to_cancel(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"adhoc-cluster": 1})
    handler = make_handler(config=config)
    step(handler, make_ctx(storage, node="n0"))
    waiting = make_ctx(storage, node="n1")
    step(handler, waiting)
    handler.abort(waiting)
    handler.abort(make_ctx(storage, node="n2"))
    assert service.calls["cancel"] == 0


def test_failed_cancel_raises_naming_task_and_job(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    ctx = make_ctx(storage)
    step(handler, ctx)
    service.fail_cancels = 1
    with pytest.raises(RemoteJobError) as raised:
        handler.abort(ctx)
    assert str(raised.value) == (
        f"{where()}: could not cancel remote job q-1: ConnectionError: query service unavailable"
    )
    handler.abort(ctx)
    assert service.job("q-1").state == "CANCELLED"


def test_finalize_releases_quota_and_stops_watching(make_handler: MakeHandler, storage: Storage) -> None:
    handler = make_handler(config=settings(quotas={"adhoc-cluster": 3}))
    ctx = make_ctx(storage)
    step(handler, ctx)
    assert handler.resource_manager.in_use("adhoc-cluster") == 1
    assert len(handler.status_cache) == 1
    handler.finalize(ctx)
    assert handler.resource_manager.in_use("adhoc-cluster") == 0
    assert len(handler.status_cache) == 0
    handler.finalize(ctx)
    assert handler.resource_manager.in_use("adhoc-cluster") == 0


def test_restart_resumes_the_same_remote_job(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"adhoc-cluster": 1})
    before = make_handler(config=config)
    ctx = make_ctx(storage)
    step(before, ctx)
    saved = dict(ctx.state)
    before.close()

    after = make_handler(config=config)
    event = threading.Event()
    resumed = make_ctx(storage, notify=event.set, state=saved)
    waiting = step(after, resumed)
    assert waiting.phase is TaskPhase.QUEUED
    assert waiting.reason == "waiting for the first status of remote job q-1"
    assert after.resource_manager.in_use("adhoc-cluster") == 1, "the running job keeps its unit"

    service.set_state("q-1", "RUNNING")
    assert woken(event)
    assert step(after, resumed).phase is TaskPhase.RUNNING
    assert service.calls["submit"] == 1
    assert service.job_ids() == ["q-1"]
    other = step(after, make_ctx(storage, node="n1"))
    assert other.phase is TaskPhase.WAITING_FOR_RESOURCES


def test_restart_after_allocation_creates_once(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(write_rate_limit={"qps": 1, "burst": 1})
    clock = FakeClock()
    before = make_handler(clock=clock, config=config)
    step(before, make_ctx(storage, node="n0"))
    deferred = make_ctx(storage, node="n1")
    step(before, deferred)
    assert deferred.state["phase"] == JobPhase.ALLOCATED.value
    before.close()

    after = make_handler(clock=clock, config=config)
    resumed = make_ctx(storage, node="n1", state=deferred.state)
    assert step(after, resumed).reason == "created remote job q-2"


def test_handle_twice_before_the_state_was_saved_creates_one_job(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"adhoc-cluster": 2})
    handler = make_handler(config=config)
    ctx = make_ctx(storage)
    first = handler.handle(ctx)
    again = handler.handle(ctx)  # same (empty) state: the engine lost the first answer
    assert first == again
    assert service.calls["submit"] == 2
    assert service.job_ids() == ["q-1"], "the service deduplicated by the attempt's id"
    assert handler.resource_manager.in_use("adhoc-cluster") == 1


def test_handle_twice_with_the_same_created_state_is_idempotent(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    event = threading.Event()
    ctx = make_ctx(storage, notify=event.set)
    step(handler, ctx)
    assert woken(event)
    service.set_state("q-1", "RUNNING")
    assert woken(event)
    first = handler.handle(ctx)
    assert first.phase is TaskPhase.RUNNING
    assert handler.handle(ctx) == first
    assert service.calls["submit"] == 1
    assert len(handler.status_cache) == 1


def test_retry_attempts_get_their_own_remote_jobs(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    handler = make_handler()
    step(handler, make_ctx(storage, attempt=0))
    assert step(handler, make_ctx(storage, attempt=1)).reason == "created remote job q-2"


def test_tasks_without_inputs_get_an_empty_literal_map(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    received: list[literals_pb2.LiteralMap] = []

    class NoInputs(QueryPlugin):
        def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
            received.append(inputs)
            return {"id": "static"}

    ctx = make_ctx(storage)
    ctx.task.interface.inputs.variables.clear()
    ctx.inputs_uri = "mem://runs/nothing-here/inputs.pb"
    assert step(make_handler(NoInputs(service)), ctx).reason == "created remote job static"
    assert received == [literals_pb2.LiteralMap()]


def test_job_label_falls_back_to_the_meta_as_json(service: FakeQueryService) -> None:
    assert QueryPlugin(service).job_label({"project": "p", "job": 7}) == '{"job":7,"project":"p"}'


def test_settings_come_from_the_handlers_section(make_handler: MakeHandler, storage: Storage) -> None:
    handler = make_handler(config=settings(workers=3, endpoint="https://q.example"))
    assert step(handler, make_ctx(storage)).phase is TaskPhase.QUEUED
    assert handler.config.workers == 3
    assert handler.config.max_system_failures == 2


def test_bad_settings_are_reported_with_their_key_path(make_handler: MakeHandler) -> None:
    with pytest.raises(SettingsError) as raised:
        make_handler(config={"resync": 5, "workers": "many"})
    assert raised.value.problems == (
        "engine.handlers.fake-query.workers: input should be a valid integer, unable to parse string as an "
        "integer, got 'many'",
        "engine.handlers.fake-query.resync: unknown key; known: endpoint, max_system_failures, quotas, "
        "read_rate_limit, resync_interval, workers, write_rate_limit",
    )


def test_shared_resource_manager_caps_several_handlers(
    make_handler: MakeHandler, service: FakeQueryService, storage: Storage
) -> None:
    config = settings(quotas={"warehouse": 1})
    shared = MemoryResourceManager()
    one = make_handler(resource_manager=shared, config=config)
    two = make_handler(resource_manager=shared, config=config)
    step(one, make_ctx(storage, node="n0"))
    waiting = step(two, make_ctx(storage, node="n1"))
    assert waiting.reason == "waiting for quota 'warehouse': 1 of 1 units in use, 1 needed"


def test_close_stops_the_workers_and_later_handles_fail(make_handler: MakeHandler, storage: Storage) -> None:
    handler = make_handler()
    step(handler, make_ctx(storage))
    workers = [t for t in threading.enumerate() if t.name.startswith("roost-remote-fake-query-")]
    assert workers
    assert all(t.daemon for t in workers)
    handler.close()
    assert not any(t.is_alive() for t in workers)
    with pytest.raises(RuntimeError) as raised:
        handler.handle(make_ctx(storage))
    assert str(raised.value) == "remote job handler 'fake-query' is closed"


def test_handler_properties_before_first_use(make_handler: MakeHandler) -> None:
    with pytest.raises(RuntimeError) as raised:
        _ = make_handler().status_cache
    assert str(raised.value) == "remote job handler 'fake-query' has not handled a task yet"


def test_handler_needs_a_named_plugin() -> None:
    class Nameless(RemoteJobPlugin[None]):
        def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:
            return {}

        def get(self, meta: JobMeta) -> None:
            return None

        def delete(self, meta: JobMeta) -> None:
            return None

        def status(self, ctx: TaskContext, resource: None) -> Transition:
            return Transition.running()

    from roost_core.remote import RemoteJobHandler

    with pytest.raises(ValueError, match=r"^Nameless has no name: set the class attribute 'name'$"):
        RemoteJobHandler(Nameless())
    with pytest.raises(TypeError, match=r"^RemoteJobHandler needs a RemoteJobPlugin, got str$"):
        RemoteJobHandler("trino")  # type: ignore[arg-type]
