"""A task class's life around the user's function: pre_execute before the inputs are converted, post_execute
before the outputs are, cleanups whatever happens; the same when called, in a local run and in roost-execute;
failures there are the plugin's (SYSTEM) and name the class. And the typed attributes it adds to the context."""

from __future__ import annotations

import pytest
from plugin_flows import lifecycle
from plugin_flows.lifecycle import MARK, Mark, Probe, events

from roost import current_context, task
from roost.context import ContextAttribute, TaskRunContext
from roost.errors import ExecutionFailedError, TaskExecutionError
from roost.testing import ContainerTaskError, run_in_container, run_locally
from roost.types import TypeContext
from roost_core.storage import MemoryStore, Storage

STEPS = [
    "encode 1",  # the caller's input
    "pre_execute attempt 0",
    "decode 1 (mark m1)",  # inputs are converted after pre_execute, with its context current
    "function 1 (mark m1, typed m1)",
    "post_execute Probe(value=2)",
    "encode 20",  # the outputs post_execute returned, converted before the cleanups
    "cleanup",
    "decode 20 (mark -)",  # the caller reads the outputs
]


@pytest.fixture(autouse=True)
def log(tmp_path, monkeypatch):
    monkeypatch.setenv(lifecycle.LOG_ENV, str(tmp_path / "lifecycle.log"))
    lifecycle.register_probes()


@pytest.mark.parametrize("where", ["call", "local run", "container"])
def test_the_steps_run_in_order_everywhere(where):
    run = {
        "call": lambda: lifecycle.step(p=Probe(1)),
        "local run": lambda: run_locally(lifecycle.step, {"p": Probe(1)}),
        "container": lambda: run_in_container(lifecycle.step, {"p": Probe(1)}),
    }[where]
    assert run() == Probe(20)
    assert events() == STEPS


def test_a_failing_pre_execute_is_a_system_error_naming_the_class():
    message = (
        r"^task 'failing_pre': RecordedTask\.pre_execute failed: RuntimeError: the session did not start\n"
    )
    with pytest.raises(TaskExecutionError, match=message):
        lifecycle.failing_pre(p=Probe(1))
    assert events() == ["encode 1", "pre_execute attempt 0"]
    with pytest.raises(
        ContainerTaskError, match=r"\(SYSTEM, SYSTEM:PreExecuteFailed\): task 'failing_pre'"
    ) as failed:
        run_in_container(lifecycle.failing_pre, {"p": Probe(1)})
    assert failed.value.retryable and not failed.value.user_error
    assert 'raise RuntimeError("the session did not start")' in failed.value.message  # the plugin's traceback


def test_system_failures_spend_the_system_retries_not_the_users():
    with pytest.raises(ExecutionFailedError) as failed:
        run_locally(lifecycle.failing_pre, {"p": Probe(1)})  # the task has no retries of its own
    assert failed.value.error.code == "RetriesExhausted|SYSTEM:PreExecuteFailed"
    assert failed.value.error.kind.name == "SYSTEM"
    assert [e for e in events() if e.startswith("pre_execute")] == [
        f"pre_execute attempt {i}" for i in range(4)
    ]


def test_a_recoverable_error_in_pre_execute_keeps_its_meaning():
    assert run_locally(lifecycle.flaky, {"p": Probe(1)}) == Probe(20)
    assert [e for e in events() if e.startswith("pre_execute")] == [
        "pre_execute attempt 0",
        "pre_execute attempt 1",
    ]


def test_post_execute_and_cleanup_failures():
    with pytest.raises(
        TaskExecutionError, match=r"^task 'failing_post': RecordedTask\.post_execute failed: KeyError"
    ):
        lifecycle.failing_post(p=Probe(1))
    assert events()[-2:] == ["post_execute Probe(value=2)", "cleanup"]
    with pytest.raises(
        ContainerTaskError,
        match=r"\(SYSTEM, SYSTEM:CleanupFailed\): task 'failing_cleanup': a cleanup of the attempt failed: OSError: "
        r"the session did not stop",
    ):
        run_in_container(lifecycle.failing_cleanup, {"p": Probe(1)})


