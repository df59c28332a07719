"""Array nodes (map tasks) and dynamic nodes."""

from __future__ import annotations

from conftest import EngineKit
from flyte import (
    INT,
    compile_,
    integer,
    ints,
    list_of,
    literal_map,
    ref,
    task,
    task_node,
    value,
    wf_input,
    workflow,
)
from flyteidl.core import catalog_pb2, compiler_pb2, execution_pb2, literals_pb2, tasks_pb2, workflow_pb2
from google.protobuf import wrappers_pb2

from roost_core.engine import ExecutionOptions, NodePhase, ObjectStateStore, WorkflowPhase
from roost_core.engine.nodes import array
from roost_core.engine.reporting import IndexRange, external_resources
from roost_core.handler import TaskPhase

ECHO = task("echo_t", "echo", {"x": INT})


def map_node(node_id, t, inputs, **array):
    """An array node over ``t``; a task with element types needs ``is_original_sub_node_interface``."""
    array.setdefault("is_original_sub_node_interface", wrappers_pb2.BoolValue(value=True))
    sub = task_node(node_id, t)
    return workflow_pb2.Node(
        id=node_id,
        inputs=[literals_pb2.Binding(var=k, binding=v) for k, v in inputs.items()],
        array_node=workflow_pb2.ArrayNode(node=sub, **array),
    )


def map_workflow(t, **array):
    return compile_(
        workflow(
            "mapper",
            [map_node("m", t, {"x": wf_input("xs")}, **array)],
            {"xs": list_of(INT)},
            {"ys": list_of(INT)},
            {"ys": ref("m", "x")},
        ),
        [t],
    )


def test_a_map_over_a_thousand_items_gathers_outputs_in_order(kit):
    run = kit.run(map_workflow(ECHO), literal_map(xs=ints(range(1000))))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(1000))
    task_events = [e for e in kit.events("task") if e.parent_node_execution_id.node_id == "m"]
    assert task_events[-1].phase == execution_pb2.TaskExecution.SUCCEEDED
    indices = {r.index for e in task_events for r in e.metadata.external_resources}
    assert indices == set(range(1000))
    assert [e.is_array for e in kit.events("node") if e.id.node_id == "m"] == [True, True, True]


def test_parallelism_bounds_the_indices_running_at_once(kit):
    gated = task("g", "gate", {"x": INT})
    run = kit.start(map_workflow(gated, parallelism=3), literal_map(xs=ints(range(10))))
    for _ in range(4):
        kit.engine.evaluate(run)
    assert kit.handlers.gate.most_at_once == 3
    kit.handlers.gate.open.set()
    kit.engine.run(run, timeout=10)
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert kit.handlers.gate.most_at_once == 3


def test_min_success_ratio_lets_some_indices_fail_and_fills_in_none(kit):
    flaky = task("flaky_t", "flaky", {"x": INT}, custom={"user": 1})
    closure = compile_(
        workflow(
            "mapper",
            [map_node("m", flaky, {"x": wf_input("xs")}, min_success_ratio=0.5)],
            {"xs": list_of(INT)},
            {"ys": list_of(INT)},
            {"ys": ref("m", "x")},
        ),
        [flaky],
    )
    run = kit.run(closure, literal_map(xs=ints([1, 2])))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.error.message == (
        "node 'm': 2 of 2 mapped task(s) failed, at most 1 may; first error: node 'm' index 0: user failure 0"
    )


def test_indices_retry_on_their_own(kit):
    flaky = task("flaky_t", "flaky", {"x": INT}, custom={"user": 1}, retries=1)
    run = kit.run(map_workflow(flaky), literal_map(xs=ints([5, 6, 7])))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert [s.attempt for s in run.state.nodes["m"].subnodes] == [1, 1, 1]
    assert value(kit.engine.outputs(run).literals["ys"]) == [5, 6, 7]


def test_mapped_inputs_of_different_lengths_are_refused(kit):
    pair = task("pair", "echo", {"x": INT, "y": INT})
    closure = compile_(
        workflow(
            "mapper",
            [map_node("m", pair, {"x": wf_input("xs"), "y": wf_input("ys")})],
            {"xs": list_of(INT), "ys": list_of(INT)},
        ),
        [pair],
    )
    run = kit.run(closure, literal_map(xs=ints([1, 2]), ys=ints([1, 2, 3])))
    assert run.state.error.message == (
        "node 'm': the mapped inputs have different lengths: 'x' has 2, 'y' has 3"
    )


