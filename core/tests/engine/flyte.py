"""Terse builders of flyteidl workflows for engine tests (there is no SDK in roost-core)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flyteidl.core import (
    condition_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from google.protobuf import duration_pb2, struct_pb2

from roost_core.compiler import compile_workflow

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)
FLOAT = types_pb2.LiteralType(simple=types_pb2.FLOAT)
BOOL = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
DURATION = types_pb2.LiteralType(simple=types_pb2.DURATION)


def list_of(t: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(collection_type=t)


def ident(name: str, kind: int = identifier_pb2.TASK, version: str = "v1") -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=kind, project="p", domain="d", name=name, version=version)


def variables(types: Mapping[str, types_pb2.LiteralType]) -> interface_pb2.VariableMap:
    return interface_pb2.VariableMap(
        variables={k: interface_pb2.Variable(type=t, description=k) for k, t in types.items()}
    )


def interface(
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
) -> interface_pb2.TypedInterface:
    return interface_pb2.TypedInterface(inputs=variables(inputs or {}), outputs=variables(outputs or {}))


def seconds(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


def task(
    name: str,
    task_type: str = "echo",
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
    *,
    retries: int = 0,
    custom: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    cache_version: str = "",
    serializable: bool = False,
    interruptible: bool = False,
    container: tasks_pb2.Container | None = None,
) -> tasks_pb2.TaskTemplate:
    if outputs is None:
        outputs = dict(inputs or {})
    template = tasks_pb2.TaskTemplate(
        id=ident(name),
        type=task_type,
        interface=interface(inputs, outputs),
        metadata=tasks_pb2.TaskMetadata(
            retries=literals_pb2.RetryStrategy(retries=retries),
            discoverable=bool(cache_version),
            discovery_version=cache_version,
            cache_serializable=serializable,
            interruptible=interruptible,
        ),
    )
    if timeout is not None:
        template.metadata.timeout.CopyFrom(seconds(timeout))
    if custom is not None:
        struct = struct_pb2.Struct()
        struct.update(dict(custom))
        template.custom.CopyFrom(struct)
    if container is not None:
        template.container.CopyFrom(container)
    return template


def ref(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def wf_input(var: str) -> literals_pb2.BindingData:
    return ref("", var)


def integer(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def string(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


def ints(values: Iterable[int]) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(literals=[integer(v) for v in values])
    )


def const(literal: literals_pb2.Literal) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(scalar=literal.scalar)


def bindings(values: Mapping[str, literals_pb2.BindingData]) -> list[literals_pb2.Binding]:
    return [literals_pb2.Binding(var=k, binding=v) for k, v in values.items()]


def literal_map(**values: literals_pb2.Literal) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals=values)


def value(literal: literals_pb2.Literal) -> Any:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return [value(v) for v in literal.collection.literals]
    if kind == "map":
        return {k: value(v) for k, v in literal.map.literals.items()}
    scalar = literal.scalar
    if scalar.WhichOneof("value") == "none_type":
        return None
    prim = scalar.primitive
    return getattr(prim, prim.WhichOneof("value"))


def task_node(
    node_id: str,
    t: tasks_pb2.TaskTemplate,
    inputs: Mapping[str, literals_pb2.BindingData] | None = None,
    *,
    upstream: Iterable[str] = (),
    retries: int | None = None,
    timeout: float | None = None,
) -> workflow_pb2.Node:
    node = workflow_pb2.Node(
        id=node_id,
        inputs=bindings(inputs or {}),
        upstream_node_ids=list(upstream),
        task_node=workflow_pb2.TaskNode(reference_id=t.id),
        metadata=workflow_pb2.NodeMetadata(name=t.id.name),
    )
    if retries is not None:
        node.metadata.retries.retries = retries
    if timeout is not None:
        node.metadata.timeout.CopyFrom(seconds(timeout))
    return node


def subworkflow_node(
    node_id: str, wf: workflow_pb2.WorkflowTemplate, inputs: Mapping[str, literals_pb2.BindingData]
) -> workflow_pb2.Node:
    return workflow_pb2.Node(
        id=node_id, inputs=bindings(inputs), workflow_node=workflow_pb2.WorkflowNode(sub_workflow_ref=wf.id)
    )


def workflow(
    name: str,
    nodes: Iterable[workflow_pb2.Node],
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
    output_bindings: Mapping[str, literals_pb2.BindingData] | None = None,
    *,
    fail_late: bool = False,
    failure_node: workflow_pb2.Node | None = None,
) -> workflow_pb2.WorkflowTemplate:
    template = workflow_pb2.WorkflowTemplate(
        id=ident(name, identifier_pb2.WORKFLOW),
        interface=interface(inputs, outputs),
        nodes=list(nodes),
        outputs=bindings(output_bindings or {}),
    )
    if fail_late:
        template.metadata.on_failure = workflow_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    if failure_node is not None:
        template.failure_node.CopyFrom(failure_node)
    return template


def comparison(var: str, op: str, value_: int) -> condition_pb2.BooleanExpression:
    return condition_pb2.BooleanExpression(
        comparison=condition_pb2.ComparisonExpression(
            operator=condition_pb2.ComparisonExpression.Operator.Value(op),
            left_value=condition_pb2.Operand(var=var),
            right_value=condition_pb2.Operand(primitive=literals_pb2.Primitive(integer=value_)),
        )
    )


def compile_(
    wf: workflow_pb2.WorkflowTemplate,
    tasks: Iterable[tasks_pb2.TaskTemplate],
    subworkflows: Iterable[workflow_pb2.WorkflowTemplate] = (),
    launch_plans: Iterable[workflow_pb2.LaunchPlanTemplate] = (),
):
    return compile_workflow(wf, tasks, subworkflows, launch_plans)
