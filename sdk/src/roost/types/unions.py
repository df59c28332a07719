"""The transformer of ``Union[...]``, ``Optional[T]`` and ``A | B``, with flytekit's union literals.

The literal type is a ``UnionType`` whose variants carry their transformer's name as
``structure.tag``. A value becomes a union literal holding the variant's literal and its tagged type.

Writing tries every variant; exactly one must accept the value, except that a ``str`` value matching both
``str`` and an enum goes to ``str``. Reading a union literal uses the variant whose transformer has the
stored tag and whose type the stored type casts to; reading a plain literal tries every variant, and exactly
one must succeed.
"""

from __future__ import annotations

import typing
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import data_mismatch, literal_mismatch, scalar_kind, scalar_literal, with_tag
from roost.types.context import TypeContext
from roost.types.errors import (
    InvalidLiteralError,
    InvalidValueError,
    TypeTransformerError,
    mismatch,
    type_name,
)
from roost.types.transformer import TypeTransformer, unwrap_annotated


def _variants(python_type: Any) -> tuple[Any, ...]:
    base, _ = unwrap_annotated(python_type)
    return typing.get_args(base)


class UnionTransformer(TypeTransformer[Any]):
    """``Union[...]`` / ``Optional[...]`` ↔ flytekit's tagged union literals."""

    def __init__(self) -> None:
        super().__init__("Typed Union", typing.Union)  # type: ignore[arg-type]

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        variants = [
            with_tag(self.engine.to_literal_type(v), self.engine.get_transformer(v).name)
            for v in _variants(python_type)
        ]
        return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        variants = _variants(python_type)
        expected_variants = list(expected.union_type.variants)
        matches: list[tuple[Any, literals_pb2.Literal, types_pb2.LiteralType]] = []
        reasons: list[str] = []
        for index, variant in enumerate(variants):
            transformer = self.engine.get_transformer(variant)
            variant_expected = (
                expected_variants[index]
                if len(expected_variants) == len(variants)
                else self.engine.to_literal_type(variant)
            )
            try:
                literal = self.engine.to_literal(ctx, value, variant, variant_expected)
            except TypeTransformerError as exc:
                if not _plain_mismatch(exc):
                    reasons.append(f"as {type_name(variant)}: {exc}")
                continue
            stored = with_tag(transformer.get_literal_type(variant), transformer.name)
            matches.append((variant, literal, stored))
        if len(matches) > 1 and type(value) is str:
            # A string that is also an enum value goes to the str variant.
            matches = [m for m in matches if m[0] is str] or matches
        if not matches:
            raise mismatch(python_type, value, "; ".join(reasons))
        if len(matches) > 1:
            names = ", ".join(type_name(m[0]) for m in matches)
            raise InvalidValueError(
                f"{type_name(python_type)} is ambiguous for {type(value).__qualname__}: it fits {names}",
                python_type=python_type,
                value=value,
            )
        _, literal, stored = matches[0]
        return scalar_literal(union=literals_pb2.Union(value=literal, type=stored))

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        variants = _variants(python_type)
        if scalar_kind(literal) == "union":
            stored = literal.scalar.union.type
            inner = literal.scalar.union.value
            tag = stored.structure.tag
            if tag:
                candidates = [
                    v
                    for v in variants
                    if self.engine.get_transformer(v).name == tag
                    and _castable(stored, self.engine.to_literal_type(v))
                ]
                if not candidates:
                    raise literal_mismatch(
                        python_type, literal, f"no variant has the tag {tag!r} and its type"
                    )
                return self._read_one(ctx, inner, candidates, python_type, literal)
            return self._read_one(ctx, inner, list(variants), python_type, literal)
        return self._read_one(ctx, literal, list(variants), python_type, literal)

    def _read_one(
        self,
        ctx: TypeContext,
        literal: literals_pb2.Literal,
        candidates: list[Any],
        python_type: Any,
        outer: literals_pb2.Literal,
    ) -> Any:
        results: list[tuple[Any, Any]] = []
        reasons: list[str] = []
        for variant in candidates:
            try:
                results.append((variant, self.engine.to_python_value(ctx, literal, variant)))
            except TypeTransformerError as exc:
                reasons.append(f"as {type_name(variant)}: {exc.reason}")
        if len(results) == 1:
            return results[0][1]
        if not results:
            raise literal_mismatch(python_type, outer, "; ".join(reasons))
        names = ", ".join(type_name(v) for v, _ in results)
        raise InvalidLiteralError(
            f"{type_name(python_type)} is ambiguous for this literal: it can be read as {names}",
            python_type=python_type,
            value=outer,
        )

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") != "union_type":
            return None
        guessed = tuple(self.engine.guess_python_type(v) for v in literal_type.union_type.variants)
        return typing.Union[guessed]  # noqa: UP007 -- built from a runtime tuple

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        reasons = []
        for variant in _variants(python_type):
            try:
                return self.engine.to_struct_data(ctx, value, variant)
            except TypeTransformerError as exc:
                if not _plain_mismatch(exc):
                    reasons.append(f"as {type_name(variant)}: {exc}")
        raise mismatch(python_type, value, "; ".join(reasons))

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        # mashumaro's rule: the first variant that reads the data wins.
        reasons = []
        for variant in _variants(python_type):
            try:
                return self.engine.from_struct_data(ctx, data, variant)
            except TypeTransformerError as exc:
                reasons.append(f"as {type_name(variant)}: {exc.reason}")
        raise data_mismatch(python_type, data, "; ".join(reasons))

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        return {"anyOf": [self.engine.json_schema(v) for v in _variants(python_type)]}