def test_flytekit_map_tasks_declare_list_types_and_output_one_element_per_index(kit):
    listed = task("listed", "echo", {"x": list_of(INT)})
    for flag in (wrappers_pb2.BoolValue(value=False), None):
        run = kit.run(map_workflow(listed, is_original_sub_node_interface=flag), literal_map(xs=ints([3, 4])))
        assert run.state.phase is WorkflowPhase.SUCCEEDED
        assert value(kit.engine.outputs(run).literals["ys"]) == [3, 4]


def test_a_dynamic_node_runs_the_workflow_its_task_generated(kit):
    maker = task("maker", "make-dynamic", {"x": INT}, custom={"length": 3})
    closure = compile_(
        workflow(
            "dyn",
            [task_node("n0", maker, {"x": wf_input("x")}), task_node("n1", ECHO, {"x": ref("n0", "x")})],
            {"x": INT},
            {"y": INT},
            {"y": ref("n1", "x")},
        ),
        [maker, ECHO],
    )
    run = kit.run(closure, literal_map(x=integer(11)))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["y"]) == 11
    generated = [uid for uid in run.state.nodes if uid.startswith("n0-")]
    assert generated == ["n0-0-start-node", "n0-0-dn0", "n0-0-dn1", "n0-0-dn2", "n0-0-end-node"]
    phases = [e.phase for e in kit.events("node") if e.id.node_id == "n0"]
    assert phases == [
        execution_pb2.NodeExecution.QUEUED,
        execution_pb2.NodeExecution.RUNNING,
        execution_pb2.NodeExecution.DYNAMIC_RUNNING,
        execution_pb2.NodeExecution.SUCCEEDED,
    ]
    assert run.state.nodes["n0"].phase is NodePhase.SUCCEEDED
    child = next(e for e in kit.events("node") if e.id.node_id == "n0-0-dn1")
    assert child.parent_node_metadata.node_id == "n0"


def _dynamic(custom):
    maker = task("maker", "make-dynamic", {"x": INT}, custom=custom)
    return compile_(
        workflow(
            "dyn",
            [task_node("n0", maker, {"x": wf_input("x")})],
            {"x": INT},
            {"y": INT},
            {"y": ref("n0", "x")},
        ),
        [maker],
    )


TASK_RESOURCES = ExecutionOptions(
    task_resources={"defaults": {"memory": "1Gi", "cpu": "250m"}, "limits": {"cpu": "1"}}
)


def test_the_tasks_a_dynamic_node_generates_get_the_executions_task_resources(kit):
    run = kit.run(_dynamic({"length": 2, "cpu": "4"}), literal_map(x=integer(3)), options=TASK_RESOURCES)
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    stored = kit.storage.read_proto(
        run.state.nodes["n0"].dynamic_closure_uri, compiler_pb2.CompiledWorkflowClosure
    )
    (echo,) = [t.template for t in stored.tasks if t.template.id.name == "dyn_echo"]
    names = tasks_pb2.Resources.ResourceName.Name
    resources = echo.container.resources
    # Its 4 CPUs are lowered to the limit; memory it did not request comes from the default.
    assert [(names(e.name), e.value) for e in resources.requests] == [("CPU", "1"), ("MEMORY", "1Gi")]
    assert [(names(e.name), e.value) for e in resources.limits] == [("CPU", "1"), ("MEMORY", "1Gi")]
    # Without recorded task resources the generated task keeps its own request.
    run = kit.run(_dynamic({"length": 1, "cpu": "4"}), literal_map(x=integer(3)))
    stored = kit.storage.read_proto(
        run.state.nodes["n0"].dynamic_closure_uri, compiler_pb2.CompiledWorkflowClosure
    )
    (echo,) = [t.template for t in stored.tasks if t.template.id.name == "dyn_echo"]
    assert [(names(e.name), e.value) for e in echo.container.resources.requests] == [("CPU", "4")]
    assert not echo.container.resources.limits


