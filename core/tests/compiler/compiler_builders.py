"""Terse builders of flyteidl tasks, workflows, nodes and bindings for the compiler's tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flyteidl.admin import launch_plan_pb2
from flyteidl.core import (
    condition_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from type_builders import literal, scalar

from roost_core.compiler import CompileError, compile_workflow

RESOURCE = identifier_pb2.ResourceType


def ident(name: str, resource: int = RESOURCE.TASK, version: str = "v1") -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource, project="proj", domain="dev", name=name, version=version
    )


def variables(types: Mapping[str, types_pb2.LiteralType]) -> interface_pb2.VariableMap:
    return interface_pb2.VariableMap(
        variables={n: interface_pb2.Variable(type=t, description=n) for n, t in types.items()}
    )


def interface(
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
) -> interface_pb2.TypedInterface:
    return interface_pb2.TypedInterface(inputs=variables(inputs or {}), outputs=variables(outputs or {}))


def task(
    name: str,
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
) -> tasks_pb2.TaskTemplate:
    return tasks_pb2.TaskTemplate(
        id=ident(name),
        type="python-task",
        interface=interface(inputs, outputs),
        container=tasks_pb2.Container(image="image", args=["run", name]),
    )


def val(value: Any) -> literals_pb2.BindingData:
    """A scalar binding."""
    return literals_pb2.BindingData(scalar=scalar(value))


def ref(node_id: str, var: str, *attrs: str | int) -> literals_pb2.BindingData:
    """A promise of ``node_id``'s output ``var`` (``""``: a workflow input, as flytekit sends)."""
    path = [
        types_pb2.PromiseAttribute(string_value=a)
        if isinstance(a, str)
        else types_pb2.PromiseAttribute(int_value=a)
        for a in attrs
    ]
    return literals_pb2.BindingData(
        promise=types_pb2.OutputReference(node_id=node_id, var=var, attr_path=path)
    )


def wf_input(var: str) -> literals_pb2.BindingData:
    return ref("", var)


def items(*bindings: literals_pb2.BindingData) -> literals_pb2.BindingData:
    """A collection of bindings."""
    return literals_pb2.BindingData(collection=literals_pb2.BindingDataCollection(bindings=bindings))


def entries(**bindings: literals_pb2.BindingData) -> literals_pb2.BindingData:
    """A map of bindings."""
    return literals_pb2.BindingData(map=literals_pb2.BindingDataMap(bindings=bindings))


def bindings(values: Mapping[str, literals_pb2.BindingData]) -> list[literals_pb2.Binding]:
    return [literals_pb2.Binding(var=k, binding=v) for k, v in values.items()]


def task_node(
    node_id: str, task_name: str, upstream: Iterable[str] = (), **inputs: literals_pb2.BindingData
) -> workflow_pb2.Node:
    return workflow_pb2.Node(
        id=node_id,
        metadata=workflow_pb2.NodeMetadata(name=task_name),
        inputs=bindings(inputs),
        upstream_node_ids=list(upstream),
        task_node=workflow_pb2.TaskNode(reference_id=ident(task_name)),
    )


def subworkflow_node(
    node_id: str, workflow_name: str, **inputs: literals_pb2.BindingData
) -> workflow_pb2.Node:
    return workflow_pb2.Node(
        id=node_id,
        inputs=bindings(inputs),
        workflow_node=workflow_pb2.WorkflowNode(sub_workflow_ref=ident(workflow_name, RESOURCE.WORKFLOW)),
    )


def launch_plan_node(node_id: str, lp_name: str, **inputs: literals_pb2.BindingData) -> workflow_pb2.Node:
    return workflow_pb2.Node(
        id=node_id,
        inputs=bindings(inputs),
        workflow_node=workflow_pb2.WorkflowNode(launchplan_ref=ident(lp_name, RESOURCE.LAUNCH_PLAN)),
    )