def test_when_the_function_failed_a_failing_cleanup_does_not_hide_the_users_error(caplog):
    with pytest.raises(TaskExecutionError, match=r"^task 'failing_twice' raised ValueError: cannot take 1"):
        lifecycle.failing_twice(p=Probe(1))
    assert events()[-2:] == ["function raises", "cleanup"]
    assert (
        "task 'failing_twice': a cleanup of the attempt failed: OSError: the session did not stop"
        in caplog.text
    )


def test_pre_execute_must_return_a_context():
    with pytest.raises(
        TaskExecutionError,
        match=r"^task 'confused': _Confused\.pre_execute returned a str, not the TaskRunContext to run with$",
    ):
        lifecycle.confused(p=Probe(1))


def test_context_attributes_are_typed_and_checked(tmp_path):
    ctx = TaskRunContext(TypeContext(Storage({"mem": MemoryStore()}), "mem://b/raw"), task_name="m.t")
    ctx.set(MARK, Mark("x"))
    assert ctx.get(MARK) == Mark("x") and ctx.mark == Mark("x")
    with pytest.raises(
        TypeError, match=r"^context attribute 'mark' holds a plugin_flows\.lifecycle\.Mark, not 'x' \(str\)$"
    ):
        ctx.set(MARK, "x")  # type: ignore[arg-type]
    named: ContextAttribute[Mark] = ContextAttribute("named", "plugin_flows.lifecycle.Mark")
    ctx.set(named, Mark("y"))
    with pytest.raises(
        TypeError, match=r"^context attribute 'named' holds a plugin_flows\.lifecycle\.Mark, not 3 \(int\)$"
    ):
        ctx.set(named, 3)  # type: ignore[arg-type]
    for name, error in [
        ("task_name", r"^context attribute name 'task_name' is taken by current_context\(\) itself$"),
        ("get", r"^context attribute name 'get' is taken by current_context\(\) itself$"),
        ("class", r"^context attribute name 'class' must be a public Python identifier$"),
        ("_hidden", r"^context attribute name '_hidden' must be a public Python identifier$"),
    ]:
        with pytest.raises(ValueError, match=error):
            ContextAttribute(name, Mark)
    with pytest.raises(RuntimeError, match=r"^current_context\(\) is only available while a task runs$"):
        MARK.get()


@task
def reads_an_unset_mark() -> str:
    """Reads a plugin attribute no task class set."""
    assert not hasattr(current_context(), "mark")
    return MARK.get().name


def test_an_unset_attribute_is_an_attribute_error():
    with pytest.raises(
        TaskExecutionError,
        match=r"raised MissingContextAttributeError: current_context\(\) has no attribute 'mark' in task "
        r"'reads_an_unset_mark'; attributes that installed plugins provide: ",
    ):
        reads_an_unset_mark()


def test_a_context_for_another_index_is_what_init_makes_with_a_cleanup_stack_made_on_first_use():
    import dataclasses

    types = TypeContext(Storage({"mem": MemoryStore()}), "mem://b/raw")
    shared = TaskRunContext(
        types, project="p", domain="d", execution_name="e", task_name="m.t", task_version="v"
    )
    made = shared.for_index("n0-0-n3", "mem://b/n0/3/0")
    expected = TaskRunContext(
        types,
        project="p",
        domain="d",
        execution_name="e",
        task_name="m.t",
        task_version="v",
        node_id="n0-0-n3",
        output_prefix="mem://b/n0/3/0",
        checkpoint_prefix="mem://b/n0/3/0/_checkpoints",
    )
    fresh = {"decks", "secrets", "cleanup", "plugin_attributes"}
    for field in dataclasses.fields(TaskRunContext):
        if field.name not in fresh:
            assert getattr(made, field.name) == getattr(expected, field.name), field.name
    assert (made.decks, made.plugin_attributes) == ([], {})
    assert made.secrets is not shared.secrets and made.decks is not shared.decks
    made.close_cleanup()
    assert "cleanup" not in vars(made)  # nothing was registered: no stack was made
    closed: list[str] = []
    made.cleanup.callback(closed.append, "first")
    made.cleanup.callback(closed.append, "second")
    assert made.cleanup is not shared.cleanup
    made.close_cleanup()
    assert closed == ["second", "first"]