def test_a_generated_task_with_an_invalid_quantity_fails_the_dynamic_node_naming_it(kit):
    run = kit.run(_dynamic({"length": 1, "cpu": "lots"}), literal_map(x=integer(3)), options=TASK_RESOURCES)
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.nodes["n0"].phase is NodePhase.FAILED
    assert run.state.error.code == "DynamicWorkflowInvalid"
    assert run.state.error.message == (
        "task 'maker' on node 'n0': the workflow it generated: task 'dyn_echo' container.resources.requests.cpu 'lots' is not a "
        "valid quantity: quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got 'lots'"
    )


def _index_phases(kit, node_id="m"):
    """The last phase each index reported in the node's task events, by index."""
    last = {}
    for event in kit.events("task"):
        if event.parent_node_execution_id.node_id == node_id:
            for resource in event.metadata.external_resources:
                last[resource.index] = execution_pb2.TaskExecution.Phase.Name(resource.phase)
    return last


def test_indices_of_an_inline_handler_run_inline_in_order_with_no_attempt_each(kit):
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints(range(1000))))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(1000))
    assert len(kit.handlers.inline.inline) == 1000
    assert kit.handlers.inline.handled == set()
    # Batches, growing from one index (a slow task shows at once) up to INLINE_BATCH.
    batches = kit.handlers.inline.batches
    assert batches[:3] == [1, 1, 2] and max(batches) == array.INLINE_BATCH and sum(batches) == 1000
    assert _index_phases(kit) == dict.fromkeys(range(1000), "SUCCEEDED")
    assert all(s.task is None and s.attempt == 0 for s in run.state.nodes["m"].subnodes)


def test_a_round_runs_one_inline_batch_at_least_and_yields_after_its_inline_time(kit, monkeypatch):
    monkeypatch.setattr(array, "INLINE_BUDGET", 0.0)
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints(range(40))))
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(40))
    assert kit.handlers.inline.inline == [f"m-0-n{i}" for i in range(40)]
    assert kit.handlers.inline.batches == [1, 1, 2, 4, 8, 16, 8]
    # One batch per round: each round's task event reports that batch's indices.
    reported = [
        len(e.metadata.external_resources)
        for e in kit.events("task")
        if e.parent_node_execution_id.node_id == "m" and e.metadata.external_resources
    ]
    assert reported == [1, 1, 2, 4, 8, 16, 8]


def test_a_round_that_leaves_inline_indices_for_the_next_is_not_parkable(kit, monkeypatch):
    # It asks for the next round at once: parked, it would be let go of and claimed again (state reloaded).
    monkeypatch.setattr(array, "INLINE_BUDGET", 0.0)
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(40))))
    result = kit.engine.evaluate(run)
    assert run.state.nodes["m"].phase is NodePhase.RUNNING
    assert result.next_wake is not None and result.next_wake <= run.now
    assert not result.parkable


def test_inline_batches_stay_within_the_node_parallelism(kit):
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.run(map_workflow(mapped, parallelism=3), literal_map(xs=ints(range(20))))
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(20))
    assert max(kit.handlers.inline.batches) == 3 and sum(kit.handlers.inline.batches) == 20


def test_indices_failing_inline_hold_parallelism_until_their_retries_end(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"retry": 1}, retries=1)
    run = kit.run(map_workflow(mapped, parallelism=2), literal_map(xs=ints(range(6))))
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(6))
    # Each index fails inline and waits for its retry, an ordinary attempt: a batch gets only free slots.
    assert max(kit.handlers.inline.batches) == 2 and sum(kit.handlers.inline.batches) == 6
    assert kit.handlers.inline.handled == {f"m-0-n{i}" for i in range(6)}


def test_a_runner_stopping_early_leaves_the_rest_to_later_batches(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"one_at_a_time": 1})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints(range(10))))
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(10))
    assert kit.handlers.inline.inline == [f"m-0-n{i}" for i in range(10)]
    assert kit.handlers.inline.handled == set()


