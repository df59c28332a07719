"""Flyte's literal type rules in one place: castability, inference of a literal's type, and value
checks.

``can_cast`` follows flytepropeller's compiler (``validators/typing.go``): a type casts into another
when a value of the first may be bound where the second is declared. The rules, by the downstream
(declared) type:

- simple types match exactly (``int`` does not cast to ``float``); ``NONE`` only accepts ``NONE``;
- ``str`` accepts an enum and an enum accepts ``str``; an enum accepts an enum whose values it all
  holds;
- a structure tag on the upstream type must equal the downstream tag (union variants carry such
  tags);
- ``STRUCT`` accepts ``STRUCT``; when both carry a JSON schema in ``metadata`` (dataclasses,
  pydantic models) the upstream schema must be the same or a subtype (more required fields, same
  field types);
- collections and maps compare element types; an empty collection or map (element type ``NONE``)
  casts to any collection or map;
- blobs compare formats, an empty format being generic on either side (dimensionality is not
  compared);
- structured datasets compare formats the same way, and the downstream columns must be a subset of
  the upstream columns with castable types (no columns on either side is generic); they also accept
  ``NONE`` and legacy schemas (parquet only);
- a union accepts another union when every upstream variant casts into some downstream variant, and
  any other type when it casts into exactly one variant (so ``NONE`` goes into ``Optional[...]``);
- a union with a single variant casts wherever that variant does.

Metadata and annotations never take part, except the JSON schema of ``STRUCT`` types.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

__all__ = ["SIMPLE_NAMES", "can_cast", "describe", "literal_matches", "literal_type_of"]

_SIMPLE = types_pb2.SimpleType
_MSGPACK_TAG = "msgpack"

SIMPLE_NAMES = {
    _SIMPLE.NONE: "None",
    _SIMPLE.INTEGER: "int",
    _SIMPLE.FLOAT: "float",
    _SIMPLE.STRING: "str",
    _SIMPLE.BOOLEAN: "bool",
    _SIMPLE.DATETIME: "datetime",
    _SIMPLE.DURATION: "timedelta",
    _SIMPLE.BINARY: "binary",
    _SIMPLE.ERROR: "error",
    _SIMPLE.STRUCT: "struct",
}
"""Each simple type's name as Python writes it (``int``, ``timedelta``), for messages and pages."""

_PRIMITIVE_SIMPLE = {
    "integer": _SIMPLE.INTEGER,
    "float_value": _SIMPLE.FLOAT,
    "string_value": _SIMPLE.STRING,
    "boolean": _SIMPLE.BOOLEAN,
    "datetime": _SIMPLE.DATETIME,
    "duration": _SIMPLE.DURATION,
}

_SIMPLE_PRIMITIVE = {simple: name for name, simple in _PRIMITIVE_SIMPLE.items()}

_COLUMN = types_pb2.SchemaType.SchemaColumn.SchemaColumnType
_SCHEMA_COLUMN_SIMPLE = {
    _COLUMN.INTEGER: _SIMPLE.INTEGER,
    _COLUMN.FLOAT: _SIMPLE.FLOAT,
    _COLUMN.STRING: _SIMPLE.STRING,
    _COLUMN.BOOLEAN: _SIMPLE.BOOLEAN,
    _COLUMN.DATETIME: _SIMPLE.DATETIME,
    _COLUMN.DURATION: _SIMPLE.DURATION,
}


# -------------------------------------------------------------------------------------------------
# Castability


def can_cast(upstream: types_pb2.LiteralType, downstream: types_pb2.LiteralType) -> bool:
    """Whether a value of type ``upstream`` may be bound where ``downstream`` is declared.

    A type with no kind set (an empty ``LiteralType``) casts nowhere and accepts nothing.
    """
    up_kind = upstream.WhichOneof("type")
    down_kind = downstream.WhichOneof("type")
    if up_kind is None or down_kind is None:
        return False
    if up_kind == down_kind and upstream == downstream:
        return True
    if up_kind == "union_type" and len(upstream.union_type.variants) == 1:
        variant = upstream.union_type.variants[0]
        variant_kind = variant.WhichOneof("type")
        if variant_kind is not None and _casts_from(downstream, down_kind, variant, variant_kind):
            return True
    return _casts_from(downstream, down_kind, upstream, up_kind)


