"""Branch nodes: their cases, the then/else nodes inside them, the outputs they share, and their
conditions.

As Flyte does, a then/else node's id becomes ``<branch id>-<its id>`` in the compiled workflow, so
ids that flytekit reuses inside branches (``n0``, ``n1``) never clash with the workflow's own node
ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from flyteidl.core import condition_pb2, literals_pb2, types_pb2, workflow_pb2

from roost_core.compiler.interfaces import NodeInterface
from roost_core.compiler.issues import IssueCode
from roost_core.compiler.nodes import NodeRecord
from roost_core.literal_types import can_cast, describe, literal_type_of

if TYPE_CHECKING:
    from roost_core.compiler.workflow import WorkflowCompiler

_SIMPLE = types_pb2.SimpleType
_COMPARABLE_FAMILY = {
    _SIMPLE.INTEGER: "number",
    _SIMPLE.FLOAT: "number",
    _SIMPLE.STRING: "string",
    _SIMPLE.BOOLEAN: "boolean",
    _SIMPLE.DATETIME: "datetime",
    _SIMPLE.DURATION: "duration",
}


def _cases(if_else: workflow_pb2.IfElseBlock) -> list[tuple[int, workflow_pb2.IfBlock]]:
    """The if block and the elif blocks, numbered from 1."""
    blocks = [if_else.case] if if_else.HasField("case") else []
    return list(enumerate([*blocks, *if_else.other], start=1))


def resolve_branch(compiler: WorkflowCompiler, record: NodeRecord) -> NodeInterface | None:
    """Resolve every then/else node; the branch gives the outputs all of them give."""
    label = record.label
    branch = record.node.branch_node
    if not branch.HasField("if_else"):
        compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} has no if/else block")
        return None
    if_else = branch.if_else
    if not if_else.HasField("case"):
        compiler.report(IssueCode.BRANCH_NODE_HAS_NO_CONDITION, record, f"{label} has no if case")
    inner_nodes: list[workflow_pb2.Node] = []
    for position, block in _cases(if_else):
        if not block.HasField("condition"):
            compiler.report(
                IssueCode.BRANCH_NODE_HAS_NO_CONDITION,
                record,
                f"{label} case {position} has no condition",
            )
        if block.HasField("then_node"):
            inner_nodes.append(block.then_node)
        else:
            compiler.report(
                IssueCode.BRANCH_NODE_ID_NOT_FOUND,
                record,
                f"{label} case {position} has no then node",
            )
    default = if_else.WhichOneof("default")
    if default == "else_node":
        inner_nodes.append(if_else.else_node)
    elif default is None:
        compiler.report(
            IssueCode.BRANCH_NODE_HAS_NO_DEFAULT,
            record,
            f"{label} has neither an else node nor an else error",
        )

    seen: set[str] = set()
    for inner in inner_nodes:
        original = inner.id
        if not original:
            compiler.report(IssueCode.VALUE_REQUIRED, record, f"{label} has a then/else node without an id")
            continue
        if original in seen:
            compiler.report(
                IssueCode.DUPLICATE_ID,
                record,
                f"{label} has more than one then/else node with id '{original}'",
            )
            continue
        seen.add(original)
        inner.id = f"{record.node_id}-{original}"
        case = NodeRecord(inner, inner.id)
        record.cases.append(case)
        compiler.resolve(case)
    outputs = _shared_outputs(compiler, record)
    if outputs is None:
        return None
    return NodeInterface(label, None, outputs)


def _shared_outputs(
    compiler: WorkflowCompiler, record: NodeRecord
) -> dict[str, types_pb2.LiteralType] | None:
    """Outputs every resolved case gives, with one type; None when no case could be resolved."""
    shared: dict[str, types_pb2.LiteralType] | None = None
    first: NodeRecord | None = None
    for case in record.cases:
        if case.outputs is None:
            continue
        if shared is None or first is None:
            shared, first = dict(case.outputs), case
            continue
        for name in list(shared):
            other = case.outputs.get(name)
            if other is None:
                del shared[name]
            elif not (can_cast(shared[name], other) and can_cast(other, shared[name])):
                compiler.report(
                    IssueCode.MISMATCHING_TYPES,
                    record,
                    f"{record.label} output '{name}' is {describe(shared[name])} in "
                    f"'{first.node_id}' but {describe(other)} in '{case.node_id}'",
                )
    return shared


def check_conditions(
    compiler: WorkflowCompiler, record: NodeRecord, input_types: Mapping[str, types_pb2.LiteralType]
) -> None:
    """Conditions may only read the branch node's inputs, and compare values of comparable types."""
    if not record.node.branch_node.HasField("if_else"):
        return
    bound = {binding.var for binding in record.node.inputs}
    for _, block in _cases(record.node.branch_node.if_else):
        if block.HasField("condition"):
            _check_expression(compiler, record, block.condition, bound, input_types)


def _check_expression(
    compiler: WorkflowCompiler,
    record: NodeRecord,
    expression: condition_pb2.BooleanExpression,
    bound: set[str],
    input_types: Mapping[str, types_pb2.LiteralType],
) -> None:
    kind = expression.WhichOneof("expr")
    if kind == "conjunction":
        for side in (
            expression.conjunction.left_expression,
            expression.conjunction.right_expression,
        ):
            _check_expression(compiler, record, side, bound, input_types)
        return
    if kind != "comparison":
        compiler.report(IssueCode.VALUE_REQUIRED, record, f"{record.label} condition has an empty expression")
        return
    comparison = expression.comparison
    left = _operand_type(compiler, record, comparison.left_value, bound, input_types)
    right = _operand_type(compiler, record, comparison.right_value, bound, input_types)
    if left is not None and right is not None and not _comparable(left, right):
        compiler.report(
            IssueCode.MISMATCHING_TYPES,
            record,
            f"{record.label} condition compares {describe(left)} with {describe(right)}",
        )


def _operand_type(
    compiler: WorkflowCompiler,
    record: NodeRecord,
    operand: condition_pb2.Operand,
    bound: set[str],
    input_types: Mapping[str, types_pb2.LiteralType],
) -> types_pb2.LiteralType | None:
    kind = operand.WhichOneof("val")
    if kind == "var":
        if operand.var not in bound:
            compiler.report(
                IssueCode.VARIABLE_NAME_NOT_FOUND,
                record,
                f"{record.label} condition uses '{operand.var}', which is not one of its inputs",
            )
            return None
        return input_types.get(operand.var)
    if kind == "primitive":
        primitive = literals_pb2.Scalar(primitive=operand.primitive)
        return literal_type_of(literals_pb2.Literal(scalar=primitive))
    if kind == "scalar":
        return literal_type_of(literals_pb2.Literal(scalar=operand.scalar))
    compiler.report(IssueCode.VALUE_REQUIRED, record, f"{record.label} condition has an empty operand")
    return None


def _comparable(left: types_pb2.LiteralType, right: types_pb2.LiteralType) -> bool:
    """Simple values of different families (a string and a number, say) cannot be compared; ints and
    floats can, and anything is comparable with None. Other kinds are left to run time."""
    if left.WhichOneof("type") != "simple" or right.WhichOneof("type") != "simple":
        return True
    left_family = _COMPARABLE_FAMILY.get(left.simple)
    right_family = _COMPARABLE_FAMILY.get(right.simple)
    return left_family is None or right_family is None or left_family == right_family
