"""Engine throughput and memory: a fan-out of echo tasks, run to the end on one core.

    python core/bench/bench_engine.py

Prints node transitions per second (node phase changes, each one an event) and the memory the
execution's state and indexes take per 1,000 nodes; nothing is asserted.
"""

from __future__ import annotations

import gc
import time
import tracemalloc

from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)

from roost_core.compiler import compile_workflow
from roost_core.engine import Engine, EngineConfig
from roost_core.events import MemorySink
from roost_core.storage import Storage
from roost_core.storage.memory import MemoryStore

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
VARIABLES = interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)})
ECHO = tasks_pb2.TaskTemplate(
    id=identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="p", domain="d", name="echo", version="1"
    ),
    type="echo",
    interface=interface_pb2.TypedInterface(inputs=VARIABLES, outputs=VARIABLES),
)


def fan_out(size: int) -> workflow_pb2.WorkflowTemplate:
    """``size`` echo nodes, each reading the workflow input."""
    source = literals_pb2.BindingData(promise=types_pb2.OutputReference(var="x"))
    nodes = [
        workflow_pb2.Node(
            id=f"n{i}",
            inputs=[literals_pb2.Binding(var="x", binding=source)],
            task_node=workflow_pb2.TaskNode(reference_id=ECHO.id),
        )
        for i in range(size)
    ]
    return workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name="fan", version="1"
        ),
        interface=interface_pb2.TypedInterface(inputs=VARIABLES),
        nodes=nodes,
    )


def run_once(size: int, name: str) -> tuple[float, int, int]:
    """(seconds, node transitions, rounds) for one execution of a fan-out of ``size``."""
    closure = compile_workflow(fan_out(size), [ECHO])
    sink = MemorySink()
    engine = Engine(
        Storage({"mem": MemoryStore()}), sinks={"memory": sink}, config=EngineConfig(poll_interval=0.001)
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["x"].scalar.primitive.integer = 1
    execution = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=name)
    run = engine.start(execution, closure, inputs, data_prefix=f"mem://bench/{name}")
    started = time.perf_counter()
    engine.run(run)
    elapsed = time.perf_counter() - started
    transitions = sum(1 for event in sink.events if event.kind == "node")
    return elapsed, transitions, run.state.rounds


def memory_per_thousand(size: int) -> float:
    """KiB of memory held by a finished execution of ``size`` nodes, per 1,000 nodes."""
    closure = compile_workflow(fan_out(size), [ECHO])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = Engine(Storage({"mem": MemoryStore()}))
    inputs = literals_pb2.LiteralMap()
    inputs.literals["x"].scalar.primitive.integer = 1
    execution = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="mem")
    run = engine.start(execution, closure, inputs, data_prefix="mem://bench/mem")
    engine.run(run)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del run, engine
    return held / 1024 / (size / 1000)


def main() -> None:
    for size in (1_000, 10_000):
        best = min(run_once(size, f"fan{size}-{attempt}") for attempt in range(3))
        elapsed, transitions, rounds = best
        print(
            f"engine fan-out of {size} echo tasks: {elapsed:.2f} s, {transitions} node transitions, "
            f"{transitions / elapsed:,.0f} transitions/s, {rounds} round(s) (best of 3)"
        )
    print(
        f"engine memory: {memory_per_thousand(10_000):,.0f} KiB per 1,000 nodes "
        "(state, outputs, blobs and events of a finished 10k-node execution)"
    )


if __name__ == "__main__":
    main()