def test_a_raising_runner_fails_the_batch_s_first_index_as_a_system_error_and_ends_inline_runs(kit, caplog):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"raise": 1})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints([4, 5, 6])))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["ys"]) == [4, 5, 6]
    assert kit.handlers.inline.batches == [1]
    assert kit.handlers.inline.handled == {"m-0-n0", "m-0-n1", "m-0-n2"}
    first = run.state.nodes["m"].subnodes[0]
    assert (first.attempt, first.system_failures) == (1, 1)
    assert "node 'm': inline runner of task 'inline_t' raised RuntimeError: boom" in caplog.messages


def test_an_index_failing_inline_is_retried_as_an_ordinary_attempt(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"retry": 1}, retries=1)
    run = kit.run(map_workflow(mapped), literal_map(xs=ints([5, 6, 7])))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["ys"]) == [5, 6, 7]
    assert [s.attempt for s in run.state.nodes["m"].subnodes] == [1, 1, 1]
    assert kit.handlers.inline.inline == ["m-0-n0", "m-0-n1", "m-0-n2"]
    assert kit.handlers.inline.handled == {"m-0-n0", "m-0-n1", "m-0-n2"}
    attempts = {
        (r.index, r.retry_attempt, execution_pb2.TaskExecution.Phase.Name(r.phase))
        for e in kit.events("task")
        for r in e.metadata.external_resources
    }
    assert {(0, 0, "RETRYABLE_FAILED"), (0, 1, "SUCCEEDED")} <= attempts


def test_inline_failures_count_against_min_success_ratio(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"fail_odd": 1})
    run = kit.run(map_workflow(mapped, min_success_ratio=0.5), literal_map(xs=ints([2, 3, 4, 5])))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["ys"]) == [2, None, 4, None]
    run = kit.run(map_workflow(mapped, min_success_ratio=0.8), literal_map(xs=ints([2, 3, 4, 5])))
    assert run.state.phase is WorkflowPhase.FAILED
    # Index 1's failure already fails the node: indices 2 and 3 never start.
    assert run.state.error.message == (
        "node 'm': 1 of 4 mapped task(s) failed, at most 0 may; first error: node 'm' index 1: odd input"
    )
    assert [sub.phase for sub in run.state.nodes["m"].subnodes[2:]] == [NodePhase.NOT_YET_STARTED] * 2


def test_inline_outputs_of_the_wrong_type_fail_the_index(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"wrong": 1})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints([1])))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.error.message == (
        "node 'm': 1 of 1 mapped task(s) failed, at most 0 may; first error: task 'inline_t' on node 'm' "
        "index 0 returned output 'x' of type str, expected int"
    )


def test_cached_tasks_keep_a_cache_entry_per_index_and_do_not_run_inline(kit):
    mapped = task("inline_t", "inline", {"x": INT}, cache_version="1")
    first = kit.run(map_workflow(mapped), literal_map(xs=ints([1, 2])))
    assert first.state.phase is WorkflowPhase.SUCCEEDED
    assert kit.handlers.inline.inline == []
    assert kit.handlers.inline.handled == {"m-0-n0", "m-0-n1"}
    again = kit.run(map_workflow(mapped), literal_map(xs=ints([2, 3])))
    assert value(kit.engine.outputs(again).literals["ys"]) == [2, 3]
    statuses = [s.cache_status for s in again.state.nodes["m"].subnodes]
    assert statuses == [catalog_pb2.CACHE_HIT, catalog_pb2.CACHE_POPULATED]


def test_slow_indices_stop_running_inline_and_the_rest_get_ordinary_attempts(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"sleep": kit.handlers.inline.inline_slow * 2})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints(range(5))))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(5))
    # The first batch pays what is done once (imports, a server's start) and is not timed: the second tells.
    assert kit.handlers.inline.inline == ["m-0-n0", "m-0-n1"]
    assert kit.handlers.inline.handled == {f"m-0-n{i}" for i in range(2, 5)}


def test_tasks_with_a_timeout_do_not_run_inline(kit):
    mapped = task("inline_t", "inline", {"x": INT}, timeout=60)
    run = kit.run(map_workflow(mapped), literal_map(xs=ints([1, 2])))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    assert kit.handlers.inline.inline == []


