"""Evaluates flyteidl ``BooleanExpression``s, the conditions of branch nodes.

Operands are primitives, scalars (``None`` for ``is_none()`` checks) or names of the branch node's inputs.
Only values of the same primitive kind compare; booleans support only equality. Union values are
compared by the value they hold.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from flyteidl.core import condition_pb2, literals_pb2

from roost_core.errors import RoostError

_Comparison = condition_pb2.ComparisonExpression
_OPERATORS: dict[int, Callable[[Any, Any], bool]] = {
    _Comparison.EQ: operator.eq,
    _Comparison.NEQ: operator.ne,
    _Comparison.GT: operator.gt,
    _Comparison.GTE: operator.ge,
    _Comparison.LT: operator.lt,
    _Comparison.LTE: operator.le,
}
_NONE = object()


class ConditionError(RoostError):
    """A condition cannot be evaluated: a missing variable, or operands that do not compare."""


def evaluate(expression: condition_pb2.BooleanExpression, inputs: literals_pb2.LiteralMap) -> bool:
    """Evaluate ``expression`` against the branch node's inputs."""
    kind = expression.WhichOneof("expr")
    if kind == "comparison":
        return _compare(expression.comparison, inputs)
    if kind == "conjunction":
        conj = expression.conjunction
        left = evaluate(conj.left_expression, inputs)
        if conj.operator == condition_pb2.ConjunctionExpression.OR:
            return left or evaluate(conj.right_expression, inputs)
        return left and evaluate(conj.right_expression, inputs)
    raise ConditionError("the condition has neither a comparison nor a conjunction")


def _compare(expr: condition_pb2.ComparisonExpression, inputs: literals_pb2.LiteralMap) -> bool:
    left = _operand(expr.left_value, inputs)
    right = _operand(expr.right_value, inputs)
    op_name = _Comparison.Operator.Name(expr.operator)
    if left is _NONE or right is _NONE:
        if expr.operator == _Comparison.EQ:
            return left is right
        if expr.operator == _Comparison.NEQ:
            return left is not right
        raise ConditionError(f"[{op_name}] is not defined for None; only EQ and NEQ are")
    if type(left) is not type(right):
        raise ConditionError(f"cannot compare {type(left).__name__} with {type(right).__name__} ({op_name})")
    if isinstance(left, bool) and expr.operator not in (_Comparison.EQ, _Comparison.NEQ):
        raise ConditionError(f"[{op_name}] is not defined for booleans")
    return _OPERATORS[expr.operator](left, right)


def _operand(operand: condition_pb2.Operand, inputs: literals_pb2.LiteralMap) -> Any:
    kind = operand.WhichOneof("val")
    if kind == "primitive":
        return _primitive(operand.primitive)
    if kind == "scalar":
        return _scalar(operand.scalar, "a literal operand")
    if kind == "var":
        if operand.var not in inputs.literals:
            known = ", ".join(sorted(inputs.literals)) or "none"
            raise ConditionError(
                f"the condition uses {operand.var!r}, which is not an input (inputs: {known})"
            )
        literal = inputs.literals[operand.var]
        if literal.WhichOneof("value") != "scalar":
            raise ConditionError(f"{operand.var!r} is not a primitive value and cannot be compared")
        return _scalar(literal.scalar, repr(operand.var))
    raise ConditionError("an operand of the condition is empty")


def _scalar(scalar: literals_pb2.Scalar, what: str) -> Any:
    kind = scalar.WhichOneof("value")
    if kind == "union":
        return _scalar(scalar.union.value.scalar, what) if scalar.union.value.HasField("scalar") else _NONE
    if kind == "none_type":
        return _NONE
    if kind == "primitive":
        return _primitive(scalar.primitive)
    raise ConditionError(f"{what} is a {kind}, not a primitive, and cannot be compared")


def _primitive(primitive: literals_pb2.Primitive) -> Any:
    kind = primitive.WhichOneof("value")
    if kind == "integer":
        return primitive.integer
    if kind == "float_value":
        return primitive.float_value
    if kind == "string_value":
        return primitive.string_value
    if kind == "boolean":
        return primitive.boolean
    if kind == "datetime":
        return primitive.datetime.ToDatetime()
    if kind == "duration":
        return primitive.duration.ToTimedelta()
    raise ConditionError("an operand is an empty primitive")
