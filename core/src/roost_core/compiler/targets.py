"""A node's interface, from its target: a task, launch plan, sub-workflow, gate or array node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyteidl.core import types_pb2

from roost_core.compiler.branches import resolve_branch
from roost_core.compiler.interfaces import NodeInterface, type_is_valid
from roost_core.compiler.issues import IssueCode
from roost_core.compiler.nodes import NodeRecord
from roost_core.literal_types import describe

if TYPE_CHECKING:
    from roost_core.compiler.workflow import WorkflowCompiler


def resolve_target(compiler: WorkflowCompiler, record: NodeRecord) -> NodeInterface | None:
    """The interface of the node's target; None (with the issue reported) when it cannot be told."""
    target = record.target
    if target == "task_node":
        task_node = record.node.task_node
        if not task_node.HasField("reference_id"):
            compiler.report(
                IssueCode.VALUE_REQUIRED,
                record,
                f"{record.label} is a task node without a task reference",
            )
            return None
        return compiler.session.task_interface(task_node.reference_id, compiler, record)
    if target == "workflow_node":
        workflow_node = record.node.workflow_node
        reference = workflow_node.WhichOneof("reference")
        if reference == "launchplan_ref":
            return compiler.session.launch_plan_interface(workflow_node.launchplan_ref, compiler, record)
        if reference == "sub_workflow_ref":
            return compiler.session.subworkflow_interface(workflow_node.sub_workflow_ref, compiler, record)
        compiler.report(
            IssueCode.VALUE_REQUIRED,
            record,
            f"{record.label} is a workflow node without a launch plan or sub-workflow reference",
        )
        return None
    if target == "branch_node":
        return resolve_branch(compiler, record)
    if target == "gate_node":
        return _gate_interface(compiler, record)
    if target == "array_node":
        return _array_interface(compiler, record)
    compiler.report(
        IssueCode.VALUE_REQUIRED,
        record,
        f"{record.label} has no target (task, workflow, branch, gate or array node)",
    )
    return None


def _gate_interface(compiler: WorkflowCompiler, record: NodeRecord) -> NodeInterface | None:
    gate = record.node.gate_node
    condition = gate.WhichOneof("condition")
    label = record.label
    if condition == "approve":
        if not gate.approve.signal_id:
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} approval has no signal id")
        # An approved gate passes its inputs through as its outputs.
        return NodeInterface(label, None, compiler.bindings.infer_types(record.node.inputs))
    if condition == "signal":
        signal = gate.signal
        if not signal.signal_id:
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} signal has no signal id")
        if not signal.output_variable_name:
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} signal has no output variable name")
        if not signal.HasField("type"):
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} signal has no type")
            return None
        if not type_is_valid(signal.type):
            compiler.report(
                IssueCode.INVALID_LITERAL_TYPE, record, f"{label} signal type is empty or unknown"
            )
            return None
        outputs = {signal.output_variable_name: signal.type} if signal.output_variable_name else {}
        return NodeInterface(label, {}, outputs)
    if condition == "sleep":
        if not gate.sleep.HasField("duration"):
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} sleep has no duration")
        elif gate.sleep.duration.seconds < 0 or gate.sleep.duration.nanos < 0:
            compiler.report(IssueCode.INVALID_VALUE, record, f"{label} sleep duration is negative")
        return NodeInterface(label, {}, {})
    compiler.report(
        IssueCode.NO_CONDITION_FOUND, record, f"{label} has no approve, signal or sleep condition"
    )
    return None


def _array_interface(compiler: WorkflowCompiler, record: NodeRecord) -> NodeInterface | None:
    """An array node maps its sub-node over list inputs.

    With ``is_original_sub_node_interface`` set, the sub-node's interface is per element: the array
    node takes lists of its inputs (but the ``bound_inputs``, passed whole to every element) and
    gives lists of its outputs. Otherwise (what flytekit sends) the sub-node's interface is already
    in list form.
    """
    array = record.node.array_node
    label = record.label
    if not array.HasField("node"):
        compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} has no sub-node")
        return None
    if array.WhichOneof("success_criteria") == "min_success_ratio" and not 0 <= array.min_success_ratio <= 1:
        compiler.report(
            IssueCode.INVALID_VALUE,
            record,
            f"{label} min_success_ratio {array.min_success_ratio:g} is not between 0 and 1",
        )
    sub = NodeRecord(array.node, record.node_id, display=f"the sub-node of {label}")
    record.sub_node = sub
    if sub.target not in ("task_node", "workflow_node"):
        compiler.report(
            IssueCode.INVALID_VALUE,
            record,
            f"{label} can only map a task or workflow node, "
            f"not a {(sub.target or 'node without a target').replace('_', ' ')}",
        )
        return None
    compiler.resolve(sub)
    inner = sub.interface
    if inner is None or inner.inputs is None:
        return None
    bound = set(array.bound_inputs)
    for name in array.bound_inputs:
        if name not in inner.inputs:
            compiler.report(
                IssueCode.VARIABLE_NAME_NOT_FOUND,
                record,
                f"{label} lists bound input '{name}', which {inner.source} does not declare",
            )
    if array.HasField("is_original_sub_node_interface") and array.is_original_sub_node_interface.value:
        inputs = {
            name: literal_type if name in bound else _list_of(literal_type)
            for name, literal_type in inner.inputs.items()
        }
        outputs = {name: _list_of(literal_type) for name, literal_type in inner.outputs.items()}
        return NodeInterface(inner.source, inputs, outputs, inner.required, inner.fixed)
    for name, literal_type in inner.outputs.items():
        if literal_type.WhichOneof("type") != "collection_type":
            compiler.report(
                IssueCode.MISMATCHING_INTERFACES,
                record,
                f"{label} output '{name}' of {inner.source} is {describe(literal_type)}, but the "
                "outputs of an array node's sub-node must be lists unless "
                "is_original_sub_node_interface is set",
            )
    return inner


def _list_of(literal_type: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(collection_type=literal_type)
