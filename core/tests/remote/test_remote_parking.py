"""An execution whose only work in flight is a created remote job may be parked between polls: the engine's
round says so, with the next poll as its timer, and a restarted engine goes on watching the same job."""

from __future__ import annotations

from typing import Any

from fake_query_service import FakeQueryService, QueryPlugin, QuerySettings, integer, make_ctx, settings, step
from flyteidl.core import literals_pb2

from roost_core.engine import EngineConfig, WorkflowPhase
from roost_core.extend import hookimpl
from roost_core.handler import TaskPhase
from roost_core.remote import RemoteJobHandler
from roost_core.storage import Storage
from roost_core.testing.harness import FakeClock, OneTaskEngine

RESYNC = 0.05
WAIT = 5.0


class QueryHooks:
    """Registers the fake query plugin's handler for one service."""

    def __init__(self, service: FakeQueryService) -> None:
        self.service = service

    @hookimpl
    def roost_task_handlers(self, register: Any) -> None:
        def build(config: QuerySettings) -> RemoteJobHandler[Any]:
            return RemoteJobHandler(QueryPlugin(self.service), config)

        register("fake-query", build, task_types=["fake-query"], default=True, settings=QuerySettings)


def test_created_job_transitions_are_parkable_with_the_next_poll(storage: Storage, make_handler: Any) -> None:
    service = FakeQueryService()
    handler = make_handler(QueryPlugin(service), config=settings(quotas={"adhoc": 1}))
    first, second = make_ctx(storage), make_ctx(storage, node="n1")
    created = step(handler, first)
    assert (created.phase, created.parkable, created.wake_after) == (TaskPhase.QUEUED, True, 0.005)
    # Waiting for quota, nothing was created yet: not parkable (the quota lives in this process).
    refused = step(handler, second)
    assert (refused.phase, refused.parkable) == (TaskPhase.WAITING_FOR_RESOURCES, False)


def test_an_execution_waiting_on_a_remote_job_is_parkable_and_restart_safe(storage: Storage) -> None:
    service = FakeQueryService()
    clock = FakeClock()
    kit = OneTaskEngine(
        make_ctx(storage).task,
        storage,
        data_prefix="mem://data",
        plugins=[QueryHooks(service)],
        config=EngineConfig(handlers={"fake-query": settings(resync_interval=RESYNC)}),
        clock=clock,
    )
    try:
        run = kit.start(_inputs())
        created = kit.round()
        assert (created.parkable, created.timer) == (True, clock.now + RESYNC)
        assert service.calls["submit"] == 1

        # Parked, then picked up by another engine (a restart): it watches the same job.
        run = kit.restart()
        waiting = kit.round()
        assert (waiting.parkable, waiting.timer) == (True, clock.now + RESYNC)
        assert run.wait(WAIT), "the first status should wake the execution"
        service.set_state("q-1", "SUCCEEDED", rows=7)
        for _ in range(100):
            result = kit.round()
            if result.phase.is_terminal:
                break
            assert result.parkable
            run.wait(WAIT)
        assert (result.phase, result.parkable) == (WorkflowPhase.SUCCEEDED, False)
        assert kit.outputs().literals["rows"] == integer(7)
        assert service.calls["submit"] == 1
    finally:
        kit.close()


def _inputs() -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"limit": integer(3)})