def _casts_from(down: types_pb2.LiteralType, down_kind: str, up: types_pb2.LiteralType, up_kind: str) -> bool:
    """Whether ``down`` accepts ``up`` (both of some kind), bar the single-variant union rule."""
    if down_kind == "collection_type":
        return up_kind == "collection_type" and _element_casts(up.collection_type, down.collection_type)
    if down_kind == "map_value_type":
        return up_kind == "map_value_type" and _element_casts(up.map_value_type, down.map_value_type)
    if down_kind == "blob":
        return up_kind == "blob" and _formats_match(up.blob.format, down.blob.format, ignore_case=False)
    if down_kind == "schema":
        return _schema_accepts(down.schema, up, up_kind)
    if down_kind == "structured_dataset_type":
        return _structured_dataset_accepts(down.structured_dataset_type, up, up_kind)
    if down_kind == "union_type":
        return _union_accepts(down.union_type, up, up_kind)
    if down_kind == "simple" and down.simple == _SIMPLE.NONE:
        return _is_none(up, up_kind)
    return _trivial_accepts(down, down_kind, up, up_kind)


def _is_none(literal_type: types_pb2.LiteralType, kind: str | None) -> bool:
    return kind == "simple" and literal_type.simple == _SIMPLE.NONE


def _element_casts(up: types_pb2.LiteralType, down: types_pb2.LiteralType) -> bool:
    """Element types of collections or maps; an element type NONE is an empty container."""
    up_kind = up.WhichOneof("type")
    if _is_none(up, up_kind):
        return True
    down_kind = down.WhichOneof("type")
    if up_kind is None or down_kind is None:
        return False
    return _casts_from(down, down_kind, up, up_kind)


def _formats_match(up_format: str, down_format: str, *, ignore_case: bool) -> bool:
    if not up_format or not down_format:
        return True
    if ignore_case:
        return up_format.lower() == down_format.lower()
    return up_format == down_format


def _union_accepts(down: types_pb2.UnionType, up: types_pb2.LiteralType, up_kind: str) -> bool:
    if up_kind == "union_type":
        return all(any(can_cast(u, d) for d in down.variants) for u in up.union_type.variants)
    matches = 0
    for variant in down.variants:
        if can_cast(up, variant):
            matches += 1
            if matches > 1:
                return False
    return matches == 1


def _trivial_accepts(
    down: types_pb2.LiteralType, down_kind: str, up: types_pb2.LiteralType, up_kind: str
) -> bool:
    """Simple types and enums: exact matches, plus the enum/string and STRUCT schema rules."""
    if up_kind == "enum_type" and down_kind == "simple" and down.simple == _SIMPLE.STRING:
        return True
    if down_kind == "enum_type" and up_kind == "simple" and up.simple == _SIMPLE.STRING:
        return True
    up_tag = up.structure.tag
    if up_tag and down.structure.tag != up_tag:
        return False
    if up_kind != down_kind:
        return False
    if up_kind == "simple":
        if up.simple == _SIMPLE.STRUCT and down.simple == _SIMPLE.STRUCT:
            return _struct_schemas_compatible(up, down)
        return bool(up.simple == down.simple)
    if up_kind == "enum_type":
        return set(up.enum_type.values) <= set(down.enum_type.values)
    return False


