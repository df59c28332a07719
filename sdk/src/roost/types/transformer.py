"""The transformer contract: how one kind of Python type becomes a flyteidl ``LiteralType`` and ``Literal``.

A transformer says which Python types it handles in one of three ways:

- ``python_type`` (and :meth:`TypeTransformer.handled_types`): classes it handles, themselves and their
  subclasses. A class can be named by a string ``"package.Name"`` so that registering it does not import
  the package: the name is looked up only once ``package`` has been imported by someone else (a
  ``pandas.DataFrame`` annotation can only exist once pandas is imported);
- :meth:`TypeTransformer.handles`: a predicate, for families of types without a common base class
  (dataclasses), when ``python_type`` is ``None``;
- ``fallback = True``: the transformer used when nothing else matches (pickle).

``name`` is the tag a union variant of this type carries in ``LiteralType.structure.tag``; Roost's built-in
transformers use flytekit's names so that union values pass between the two both ways.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from flyteidl.core import literals_pb2, types_pb2

from roost.types.errors import InvalidLiteralError, UnsupportedTypeError, type_name

if TYPE_CHECKING:
    from roost.types.context import TypeContext
    from roost.types.engine import TypeEngine

T = TypeVar("T")


class TypeTransformer(Generic[T]):
    """Converts values of some Python types to flyteidl literals and back.

    Subclasses implement :meth:`get_literal_type`, :meth:`to_literal` and :meth:`to_python_value`, and may
    implement :meth:`guess_python_type` and the struct-data methods (used when the type is a field of a
    dataclass, or when a literal arrives as msgpack or a protobuf ``Struct``). Once registered with a
    :class:`~roost.types.engine.TypeEngine`, :attr:`engine` converts nested types.
    """

    fallback: ClassVar[bool] = False
    """Whether this transformer takes every type no other transformer handles."""

    def __init__(self, name: str, python_type: type[Any] | str | None) -> None:
        self.name = name
        self.python_type = python_type
        self._engine: TypeEngine | None = None

    @property
    def engine(self) -> TypeEngine:
        """The engine this transformer is registered with, for nested types."""
        if self._engine is None:
            raise RuntimeError(f"type transformer {self.name!r} is not registered with a TypeEngine")
        return self._engine

    def bind(self, engine: TypeEngine) -> None:
        """Called by :meth:`TypeEngine.register`; a transformer serves one engine only."""
        if self._engine is not None and self._engine is not engine:
            raise ValueError(
                f"type transformer {self.name!r} is already registered with another TypeEngine; "
                "register a new instance instead"
            )
        self._engine = engine

    def handled_types(self) -> tuple[type[Any] | str, ...]:
        """Every class this transformer handles (with subclasses); by default just ``python_type``."""
        return () if self.python_type is None else (self.python_type,)

    def handles(self, python_type: Any) -> bool:
        """For predicate transformers (``python_type`` is ``None``): whether ``python_type`` is theirs."""
        return False

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """The flyteidl type of ``python_type``."""
        raise NotImplementedError

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        """The literal for ``value``, declared as ``python_type`` (whose literal type is ``expected``).

        Raise :class:`~roost.types.errors.InvalidValueError` when the value does not fit.
        """
        raise NotImplementedError

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> T:
        """The Python value of ``literal`` as ``python_type``.

        Raise :class:`~roost.types.errors.InvalidLiteralError` when the literal does not fit.
        """
        raise NotImplementedError

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        """A Python type for ``literal_type``, or ``None`` when this transformer does not know it."""
        return None

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        """Plain msgpack-able data for ``value`` as a dataclass field (flytekit's mashumaro encoding)."""
        raise UnsupportedTypeError(
            f"{type_name(python_type)} cannot be a field of a dataclass or a value inside a struct",
            python_type=python_type,
        )

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> T:
        """The inverse of :meth:`to_struct_data`; also reads literals that arrive as msgpack binaries or
        protobuf ``Struct`` values (attribute access on a dataclass, console input)."""
        raise InvalidLiteralError(
            f"{type_name(python_type)} cannot be read from struct data", python_type=python_type, value=data
        )

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        """The JSON schema (draft 2020-12, mashumaro's shape) of ``python_type`` as a dataclass field."""
        raise UnsupportedTypeError(
            f"{type_name(python_type)} cannot be a field of a dataclass", python_type=python_type
        )

    def __repr__(self) -> str:
        handled = ", ".join(type_name(t) for t in self.handled_types()) or "a predicate"
        return f"<{type(self).__name__} {self.name!r} for {handled}>"


def unwrap_annotated(python_type: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(base type, annotations)`` of an ``Annotated[...]`` type; other types come back with ``()``."""
    if typing.get_origin(python_type) is typing.Annotated:
        base, *extras = typing.get_args(python_type)
        return base, tuple(extras)
    return python_type, ()
