"""@eager workflows locally: async Python over tasks whose awaited calls run as executions on the engine."""

from __future__ import annotations

import asyncio
import threading

import pytest

from roost import RecoverableError, eager, task, workflow
from roost.eager_workflows import EagerChildError, EagerTask
from roost.errors import ExecutionFailedError, WorkflowDefinitionError
from roost.local.runner import run_local
from roost.serialize import SerializationSettings, Serializer

ran: list[str] = []
lock = threading.Lock()


@task
def square(x: int) -> int:
    with lock:
        ran.append(f"square {x}")
    return x * x


@task(retries=2)
def shaky(key: str) -> int:
    with lock:
        ran.append(key)
        count = ran.count(key)
    if count < 2:
        raise RecoverableError(f"{key} try {count}")
    return count


@task
def refuse(x: int) -> int:
    raise ValueError(f"no {x}")


@workflow
def sub(x: int) -> int:
    return square(x=square(x=x))


@eager
async def fan(n: int) -> int:
    values = await asyncio.gather(*(square(x=i) for i in range(n)))
    if sum(values) > 10:  # plain Python on real values
        return await square(x=sum(values))
    return sum(values)


@pytest.fixture(autouse=True)
def forget():
    ran.clear()


def test_an_eager_workflow_runs_its_awaited_tasks_as_executions():
    result = run_local(fan, {"n": 4}, options=local_options_value())
    assert result.outputs == 196
    assert sorted(ran) == ["square 0", "square 1", "square 14", "square 2", "square 3"]


def local_options_value():
    from roost.local.runner import LocalOptions

    return LocalOptions(progress=False)


def test_children_get_the_engines_retries_and_sub_workflows_run():
    @eager
    async def mixed(x: int) -> int:
        first = await shaky(key="k")
        return first + await sub(x=x)

    assert mixed(x=2) == 2 + 16
    assert ran.count("k") == 2


def test_a_childs_failure_raises_in_the_body_and_can_be_handled():
    @eager
    async def careful(x: int) -> str:
        try:
            await refuse(x=x)
        except EagerChildError as exc:
            return str(exc)
        return "unreachable"

    message = careful(x=3)
    assert message.startswith("task 'refuse' (execution e")
    assert "failed: node 'n0': task 'refuse' raised ValueError: no 3" in message


def test_an_uncaught_child_failure_fails_the_eager_workflow():
    @eager
    async def careless(x: int) -> int:
        return await refuse(x=x)

    with pytest.raises(ExecutionFailedError, match=r"raised EagerChildError: task 'refuse' \(execution e"):
        careless(x=1)


def test_it_nests_in_workflows_and_in_other_eager_workflows():
    @eager
    async def outer(n: int) -> int:
        return await fan(n=n) + 1

    @workflow
    def wf(n: int) -> int:
        return square(x=outer(n=n))

    assert wf(n=2) == (1 + 1) ** 2


def test_children_names_come_from_the_parent_so_a_retried_parent_finds_them():
    attempts: list[int] = []

    @eager(retries=1)
    async def flaky_parent(x: int) -> int:
        value = await square(x=x)
        from roost import current_context

        attempts.append(current_context().attempt)
        if len(attempts) == 1:
            raise RecoverableError("parent fails after its child succeeded")
        return value

    assert flaky_parent(x=5) == 25
    assert attempts == [0, 1]
    assert ran == ["square 5"]  # the second attempt found the child instead of running it again


def test_aborting_the_parent_aborts_its_children(monkeypatch):
    from roost.local.eager_children import LocalChildren

    started = threading.Event()
    aborted: list[str] = []
    real_abort = LocalChildren.abort

    def recording_abort(self, name, cause):
        aborted.append(cause)
        real_abort(self, name, cause)

    monkeypatch.setattr(LocalChildren, "abort", recording_abort)

    @task
    def forever(x: int) -> int:
        started.set()
        threading.Event().wait(0.5)
        return x

    @task
    def fail_soon(x: int) -> int:
        started.wait(5)
        raise ValueError("stop")

    @eager
    async def long(x: int) -> int:
        return await forever(x=x)

    @workflow
    def wf(x: int) -> int:
        fail_soon(x=x)
        return long(x=x)

    with pytest.raises(ExecutionFailedError, match="stop"):
        wf(x=1)
    assert aborted == ["the eager parent was aborted"]


def test_the_template_is_an_eager_python_task_with_its_settings():
    settings = SerializationSettings(project="p", version="v7")
    template = Serializer(settings).task(fan)
    assert isinstance(fan, EagerTask)
    assert template.type == "python-task" and template.metadata.is_eager
    env = {kv.key: kv.value for kv in template.container.env}
    assert SerializationSettings.from_json(env["ROOST_SERIALIZATION"]) == settings


def test_an_eager_function_must_be_async():
    with pytest.raises(
        WorkflowDefinitionError, match=r"@eager function 'plain' must be declared 'async def'"
    ):

        @eager
        def plain(x: int) -> int:
            return x


def test_worker_processes_refuse_eager_workflows_clearly():
    from roost.local.runner import LocalOptions

    with pytest.raises(
        ExecutionFailedError, match=r"local runs with worker processes \(--processes\) cannot run"
    ):
        run_local(fan, {"n": 1}, options=LocalOptions(progress=False, processes=True))