def _schema_accepts(down: types_pb2.SchemaType, up: types_pb2.LiteralType, up_kind: str) -> bool:
    if up_kind == "schema":
        return _columns_subset(
            {c.name: _SCHEMA_COLUMN_SIMPLE.get(c.type) for c in up.schema.columns},
            [(c.name, _SCHEMA_COLUMN_SIMPLE.get(c.type)) for c in down.columns],
        )
    if up_kind == "structured_dataset_type":
        dataset = up.structured_dataset_type
        # A legacy schema is always parquet.
        if dataset.format and dataset.format.lower() != "parquet":
            return False
        return _columns_subset(
            {c.name: _column_simple(c.literal_type) for c in dataset.columns},
            [(c.name, _SCHEMA_COLUMN_SIMPLE.get(c.type)) for c in down.columns],
        )
    return False


def _column_simple(literal_type: types_pb2.LiteralType) -> int | None:
    if literal_type.WhichOneof("type") != "simple":
        return None
    return int(literal_type.simple)


def _columns_subset(upstream: dict[str, int | None], downstream: list[tuple[str, int | None]]) -> bool:
    """Downstream columns are a subset of upstream ones, same types; no columns is generic."""
    if not upstream or not downstream:
        return True
    for name, column_type in downstream:
        if name not in upstream or column_type is None or upstream[name] != column_type:
            return False
    return True


def _structured_dataset_accepts(
    down: types_pb2.StructuredDatasetType, up: types_pb2.LiteralType, up_kind: str
) -> bool:
    if _is_none(up, up_kind):
        return True
    if up_kind == "schema":
        if down.format and down.format.lower() != "parquet":
            return False
        return _columns_subset(
            {c.name: _SCHEMA_COLUMN_SIMPLE.get(c.type) for c in up.schema.columns},
            [(c.name, _column_simple(c.literal_type)) for c in down.columns],
        )
    if up_kind != "structured_dataset_type":
        return False
    dataset = up.structured_dataset_type
    if not _formats_match(dataset.format, down.format, ignore_case=True):
        return False
    if not dataset.columns or not down.columns:
        return True
    upstream_columns = {c.name: c.literal_type for c in dataset.columns}
    for column in down.columns:
        upstream_type = upstream_columns.get(column.name)
        if upstream_type is None:
            return False
        up_column_kind = upstream_type.WhichOneof("type")
        down_column_kind = column.literal_type.WhichOneof("type")
        if up_column_kind is None or down_column_kind is None:
            return False
        if not _casts_from(column.literal_type, down_column_kind, upstream_type, up_column_kind):
            return False
    return True


# -------------------------------------------------------------------------------------------------
# STRUCT types with JSON schemas (dataclasses, pydantic models)


def _struct_schemas_compatible(up: types_pb2.LiteralType, down: types_pb2.LiteralType) -> bool:
    if not up.HasField("metadata") or not down.HasField("metadata"):
        # Older flytekit versions sent no schema; reference tasks still do.
        return True
    return _schema_bytes_compatible(
        up.metadata.SerializeToString(deterministic=True),
        down.metadata.SerializeToString(deterministic=True),
    )


@functools.lru_cache(maxsize=1024)
def _schema_bytes_compatible(up_bytes: bytes, down_bytes: bytes) -> bool:
    up_struct = struct_pb2.Struct.FromString(up_bytes)
    down_struct = struct_pb2.Struct.FromString(down_bytes)
    up_schema: dict[str, Any] = json_format.MessageToDict(up_struct)
    down_schema: dict[str, Any] = json_format.MessageToDict(down_struct)
    if up_schema == down_schema or not down_schema:
        return True
    return _JsonSchemaSubtype(up_schema, down_schema).check(up_schema, down_schema)