def test_an_inline_runner_that_returns_no_outputs_fails_the_index_naming_it(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"running": 1})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints([1])))
    assert run.state.phase is WorkflowPhase.FAILED
    assert run.state.error.message == (
        "node 'm': 1 of 1 mapped task(s) failed, at most 0 may; first error: node 'm' index 0: "
        "the inline runner returned RUNNING, not outputs or a failure"
    )


def _index_outputs(kit, run):
    """The outputs blobs the node's indices have in storage."""
    folder = kit.engine.storage.join(run.data_dir("m"))
    return [
        uri
        for uri in kit.memory.list(folder)
        if uri.endswith("/outputs.pb") and uri != f"{folder}/outputs.pb"
    ]


def test_inline_outputs_stay_in_memory_when_the_state_does_not_outlive_the_process(tmp_path):
    kit = EngineKit(tmp_path, state_store=ObjectStateStore())
    assert not kit.engine.state_outlives_process
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints(range(20))))
    assert value(kit.engine.outputs(run).literals["ys"]) == list(range(20))
    assert _index_outputs(kit, run) == []
    # Each index still names its outputs, which this run reads from memory (a kept local run copies them).
    subnodes = run.state.nodes["m"].subnodes
    assert [value(run.literal_map(s.outputs_uri).literals["x"]) for s in subnodes] == list(range(20))


def test_inline_outputs_are_written_when_the_state_outlives_the_process(kit):
    assert kit.engine.state_outlives_process
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.run(map_workflow(mapped), literal_map(xs=ints(range(20))))
    assert len(_index_outputs(kit, run)) == 20


def test_an_engine_resuming_a_saved_state_gathers_the_outputs_of_indices_that_ran_inline_before(
    kit, monkeypatch
):
    monkeypatch.setattr(array, "INLINE_BUDGET", 0.0)  # one batch per round
    mapped = task("inline_t", "inline", {"x": INT})
    run = kit.start(map_workflow(mapped), literal_map(xs=ints(range(40))))
    for _ in range(4):
        kit.engine.evaluate(run)
    ran = len(kit.handlers.inline.inline)
    assert 0 < ran < 40
    # Another engine (as after a restart) picks the execution up from its saved state, with nothing in memory.
    engine = kit.new_engine()
    resumed = engine.resume(run.key)
    engine.run(resumed, timeout=30)
    assert resumed.state.phase is WorkflowPhase.SUCCEEDED
    assert value(engine.outputs(resumed).literals["ys"]) == list(range(40))
    assert kit.handlers.inline.inline == [f"m-0-n{i}" for i in range(40)]  # no index ran twice


def test_inline_successes_are_ranges_spelled_out_as_one_entry_per_index_on_the_wire(kit):
    mapped = task("inline_t", "inline", {"x": INT}, custom={"fail_odd": 1})
    run = kit.run(map_workflow(mapped, min_success_ratio=0.4), literal_map(xs=ints(range(10))))
    assert run.state.phase is WorkflowPhase.SUCCEEDED
    entries = [
        (r.index, r.external_id, r.retry_attempt, execution_pb2.TaskExecution.Phase.Name(r.phase))
        for e in kit.events("task")
        if e.parent_node_execution_id.node_id == "m"
        for r in e.metadata.external_resources
    ]
    assert sorted(entries) == [
        (i, str(i), 0, "FAILED" if i % 2 else "SUCCEEDED") for i in range(10)
    ]  # each index once, with its own phase


def test_an_index_range_stands_for_one_entry_per_index():
    failed = int(TaskPhase.PERMANENT_FAILURE)
    single = array.external_resource(7, 1, failed)
    entries = list(external_resources([IndexRange(2, 3), single, IndexRange(9, 1, attempt=2, phase=failed)]))
    assert [(e.index, e.external_id, e.retry_attempt, e.phase) for e in entries] == [
        (2, "2", 0, execution_pb2.TaskExecution.SUCCEEDED),
        (3, "3", 0, execution_pb2.TaskExecution.SUCCEEDED),
        (4, "4", 0, execution_pb2.TaskExecution.SUCCEEDED),
        (7, "7", 1, execution_pb2.TaskExecution.FAILED),
        (9, "9", 2, execution_pb2.TaskExecution.FAILED),
    ]