def gt(var: str, value: int) -> condition_pb2.BooleanExpression:
    """``var > value``, as flytekit writes a comparison."""
    return condition_pb2.BooleanExpression(
        comparison=condition_pb2.ComparisonExpression(
            operator=condition_pb2.ComparisonExpression.GT,
            left_value=condition_pb2.Operand(var=var),
            right_value=condition_pb2.Operand(primitive=literals_pb2.Primitive(integer=value)),
        )
    )


def branch_node(
    node_id: str,
    cases: Iterable[tuple[condition_pb2.BooleanExpression | None, workflow_pb2.Node | None]],
    *,
    else_node: workflow_pb2.Node | None = None,
    error: str | None = None,
    **inputs: literals_pb2.BindingData,
) -> workflow_pb2.Node:
    blocks = []
    for condition, then_node in cases:
        block = workflow_pb2.IfBlock()
        if condition is not None:
            block.condition.CopyFrom(condition)
        if then_node is not None:
            block.then_node.CopyFrom(then_node)
        blocks.append(block)
    if_else = workflow_pb2.IfElseBlock()
    if blocks:
        if_else.case.CopyFrom(blocks[0])
        if_else.other.extend(blocks[1:])
    if else_node is not None:
        if_else.else_node.CopyFrom(else_node)
    if error is not None:
        if_else.error.failed_node_id = node_id
        if_else.error.message = error
    return workflow_pb2.Node(
        id=node_id, inputs=bindings(inputs), branch_node=workflow_pb2.BranchNode(if_else=if_else)
    )


def workflow(
    name: str,
    nodes: Iterable[workflow_pb2.Node],
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
    **output_bindings: literals_pb2.BindingData,
) -> workflow_pb2.WorkflowTemplate:
    return workflow_pb2.WorkflowTemplate(
        id=ident(name, RESOURCE.WORKFLOW),
        interface=interface(inputs, outputs),
        nodes=list(nodes),
        outputs=bindings(output_bindings),
        metadata=workflow_pb2.WorkflowMetadata(),
        metadata_defaults=workflow_pb2.WorkflowMetadataDefaults(),
    )


def admin_launch_plan(
    name: str,
    inputs: Mapping[str, types_pb2.LiteralType],
    outputs: Mapping[str, types_pb2.LiteralType],
    *,
    defaults: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> launch_plan_pb2.LaunchPlan:
    """An admin launch plan as flyteadmin stores it: expected inputs are the unfixed ones, each
    either required or with a default."""
    defaults = defaults or {}
    fixed = fixed or {}
    parameters = {}
    for input_name, input_type in inputs.items():
        if input_name in fixed:
            continue
        parameter = interface_pb2.Parameter(var=interface_pb2.Variable(type=input_type))
        if input_name in defaults:
            parameter.default.CopyFrom(literal(defaults[input_name]))
        else:
            parameter.required = True
        parameters[input_name] = parameter
    spec = launch_plan_pb2.LaunchPlanSpec(
        workflow_id=ident(name, RESOURCE.WORKFLOW),
        default_inputs=interface_pb2.ParameterMap(parameters=parameters),
        fixed_inputs=literals_pb2.LiteralMap(literals={k: literal(v) for k, v in fixed.items()}),
    )
    closure = launch_plan_pb2.LaunchPlanClosure(
        expected_inputs=interface_pb2.ParameterMap(parameters=parameters),
        expected_outputs=variables(outputs),
    )
    return launch_plan_pb2.LaunchPlan(id=ident(name, RESOURCE.LAUNCH_PLAN), spec=spec, closure=closure)


def issues_of(
    wf: workflow_pb2.WorkflowTemplate,
    tasks: Iterable[tasks_pb2.TaskTemplate] = (),
    subworkflows: Iterable[workflow_pb2.WorkflowTemplate] = (),
    launch_plans: Iterable[Any] = (),
) -> list[tuple[str, str, str]]:
    """(code, node id, message) of every issue; fails the test if the workflow compiles."""
    try:
        compile_workflow(wf, tasks, subworkflows, launch_plans)
    except CompileError as error:
        return [(issue.code, issue.node_id, issue.message) for issue in error.errors]
    raise AssertionError("the workflow compiled, but issues were expected")