class _JsonSchemaSubtype:
    """Whether every instance of one JSON schema (draft 2020-12, as mashumaro and pydantic write
    them) is an instance of another. Keywords that only annotate (title, description, default) are
    ignored, and so are keywords this check does not model, which errs towards accepting."""

    _MAX_DEPTH = 64

    def __init__(self, up_root: dict[str, Any], down_root: dict[str, Any]) -> None:
        self._up_root = up_root
        self._down_root = down_root

    def check(self, up: Any, down: Any, depth: int = 0) -> bool:
        """``up`` ⊆ ``down``, both sub-schemas of their roots."""
        if depth > self._MAX_DEPTH:
            return True
        up = self._resolve(up, self._up_root)
        down = self._resolve(down, self._down_root)
        if down is True or down == {} or up is False:
            return True
        if not isinstance(up, dict) or not isinstance(down, dict):
            return bool(up == down)
        for keyword in ("anyOf", "oneOf"):
            if isinstance(up.get(keyword), list):
                return all(self.check(branch, down, depth + 1) for branch in up[keyword])
        for keyword in ("anyOf", "oneOf"):
            if isinstance(down.get(keyword), list):
                return any(self.check(up, branch, depth + 1) for branch in down[keyword])
        if not self._types_fit(up, down):
            return False
        if "enum" in down:
            values = up.get("enum", [up["const"]] if "const" in up else None)
            if values is None or any(v not in down["enum"] for v in values):
                return False
        if "const" in down and up.get("const", object()) != down["const"]:
            return False
        return self._objects_fit(up, down, depth) and self._arrays_fit(up, down, depth)

    def _resolve(self, schema: Any, root: dict[str, Any]) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < self._MAX_DEPTH:
            target: Any = root
            ref: str = schema["$ref"]
            if not ref.startswith("#"):
                return {}
            for part in [p for p in ref[1:].split("/") if p]:
                if not isinstance(target, dict) or part not in target:
                    return {}
                target = target[part]
            schema = target
            seen += 1
        return schema

    @staticmethod
    def _type_set(schema: dict[str, Any]) -> set[str] | None:
        declared = schema.get("type")
        if declared is None:
            return None
        return {declared} if isinstance(declared, str) else set(declared)

    def _types_fit(self, up: dict[str, Any], down: dict[str, Any]) -> bool:
        down_types = self._type_set(down)
        if down_types is None:
            return True
        up_types = self._type_set(up)
        if up_types is None:
            return "enum" in up or "const" in up
        return all(t in down_types or (t == "integer" and "number" in down_types) for t in up_types)

    def _objects_fit(self, up: dict[str, Any], down: dict[str, Any], depth: int) -> bool:
        if not set(down.get("required", [])) <= set(up.get("required", [])):
            return False
        up_props: dict[str, Any] = up.get("properties", {})
        down_props: dict[str, Any] = down.get("properties", {})
        for name, down_prop in down_props.items():
            if name in up_props:
                if not self.check(up_props[name], down_prop, depth + 1):
                    return False
            elif isinstance(up.get("additionalProperties"), dict) and not self.check(
                up["additionalProperties"], down_prop, depth + 1
            ):
                return False
        up_extra = up.get("additionalProperties")
        down_extra = down.get("additionalProperties")
        if isinstance(up_extra, dict) and isinstance(down_extra, dict):
            return self.check(up_extra, down_extra, depth + 1)
        return True

    def _arrays_fit(self, up: dict[str, Any], down: dict[str, Any], depth: int) -> bool:
        up_items = up.get("items")
        down_items = down.get("items")
        if (
            isinstance(up_items, dict)
            and isinstance(down_items, dict)
            and not self.check(up_items, down_items, depth + 1)
        ):
            return False
        up_prefix = up.get("prefixItems")
        down_prefix = down.get("prefixItems")
        if isinstance(up_prefix, list) and isinstance(down_prefix, list):
            if len(up_prefix) < len(down_prefix):
                return False
            return all(self.check(u, d, depth + 1) for u, d in zip(up_prefix, down_prefix, strict=False))
        return True


# -------------------------------------------------------------------------------------------------
# Human-readable form


