"""Failures as flytekit users know them: failure handlers told the error (FlyteError), on workflows and
sub-workflows, and retries spent only on recoverable errors."""

from __future__ import annotations

from typing import Optional

import pytest

from roost import FlyteError, RecoverableError, task, workflow
from roost.errors import ExecutionFailedError, WorkflowDefinitionError

seen: list[tuple[str, FlyteError | None]] = []


@task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@task
def clean_up(x: int, err: Optional[FlyteError] = None) -> None:  # noqa: UP045 - flytekit's spelling
    seen.append((f"clean_up {x}", err))


@task
def plain_clean_up(x: int) -> None:
    seen.append((f"plain_clean_up {x}", None))


@pytest.fixture(autouse=True)
def forget():
    seen.clear()


def test_the_failure_handler_receives_the_failed_node_and_message():
    @workflow(on_failure=clean_up)
    def wf(x: int) -> int:
        return boom(x=x)

    with pytest.raises(ExecutionFailedError, match="boom 4"):
        wf(x=4)
    ((what, err),) = seen
    assert what == "clean_up 4"
    assert err is not None and err.failed_node_id == "n0"
    assert err.message.startswith("node 'n0': task 'boom' raised ValueError: boom 4")


def test_a_handler_without_err_runs_too():
    @workflow(on_failure=plain_clean_up)
    def wf(x: int) -> int:
        return boom(x=x)

    with pytest.raises(ExecutionFailedError):
        wf(x=2)
    assert seen == [("plain_clean_up 2", None)]


def test_the_handler_does_not_run_when_the_workflow_succeeds():
    @task
    def fine(x: int) -> int:
        return x

    @workflow(on_failure=clean_up)
    def wf(x: int) -> int:
        return fine(x=x)

    assert wf(x=1) == 1
    assert seen == []


def test_a_sub_workflows_handler_runs_when_the_sub_workflow_fails():
    @workflow(on_failure=clean_up)
    def inner(x: int) -> int:
        return boom(x=x)

    @workflow(on_failure=plain_clean_up)
    def outer(x: int) -> int:
        return inner(x=x)

    with pytest.raises(ExecutionFailedError, match="boom 7"):
        outer(x=7)
    assert [what for what, _ in seen] == ["clean_up 7", "plain_clean_up 7"]
    err = seen[0][1]
    assert err is not None and err.failed_node_id == "n0-0-n0"


def test_a_handler_that_needs_more_than_the_workflow_gives_is_refused_naming_both():
    @task
    def needs_y(x: int, y: int) -> None: ...

    @workflow(on_failure=needs_y)
    def wf(x: int) -> int:
        return boom(x=x)

    with pytest.raises(WorkflowDefinitionError) as refused:
        wf(x=1)
    assert str(refused.value) == (
        "workflow 'wf': on_failure handler task 'needs_y' takes the workflow's inputs of the same name, and "
        "optional 'err: Optional[FlyteError]'; workflow 'wf': task 'needs_y' input 'y' is missing"
    )


attempts: dict[str, int] = {}


@task(retries=3)
def recovers(key: str) -> int:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise RecoverableError(f"not yet ({attempts[key]})")
    return attempts[key]


@task(retries=3)
def gives_up(key: str) -> int:
    attempts[key] = attempts.get(key, 0) + 1
    raise KeyError(key)


def test_a_recoverable_error_is_retried():
    @workflow
    def wf() -> int:
        return recovers(key="r")

    assert wf() == 3


def test_any_other_exception_fails_at_once_despite_retries():
    @workflow
    def wf() -> int:
        return gives_up(key="g")

    with pytest.raises(ExecutionFailedError, match="raised KeyError"):
        wf()
    assert attempts["g"] == 1


def test_flytekits_name_is_the_same_class():
    from roost import FlyteRecoverableException

    assert FlyteRecoverableException is RecoverableError
