"""``Iterator[T]``: a task may return an iterator (a generator) and take one, as in flytekit.

On the wire it is a collection of ``T`` (flytekit's "Typed Iterator": ``collection_type`` of ``T``), so it
passes to tasks declaring ``list[T]`` too. A returned iterator is consumed once when the task ends; a task
taking ``Iterator[T]`` gets an iterator that converts each element only when it is reached.
"""

from __future__ import annotations

import collections.abc
import typing
from collections.abc import Iterator
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import literal_mismatch
from roost.types.context import TypeContext
from roost.types.errors import TypeTransformerError, mismatch
from roost.types.transformer import TypeTransformer, unwrap_annotated


def _element_type(python_type: Any) -> Any:
    base, _ = unwrap_annotated(python_type)
    args = typing.get_args(base)
    return args[0] if args else Any


class LiteralIterator(Iterator[Any]):
    """The elements of a collection literal, converted one at a time; ``len()`` tells how many there are."""

    def __init__(
        self, transformer: TypeTransformer[Any], ctx: TypeContext, literal: literals_pb2.Literal, element: Any
    ):
        self._transformer = transformer
        self._ctx = ctx
        self._items = literal.collection.literals
        self._element = element
        self._index = 0

    def __len__(self) -> int:
        return len(self._items)

    def __next__(self) -> Any:
        if self._index >= len(self._items):
            raise StopIteration
        index = self._index
        self._index += 1
        try:
            return self._transformer.engine.to_python_value(self._ctx, self._items[index], self._element)
        except TypeTransformerError as exc:
            exc.inside(f"[{index}]")
            raise


class IteratorTransformer(TypeTransformer[Iterator[Any]]):
    """``Iterator[T]`` (and generators) ↔ collections of ``T``."""

    def __init__(self) -> None:
        super().__init__("Typed Iterator", collections.abc.Iterator)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(collection_type=self.engine.to_literal_type(_element_type(python_type)))

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if not isinstance(value, collections.abc.Iterable) or isinstance(value, (str, bytes, dict)):
            raise mismatch(python_type, value)
        # Consumed once, then converted as the list it amounts to (element errors name their position).
        return self.engine.to_literal(ctx, list(value), list[_element_type(python_type)], expected)  # type: ignore[misc]

    def to_python_value(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> Iterator[Any]:
        if literal.WhichOneof("value") != "collection":
            raise literal_mismatch(python_type, literal)
        return LiteralIterator(self, ctx, literal, _element_type(python_type))
