"""Local map tasks: indices run inline in the engine's thread, keeping the map contract (per-index retries,
min_success_ratio, outputs in order, a cache entry per index) and falling back to parallel attempts."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from roost import Cache, current_context, map_task, task, workflow
from roost.context import TaskRunContext
from roost.errors import ExecutionFailedError, RecoverableError
from roost.local.runner import local_options
from roost_core.handler import TaskHandler

pytestmark = pytest.mark.usefixtures("no_progress")

seen: list[tuple[int, str, int, str]] = []


@task
def square(x: int) -> int:
    ctx = current_context()
    seen.append((x, ctx.node_id, ctx.attempt, threading.current_thread().name))
    return x * x


def test_a_map_over_many_items_runs_inline_with_outputs_in_order():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(square)(x=xs)

    seen.clear()
    assert wf(xs=list(range(300))) == [x * x for x in range(300)]
    assert [x for x, *_ in seen] == list(range(300))
    assert {thread for *_, thread in seen} == {threading.current_thread().name}
    assert seen[7][1:3] == ("n0-0-n7", 0)


def test_each_index_is_a_run_of_its_own_in_worker_processes():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(square)(x=xs)

    seen.clear()
    with local_options(processes=True):
        assert wf(xs=[1, 2, 3]) == [1, 4, 9]
    assert seen == []  # each ran in a worker process


tries: dict[int, int] = {}


@task(retries=1)
def recovers(x: int) -> int:
    tries[x] = tries.get(x, 0) + 1
    if x % 2 and tries[x] == 1:
        raise RecoverableError(f"{x} is odd")
    return current_context().attempt


def test_a_failed_index_is_retried_on_its_own():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(recovers)(x=xs)

    tries.clear()
    assert wf(xs=[1, 2, 3, 4]) == [1, 0, 1, 0]
    assert tries == {1: 2, 2: 1, 3: 2, 4: 1}


@task
def refuse_odd(x: int) -> int:
    if x % 2:
        raise ValueError(f"{x} is odd")
    return x


def test_min_success_ratio_fills_failed_indices_with_none():
    @workflow
    def lenient(xs: list[int]) -> list[int | None]:
        return map_task(refuse_odd, min_success_ratio=0.5)(x=xs)

    @workflow
    def strict(xs: list[int]) -> list[int | None]:
        return map_task(refuse_odd, min_success_ratio=0.9)(x=xs)

    assert lenient(xs=[2, 3, 4]) == [2, None, 4]
    with pytest.raises(
        ExecutionFailedError, match=r"index 1: task '.*refuse_odd' raised ValueError: 3 is odd"
    ):
        strict(xs=[2, 3, 4])


cached_runs: list[int] = []


@task(cache=Cache(version="1"))
def cached_double(x: int) -> int:
    cached_runs.append(x)
    return 2 * x


def test_each_index_has_its_own_cache_entry():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(cached_double)(x=xs)

    cached_runs.clear()
    assert wf(xs=[1, 2]) == [2, 4]
    assert wf(xs=[2, 3]) == [4, 6]
    assert sorted(cached_runs) == [1, 2, 3]


threads: list[str] = []


@task
def slow(x: int) -> int:
    time.sleep(TaskHandler.inline_slow * 2)
    threads.append(threading.current_thread().name)
    return x


def test_slow_indices_go_back_to_running_in_parallel_worker_threads():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(slow)(x=xs)

    threads.clear()
    assert wf(xs=list(range(6))) == list(range(6))
    # The first batch (not timed: it pays what is done once) and the second run inline; the second shows them slow.
    assert threads[:2] == [threading.current_thread().name] * 2
    assert all(name.startswith("roost-task") for name in threads[2:])


def test_an_index_whose_task_returns_no_outputs_fails_naming_the_task(monkeypatch):
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(square)(x=xs)

    monkeypatch.setattr(square, "dispatch", lambda ctx, inputs: None)
    with pytest.raises(ExecutionFailedError, match=r"task '[\w.]*square' returned no outputs"):
        wf(xs=[1, 2])


def test_map_concurrency_keeps_outputs_in_order():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(square, concurrency=2)(x=xs)

    seen.clear()
    assert wf(xs=list(range(50))) == [x * x for x in range(50)]
    assert [x for x, *_ in seen] == list(range(50))


@task
def offset(x: int, by: int = 10) -> int:
    return x + by


def test_bound_inputs_reach_every_index():
    @workflow
    def bound(xs: list[int]) -> list[int]:
        return map_task(functools.partial(offset, by=100))(x=xs)

    assert bound(xs=[1, 2, 3]) == [101, 102, 103]


@task
def wrong_type(x: int) -> int:
    return "seven" if x == 7 else x  # type: ignore[return-value]


def test_an_index_returning_the_wrong_type_fails_naming_the_index_and_the_output():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(wrong_type)(x=xs)

    with pytest.raises(ExecutionFailedError) as failed:
        wf(xs=list(range(10)))
    assert str(failed.value).endswith(
        "first error: node 'n0' index 7: task 'wrong_type' output 'o0': expected int but got str ('seven')"
    )


closed: list[str] = []
contexts: list[TaskRunContext] = []


@task
def with_cleanup(x: int) -> int:
    ctx = current_context()
    contexts.append(ctx)
    ctx.cleanup.callback(lambda: closed.append(f"{ctx.node_id} closed"))
    closed.append(f"{ctx.node_id} ran with checkpoints at {ctx.checkpoint_prefix.rsplit('/', 3)[-3:]}")
    return x


def test_each_inline_index_has_a_context_of_its_own_whose_cleanups_close_after_it():
    @workflow
    def wf(xs: list[int]) -> list[int]:
        return map_task(with_cleanup)(x=xs)

    closed.clear()
    contexts.clear()
    assert wf(xs=[5, 6]) == [5, 6]
    assert closed == [
        "n0-0-n0 ran with checkpoints at ['0', '0', '_checkpoints']",
        "n0-0-n0 closed",
        "n0-0-n1 ran with checkpoints at ['1', '0', '_checkpoints']",
        "n0-0-n1 closed",
    ]
    first, second = contexts
    assert first is not second and first.secrets is not second.secrets
    assert first.plugin_attributes is not second.plugin_attributes
