"""``numpy.ndarray`` ↔ a single blob in numpy's ``.npy`` format (flytekit's ``NumpyArray`` blob format).

Registered by name, so numpy is imported only once an array is converted.
``Annotated[np.ndarray, {"allow_pickle": True}]`` allows object arrays, which are pickled inside the file.
"""

from __future__ import annotations

import io
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._optional import load
from roost.types._protos import SINGLE, blob_literal, literal_mismatch, scalar_kind
from roost.types.context import TypeContext
from roost.types.errors import InvalidValueError, mismatch
from roost.types.transformer import TypeTransformer, unwrap_annotated

NUMPY_ARRAY_FORMAT = "NumpyArray"


def _allow_pickle(python_type: Any) -> bool:
    _, annotations = unwrap_annotated(python_type)
    return any(isinstance(a, dict) and bool(a.get("allow_pickle")) for a in annotations)


class NumpyArrayTransformer(TypeTransformer[Any]):
    """``numpy.ndarray`` ↔ ``NumpyArray`` blobs."""

    def __init__(self) -> None:
        super().__init__("Numpy Array", "numpy.ndarray")

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(
            blob=types_pb2.BlobType(format=NUMPY_ARRAY_FORMAT, dimensionality=SINGLE)
        )

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        numpy = load("numpy")

        if not isinstance(value, numpy.ndarray):
            raise mismatch(python_type, value)
        buffer = io.BytesIO()
        try:
            numpy.save(buffer, value, allow_pickle=_allow_pickle(python_type))
        except ValueError as exc:
            raise InvalidValueError(
                f"cannot store the array: {exc} (declare Annotated[np.ndarray, {{'allow_pickle': True}}] to allow it)",
                python_type=python_type,
                value=value,
            ) from None
        uri = ctx.write(ctx.new_remote_path(f"{ctx.unique_name()}.npy"), buffer.getvalue())
        return blob_literal(uri, NUMPY_ARRAY_FORMAT, SINGLE)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        numpy = load("numpy")

        if scalar_kind(literal) != "blob" or literal.scalar.blob.metadata.type.dimensionality != SINGLE:
            raise literal_mismatch(python_type, literal)
        data = ctx.read(literal.scalar.blob.uri)
        try:
            return numpy.load(io.BytesIO(data), allow_pickle=_allow_pickle(python_type))
        except ValueError as exc:
            raise literal_mismatch(python_type, literal, str(exc)) from None

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if (
            literal_type.WhichOneof("type") != "blob"
            or literal_type.blob.format != NUMPY_ARRAY_FORMAT
            or literal_type.blob.dimensionality != SINGLE
        ):
            return None
        try:
            numpy = load("numpy")
        except ImportError:
            return None
        return numpy.ndarray
