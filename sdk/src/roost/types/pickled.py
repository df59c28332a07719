"""The fallback: values of types no transformer handles travel pickled, in flytekit's ``PythonPickle`` blob.

The engine warns once per type (:class:`~roost.types.errors.PickleFallbackWarning`) except for
``typing.Any``. Values are written with cloudpickle (so classes defined in ``__main__`` or inside functions
work) and read with :func:`pickle.loads`. Unpickling runs code from the data: read pickles only from runs you
trust, and with the same Python and library versions that wrote them.
"""

from __future__ import annotations

import hashlib
import pickle
import typing
from typing import Any, ClassVar

from flyteidl.core import literals_pb2, types_pb2

from roost.types._optional import load
from roost.types._protos import SINGLE, blob_literal, literal_mismatch, scalar_kind, to_struct
from roost.types.containers import plain_data
from roost.types.context import TypeContext
from roost.types.errors import InvalidValueError, type_name
from roost.types.transformer import TypeTransformer, unwrap_annotated

PYTHON_PICKLE_FORMAT = "PythonPickle"


class PickleTransformer(TypeTransformer[Any]):
    """Any type ↔ a ``PythonPickle`` blob (the fallback)."""

    fallback: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__("FlytePickle", None)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(
            blob=types_pb2.BlobType(format=PYTHON_PICKLE_FORMAT, dimensionality=SINGLE),
            metadata=to_struct({"python_class_name": str(python_type)}),
        )

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        cloudpickle = load("cloudpickle")

        if value is None:
            raise InvalidValueError(
                f"expected {type_name(python_type)} but got None: None cannot be pickled",
                python_type=python_type,
                value=value,
            )
        data = cloudpickle.dumps(value)
        uri = ctx.write(ctx.new_remote_path(hashlib.md5(data, usedforsecurity=False).hexdigest()), data)
        return blob_literal(uri, PYTHON_PICKLE_FORMAT, SINGLE)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        if scalar_kind(literal) != "blob" or literal.scalar.blob.metadata.type.format != PYTHON_PICKLE_FORMAT:
            raise literal_mismatch(python_type, literal, "values of this type travel as pickles")
        return pickle.loads(ctx.read(literal.scalar.blob.uri))

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if (
            literal_type.WhichOneof("type") == "blob"
            and literal_type.blob.format == PYTHON_PICKLE_FORMAT
            and literal_type.blob.dimensionality == SINGLE
        ):
            return typing.Any
        return None

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        if not _is_any(python_type):
            return super().to_struct_data(ctx, value, python_type)
        return plain_data(value, python_type)

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        if not _is_any(python_type):
            return super().from_struct_data(ctx, data, python_type)
        return data

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        if not _is_any(python_type):
            return super().json_schema(python_type)
        return {}


def _is_any(python_type: Any) -> bool:
    base, _ = unwrap_annotated(python_type)
    return base is typing.Any
