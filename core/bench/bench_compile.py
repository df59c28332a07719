"""How long the compiler takes on large workflows: chains and fan-outs of nodes of one task.

    python core/bench/bench_compile.py

Prints one line per shape and size; nothing is asserted.
"""

from __future__ import annotations

import time

from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)

from roost_core.compiler import compile_workflow

INT = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.ResourceType.TASK,
    project="p",
    domain="d",
    name="bench.inc",
    version="v1",
)
TASK = tasks_pb2.TaskTemplate(
    id=TASK_ID,
    type="python-task",
    interface=interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)}),
        outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
    ),
)


def _node(node_id: str, source_node: str, source_var: str) -> workflow_pb2.Node:
    promise = types_pb2.OutputReference(node_id=source_node, var=source_var)
    return workflow_pb2.Node(
        id=node_id,
        inputs=[literals_pb2.Binding(var="x", binding=literals_pb2.BindingData(promise=promise))],
        task_node=workflow_pb2.TaskNode(reference_id=TASK_ID),
    )


def _workflow(nodes: list[workflow_pb2.Node], last: str) -> workflow_pb2.WorkflowTemplate:
    variables = {"a": interface_pb2.Variable(type=INT)}
    out = literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=last, var="o0"))
    return workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.ResourceType.WORKFLOW, name="bench.wf"),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables=variables),
            outputs=interface_pb2.VariableMap(variables={"o": interface_pb2.Variable(type=INT)}),
        ),
        nodes=nodes,
        outputs=[literals_pb2.Binding(var="o", binding=out)],
    )


def chain(size: int) -> workflow_pb2.WorkflowTemplate:
    """n0 reads the workflow input, every next node the one before it."""
    nodes = [_node("n0", "", "a")] + [_node(f"n{i}", f"n{i - 1}", "o0") for i in range(1, size)]
    return _workflow(nodes, f"n{size - 1}")


def fan_out(size: int) -> workflow_pb2.WorkflowTemplate:
    """Every node reads the workflow input; all of them are leaves."""
    return _workflow([_node(f"n{i}", "", "a") for i in range(size)], "n0")


def main() -> None:
    for size in (1_000, 10_000):
        for shape, build in (("chain", chain), ("fan-out", fan_out)):
            template = build(size)
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                compile_workflow(template, [TASK])
                best = min(best, time.perf_counter() - started)
            print(f"compile {shape} of {size} task nodes: {best * 1000:.1f} ms (best of 3)")


if __name__ == "__main__":
    main()
