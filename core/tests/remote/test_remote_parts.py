"""The machinery's parts on their own: token bucket, resource manager, attempt ids, plugin state."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flyteidl.core import identifier_pb2

from roost_core.errors import ConfigurationError
from roost_core.remote import (
    CorruptStateError,
    JobPhase,
    MemoryResourceManager,
    RateLimit,
    Refusal,
    RemoteJobState,
    TokenBucket,
    attempt_job_id,
)
from roost_core.testing.harness import FakeClock


def test_token_bucket_allows_a_burst_then_refills_at_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(qps=4, burst=2), clock=clock)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]
    assert bucket.wait_time() == 0.25
    clock.advance(0.25)
    assert bucket.wait_time() == 0.0
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.advance(100)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False], "never above burst"


def test_resource_manager_grants_within_limits_and_releases_by_token() -> None:
    manager = MemoryResourceManager({"adhoc": 2})
    assert manager.allocate("a", {"adhoc": 1}) is None
    assert manager.allocate("b", {"adhoc": 1}) is None
    assert manager.allocate("c", {"adhoc": 1}) == Refusal("adhoc", 1, 2, 2)
    manager.release("a")
    manager.release("a")
    assert manager.in_use("adhoc") == 1
    assert manager.allocate("c", {"adhoc": 1}) is None


def test_allocation_is_idempotent_per_token() -> None:
    manager = MemoryResourceManager({"adhoc": 1})
    assert manager.allocate("a", {"adhoc": 1}) is None
    assert manager.allocate("a", {"adhoc": 1}) is None
    assert manager.in_use("adhoc") == 1


def test_allocation_is_all_or_nothing_across_quotas() -> None:
    manager = MemoryResourceManager({"adhoc": 5, "slots": 1})
    manager.allocate("a", {"slots": 1})
    refusal = manager.allocate("b", {"adhoc": 1, "slots": 1})
    assert refusal == Refusal("slots", 1, 1, 1)
    assert refusal.describe() == "waiting for quota 'slots': 1 of 1 units in use, 1 needed"
    assert manager.in_use("adhoc") == 0


def test_restore_records_running_jobs_past_the_limit() -> None:
    manager = MemoryResourceManager({"adhoc": 1})
    manager.restore("a", {"adhoc": 1, "retired-quota": 1})
    manager.restore("b", {"adhoc": 1})
    manager.restore("b", {"adhoc": 1})
    assert manager.in_use("adhoc") == 2
    assert manager.in_use("retired-quota") == 0
    manager.release("a")
    manager.release("b")
    assert manager.allocate("c", {"adhoc": 1}) is None


def test_declaring_a_quota_twice_with_another_limit_is_an_error() -> None:
    manager = MemoryResourceManager({"adhoc": 2})
    manager.set_limit("adhoc", 2)
    with pytest.raises(ConfigurationError) as raised:
        manager.set_limit("adhoc", 3)
    assert str(raised.value) == "quota 'adhoc' is declared twice, with limits 2 and 3"
    with pytest.raises(ConfigurationError) as raised:
        manager.set_limit("etl", 0)
    assert str(raised.value) == "quota 'etl' needs a limit of at least 1, got 0"


def attempt(
    name: str = "f3a8c1e2b", node: str = "n0", retry: int = 0, project: str = "flytesnacks"
) -> identifier_pb2.TaskExecutionIdentifier:
    execution = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain="development", name=name)
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=project,
            domain="development",
            name="queries.count",
            version="v1",
        ),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=execution),
        retry_attempt=retry,
    )


def test_attempt_job_id_is_stable_readable_and_distinct() -> None:
    job_id = attempt_job_id(attempt())
    assert job_id == attempt_job_id(attempt())
    assert re.fullmatch(r"f3a8c1e2b-n0-0-[0-9a-f]{12}", job_id)
    others = {
        attempt_job_id(attempt(retry=1)),
        attempt_job_id(attempt(node="n1")),
        attempt_job_id(attempt(project="other")),
        job_id,
    }
    assert len(others) == 4


def test_attempt_job_id_sanitizes_and_trims() -> None:
    long_node = "n0-dn5_Map.Task" + "x" * 100
    job_id = attempt_job_id(attempt(node=long_node), max_length=40)
    assert len(job_id) <= 40
    assert re.fullmatch(r"[a-z0-9-]+", job_id)
    assert job_id.startswith("f3a8c1e2b-n0-dn5-map-task")
    # Names that look the same once sanitized still differ.
    assert attempt_job_id(attempt(node="a_b")) != attempt_job_id(attempt(node="a.b"))


def test_attempt_job_id_needs_room_for_its_hash() -> None:
    with pytest.raises(ValueError, match=r"^max_length must be at least 20, got 10$"):
        attempt_job_id(attempt(), max_length=10)


def test_state_round_trips_through_its_mapping() -> None:
    state = RemoteJobState(JobPhase.CREATED, {"id": "q-1"}, {"adhoc": 1}, 2)
    assert RemoteJobState.from_mapping(state.to_mapping()) == state
    assert RemoteJobState.from_mapping({}) == RemoteJobState()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"phase": "running"}, "unknown phase 'running'"),
        ({"phase": "created"}, "phase 'created' without the remote job's meta"),
        ({"phase": "created", "meta": "q-1"}, "meta must be a mapping, got 'q-1'"),
        (
            {"phase": "allocated", "quota": {"adhoc": "1"}},
            "quota must map quota names to whole numbers, got {'adhoc': '1'}",
        ),
        ({"phase": "allocated", "system_failures": -1}, "system_failures must be a whole number, got -1"),
    ],
)
def test_corrupt_state_is_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(CorruptStateError) as raised:
        RemoteJobState.from_mapping(data)
    assert str(raised.value) == message
