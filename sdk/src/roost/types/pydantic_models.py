"""The pydantic v2 transformer: models ↔ msgpack ``STRUCT`` literals, as flytekit encodes them.

Registered by the name ``pydantic.BaseModel``, so pydantic is never imported by Roost: the transformer is
only reached for a model class, which means pydantic is already loaded. The literal type carries the
model's own JSON schema (``model_json_schema()``); the value is the msgpack of ``model_dump_json()``'s JSON,
read back with ``model_validate_json``. Roost's ``File``, ``Directory`` and ``StructuredDataset`` fields are
converted by the type engine while a model is dumped or read (:mod:`roost.types.pydantic_fields`).
"""

from __future__ import annotations

import json
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._optional import load
from roost.types._protos import (
    SIMPLE,
    data_mismatch,
    literal_mismatch,
    msgpack_annotation,
    msgpack_literal,
    simple_type,
    to_struct,
)
from roost.types.context import TypeContext
from roost.types.errors import TypeTransformerError, mismatch
from roost.types.pydantic_fields import serving
from roost.types.transformer import TypeTransformer, unwrap_annotated


class PydanticTransformer(TypeTransformer[Any]):
    """Subclasses of ``pydantic.BaseModel`` ↔ msgpack ``STRUCT`` literals."""

    def __init__(self) -> None:
        super().__init__("Pydantic Transformer", "pydantic.BaseModel")

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        model, _ = unwrap_annotated(python_type)
        literal_type = simple_type(SIMPLE.STRUCT)
        literal_type.metadata.CopyFrom(to_struct(model.model_json_schema()))
        for name, field in model.model_fields.items():
            # As flytekit: fields without a Flyte type (pydantic accepts many more) are left out of the
            # attribute-access structure; the value still carries them.
            try:
                field_type = self.engine.to_literal_type(field.annotation)
            except TypeTransformerError:
                continue
            literal_type.structure.dataclass_type[name].CopyFrom(field_type)
        literal_type.annotation.CopyFrom(msgpack_annotation())
        return literal_type

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        return msgpack_literal(self.to_struct_data(ctx, value, python_type))

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        raise literal_mismatch(python_type, literal)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        model, _ = unwrap_annotated(python_type)
        if not isinstance(value, model):
            raise mismatch(python_type, value)
        with serving(ctx, self.engine):
            return json.loads(value.model_dump_json())

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        pydantic = load("pydantic")

        model, _ = unwrap_annotated(python_type)
        try:
            with serving(ctx, self.engine):
                return model.model_validate_json(json.dumps(data), strict=False)
        except pydantic.ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}"
                for error in exc.errors()
            )
            raise data_mismatch(python_type, data, detail) from None