def describe(literal_type: types_pb2.LiteralType) -> str:
    """A short human form of a type for messages: ``int``, ``list[int]``, ``dict[str, float]``,
    ``int | None``."""
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        name = SIMPLE_NAMES.get(literal_type.simple, "unknown")
        if literal_type.simple == _SIMPLE.STRUCT and literal_type.HasField("metadata"):
            title = literal_type.metadata.fields.get("title")
            if title is not None and title.WhichOneof("kind") == "string_value":
                return f"struct({title.string_value})"
        return name
    if kind == "collection_type":
        return f"list[{describe(literal_type.collection_type)}]"
    if kind == "map_value_type":
        return f"dict[str, {describe(literal_type.map_value_type)}]"
    if kind == "union_type":
        return " | ".join(describe(v) for v in literal_type.union_type.variants) or "union[]"
    if kind == "enum_type":
        return "enum{" + ",".join(literal_type.enum_type.values) + "}"
    if kind == "blob":
        blob = literal_type.blob
        parts = [p for p in (blob.format, "multipart" if blob.dimensionality == blob.MULTIPART else "") if p]
        return f"blob({', '.join(parts)})" if parts else "blob"
    if kind == "structured_dataset_type":
        dataset = literal_type.structured_dataset_type
        text = f"structured_dataset({dataset.format})" if dataset.format else "structured_dataset"
        if dataset.columns:
            text += "{" + ", ".join(f"{c.name}: {describe(c.literal_type)}" for c in dataset.columns) + "}"
        return text
    if kind == "schema":
        columns = literal_type.schema.columns
        if not columns:
            return "schema"
        names = {v: k.lower() for k, v in types_pb2.SchemaType.SchemaColumn.SchemaColumnType.items()}
        return "schema{" + ", ".join(f"{c.name}: {names.get(c.type, '?')}" for c in columns) + "}"
    return "unknown"


# -------------------------------------------------------------------------------------------------
# Literals


def literal_type_of(literal: literals_pb2.Literal) -> types_pb2.LiteralType:
    """The type of a literal, as propeller infers it.

    Collections and maps take their elements' type: ``NONE`` when empty, the common type when all
    elements agree, else a union of the distinct element types. A union value has a single-variant
    union type of its declared type. A literal whose type cannot be told (an empty literal, a blob
    without metadata) gives an empty ``LiteralType``, which :func:`can_cast` never accepts.
    """
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return _scalar_type(literal.scalar)
    if kind == "collection":
        return types_pb2.LiteralType(collection_type=_common_type(literal.collection.literals))
    if kind == "map":
        return types_pb2.LiteralType(map_value_type=_common_type(literal.map.literals.values()))
    if kind == "offloaded_metadata":
        inferred = types_pb2.LiteralType()
        inferred.CopyFrom(literal.offloaded_metadata.inferred_type)
        return inferred
    return types_pb2.LiteralType()


def _scalar_type(scalar: literals_pb2.Scalar) -> types_pb2.LiteralType:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return types_pb2.LiteralType(
            simple=_PRIMITIVE_SIMPLE.get(str(scalar.primitive.WhichOneof("value")), _SIMPLE.NONE)
        )
    if kind == "none_type":
        return types_pb2.LiteralType(simple=_SIMPLE.NONE)
    if kind == "blob":
        if not scalar.blob.HasField("metadata"):
            return types_pb2.LiteralType()
        return types_pb2.LiteralType(blob=scalar.blob.metadata.type)
    if kind == "binary":
        simple = _SIMPLE.STRUCT if scalar.binary.tag == _MSGPACK_TAG else _SIMPLE.BINARY
        return types_pb2.LiteralType(simple=simple)
    if kind == "generic":
        return types_pb2.LiteralType(simple=_SIMPLE.STRUCT)
    if kind == "error":
        return types_pb2.LiteralType(simple=_SIMPLE.ERROR)
    if kind == "schema":
        return types_pb2.LiteralType(schema=scalar.schema.type)
    if kind == "structured_dataset":
        return types_pb2.LiteralType(
            structured_dataset_type=scalar.structured_dataset.metadata.structured_dataset_type
        )
    if kind == "union":
        return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[scalar.union.type]))
    return types_pb2.LiteralType()