def _plain_mismatch(error: TypeTransformerError) -> bool:
    """Whether a variant refused a value only because its type differs (not worth reporting)."""
    return isinstance(error, InvalidValueError) and error.type_mismatch and not error.path


def _essence(literal_type: types_pb2.LiteralType) -> types_pb2.LiteralType:
    """The type without metadata, structure and annotation (top level only), as flytekit compares them."""
    essence = types_pb2.LiteralType()
    essence.CopyFrom(literal_type)
    essence.ClearField("metadata")
    essence.ClearField("structure")
    essence.ClearField("annotation")
    return essence


def _castable(upstream: types_pb2.LiteralType, downstream: types_pb2.LiteralType) -> bool:
    """flytekit's check that a union literal's stored type fits a variant (``_are_types_castable``)."""
    up_kind = upstream.WhichOneof("type")
    down_kind = downstream.WhichOneof("type")
    if up_kind == "union_type":
        return all(_castable(v, downstream) for v in upstream.union_type.variants)
    if down_kind == "union_type" and any(_castable(upstream, v) for v in downstream.union_type.variants):
        return True
    if up_kind == "collection_type":
        return down_kind == "collection_type" and _castable(
            upstream.collection_type, downstream.collection_type
        )
    if up_kind == "map_value_type":
        return down_kind == "map_value_type" and _castable(upstream.map_value_type, downstream.map_value_type)
    if up_kind == "structured_dataset_type":
        if down_kind != "structured_dataset_type":
            return False
        up_sd, down_sd = upstream.structured_dataset_type, downstream.structured_dataset_type
        if (up_sd.format, up_sd.external_schema_type, up_sd.external_schema_bytes) != (
            down_sd.format,
            down_sd.external_schema_type,
            down_sd.external_schema_bytes,
        ) or len(up_sd.columns) != len(down_sd.columns):
            return False
        return all(
            u.name == d.name and _castable(u.literal_type, d.literal_type)
            for u, d in zip(up_sd.columns, down_sd.columns, strict=True)
        )
    if up_kind == "enum_type" and down_kind == "simple" and downstream.simple == types_pb2.SimpleType.STRING:
        return True
    return bool(_essence(upstream) == _essence(downstream))
