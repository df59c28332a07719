"""``FlyteError``: what a workflow's failure handler is told about the failure (flytekit's type and name).

A failure handler (``@workflow(on_failure=handler)``) that declares ``err: Optional[FlyteError]`` receives
the id of the node that failed and its error message when the workflow fails. On the wire it is a
``Scalar.error`` literal of the ``ERROR`` simple type, tagged ``FlyteError`` inside the optional's union, as
flytekit and flytepropeller exchange it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import SIMPLE, literal_mismatch, scalar_kind, scalar_literal, simple_type
from roost.types.context import TypeContext
from roost.types.errors import mismatch
from roost.types.transformer import TypeTransformer


@dataclass(frozen=True)
class FlyteError:
    """The failure a failure handler receives: the failed node's id and its error message."""

    message: str
    failed_node_id: str


class FlyteErrorTransformer(TypeTransformer[FlyteError]):
    """``FlyteError`` ↔ ``Scalar.error`` literals of the ``ERROR`` simple type."""

    def __init__(self) -> None:
        super().__init__("FlyteError", FlyteError)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return simple_type(SIMPLE.ERROR)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(value, FlyteError):
            raise mismatch(python_type, value)
        return scalar_literal(
            error=types_pb2.Error(message=value.message, failed_node_id=value.failed_node_id)
        )

    def to_python_value(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> FlyteError:
        if scalar_kind(literal) != "error":
            raise literal_mismatch(python_type, literal)
        error = literal.scalar.error
        return FlyteError(message=error.message, failed_node_id=error.failed_node_id)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") == "simple" and literal_type.simple == SIMPLE.ERROR:
            return FlyteError
        return None