def _common_type(literals: Any) -> types_pb2.LiteralType:
    distinct: dict[bytes, types_pb2.LiteralType] = {}
    empty_collection: types_pb2.LiteralType | None = None
    for item in literals:
        item_type = literal_type_of(item)
        if item.WhichOneof("value") == "collection" and not item.collection.literals:
            # An empty nested list tells the element type only when nothing else does.
            empty_collection = item_type
            continue
        distinct.setdefault(item_type.SerializeToString(deterministic=True), item_type)
    if not distinct:
        return (
            empty_collection if empty_collection is not None else types_pb2.LiteralType(simple=_SIMPLE.NONE)
        )
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    variants = [distinct[key] for key in sorted(distinct)]
    return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))


def literal_matches(literal: literals_pb2.Literal, literal_type: types_pb2.LiteralType) -> bool:
    """Whether a value is acceptable where ``literal_type`` is declared.

    The same rules as ``can_cast(literal_type_of(literal), literal_type)``, with two refinements a
    value allows: every element of a collection or map is checked on its own against the element
    type, and a string bound to an enum must be one of the enum's values.
    """
    kind: str | None = literal_type.WhichOneof("type")
    if kind is None:
        return False
    value_kind = literal.WhichOneof("value")
    if value_kind == "scalar":
        scalar = literal.scalar
        scalar_kind = scalar.WhichOneof("value")
        if scalar_kind == "primitive":
            primitive_kind = scalar.primitive.WhichOneof("value")
            if kind == "simple":
                return bool(_PRIMITIVE_SIMPLE.get(str(primitive_kind), _SIMPLE.NONE) == literal_type.simple)
            if kind == "enum_type":
                return primitive_kind == "string_value" and (
                    scalar.primitive.string_value in literal_type.enum_type.values
                )
            if kind == "union_type":
                return _one_variant_matches(literal, literal_type.union_type)
            return False
        if scalar_kind == "none_type":
            if kind == "simple":
                return bool(literal_type.simple == _SIMPLE.NONE)
            if kind == "union_type":
                return _one_variant_matches(literal, literal_type.union_type)
            return kind == "structured_dataset_type"
    elif value_kind == "collection":
        if kind == "collection_type":
            return _all_match(literal.collection.literals, literal_type.collection_type)
        if kind == "union_type":
            return _one_variant_matches(literal, literal_type.union_type)
        return False
    elif value_kind == "map":
        if kind == "map_value_type":
            return _all_match(literal.map.literals.values(), literal_type.map_value_type)
        if kind == "union_type":
            return _one_variant_matches(literal, literal_type.union_type)
        return False
    return can_cast(literal_type_of(literal), literal_type)


def matcher(literal_type: types_pb2.LiteralType) -> Callable[[literals_pb2.Literal], bool]:
    """:func:`literal_matches` for one type, quicker for simple types (for checking many values: the outputs of
    a map's indices)."""
    primitive = _SIMPLE_PRIMITIVE.get(literal_type.simple) if literal_type.HasField("simple") else None
    if primitive is None:
        return lambda literal: literal_matches(literal, literal_type)

    def match(literal: literals_pb2.Literal) -> bool:
        # An unset message reads as empty: only a primitive literal of this kind has the field set.
        return literal.scalar.primitive.WhichOneof("value") == primitive or literal_matches(
            literal, literal_type
        )

    return match


def _all_match(items: Iterable[literals_pb2.Literal], element_type: types_pb2.LiteralType) -> bool:
    """Every item matches; items of a simple type are checked inline, lists being long."""
    primitive = _SIMPLE_PRIMITIVE.get(element_type.simple) if element_type.HasField("simple") else None
    for item in items:
        # An unset message reads as empty: only a primitive literal of this kind has the field set.
        if primitive is not None and item.scalar.primitive.WhichOneof("value") == primitive:
            continue
        if not literal_matches(item, element_type):
            return False
    return True


def _one_variant_matches(literal: literals_pb2.Literal, union: types_pb2.UnionType) -> bool:
    matches = 0
    for variant in union.variants:
        if literal_matches(literal, variant):
            matches += 1
            if matches > 1:
                return False
    return matches == 1
