"""The type engine: a registry of transformers, and conversions between Python and flyteidl literals.

A :class:`TypeEngine` picks the transformer of a Python type in this order:

1. the type's own class (``Annotated[...]`` is looked through; ``list[int]`` is looked up as ``list``;
   unions and ``Literal[...]`` have transformers of their own);
2. predicate transformers (enums, dataclasses), in registration order;
3. the nearest registered base class, walking the MRO (a subclass of ``int`` uses the ``int`` transformer,
   a pydantic model the ``pydantic.BaseModel`` one);
4. the fallback transformer (pickle), with a :class:`~roost.types.errors.PickleFallbackWarning` naming the
   type (``typing.Any`` is pickled without a warning: that is what it asks for).

Data frame types are handled by the structured-dataset transformer, through the encoders and decoders in
:attr:`TypeEngine.datasets` (:mod:`roost.types.dataset_handlers`).

Roost's own transformers and data frame kinds are registered through the ``roost_type_transformers`` and
``roost_structured_dataset_handlers`` hooks of :mod:`roost.types.builtin`, the same hooks outside plugins
implement. The module-level functions use a process-wide engine (:func:`default_engine`) holding those of every
installed plugin, which :func:`set_default_engine` may replace.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgpack
from flyteidl.core import interface_pb2, literals_pb2, types_pb2

from roost.hashing import HashMethod, hash_method_of
from roost.types import builtin
from roost.types._protos import MSGPACK, from_struct, literal_mismatch, scalar_kind
from roost.types.context import TypeContext
from roost.types.dataset_handlers import DatasetHandler, DatasetHandlers, resolve_class_name
from roost.types.errors import (
    InvalidLiteralError,
    InvalidValueError,
    PickleFallbackWarning,
    TypeTransformerError,
    UnsupportedTypeError,
    VariableError,
    type_name,
)
from roost.types.simple import primitive_field
from roost.types.transformer import TypeTransformer, unwrap_annotated
from roost_core.literal_types import describe

if TYPE_CHECKING:
    from roost.plugins.manager import SdkPlugins

__all__ = [
    "TypeEngine",
    "default_engine",
    "guess_python_type",
    "interface_of",
    "kwargs_from_literal_map",
    "literal_map_from_kwargs",
    "register_dataset_handler",
    "set_default_engine",
    "to_literal",
    "to_literal_type",
    "to_python_value",
]


class TypeEngine:
    """A registry of :class:`~roost.types.transformer.TypeTransformer` and the conversions built on it.

    ``TypeEngine()`` is empty; :meth:`with_builtins` has Roost's own transformers.
    """

    def __init__(self) -> None:
        self._transformers: list[TypeTransformer[Any]] = []
        self._by_type: dict[Any, TypeTransformer[Any]] = {}
        self._lazy: dict[str, TypeTransformer[Any]] = {}
        self._predicates: list[TypeTransformer[Any]] = []
        self._fallback: TypeTransformer[Any] | None = None
        self._modules_seen = 0
        self._found: dict[Any, TypeTransformer[Any]] = {}
        self._literal_types: dict[Any, types_pb2.LiteralType] = {}
        self._lock = threading.RLock()
        self.datasets = DatasetHandlers()
        """The structured-dataset encoders and decoders (see :meth:`register_dataset_handler`)."""

    @classmethod
    def with_builtins(cls) -> TypeEngine:
        """An engine with Roost's built-in transformers and data frame kinds, registered through their hooks."""
        engine = cls()
        builtin.roost_type_transformers(register=engine.register)
        builtin.roost_structured_dataset_handlers(register=engine.register_dataset_handler)
        return engine

    @classmethod
    def from_plugins(cls, plugins: SdkPlugins) -> TypeEngine:
        """An engine with the transformers and data frame kinds of every plugin (the built-ins among them).

        A registration the engine refuses (a type two plugins claim) is reported and left out.
        """
        engine = cls()
        for hook, register in (
            ("roost_type_transformers", engine.register),
            ("roost_structured_dataset_handlers", engine.register_dataset_handler),
        ):
            for call in plugins.calls(hook):
                try:
                    register(*call.args, **call.kwargs)
                except (TypeError, ValueError) as exc:
                    plugins.report(
                        call.plugin, f"made a registration the type engine refuses ({hook}): {exc}"
                    )
        return engine

    # ---------------------------------------------------------------------------------------------
    # Registry

    def register(self, transformer: TypeTransformer[Any]) -> None:
        """Add a transformer. A class (or class name) another transformer already handles is an error."""
        with self._lock:
            handled = transformer.handled_types()
            if transformer.fallback:
                if self._fallback is not None:
                    raise ValueError(
                        f"cannot register {transformer!r} as the fallback transformer: "
                        f"{self._fallback!r} already is"
                    )
            elif not handled and type(transformer).handles is TypeTransformer.handles:
                raise ValueError(
                    f"{transformer!r} handles nothing: give it a python_type or override handles()"
                )
            for python_type in handled:
                existing = self._lazy.get(python_type) if isinstance(python_type, str) else None
                existing = existing or self._by_type.get(python_type)
                if existing is not None:
                    raise ValueError(
                        f"cannot register {transformer!r}: {type_name(python_type)} is already handled by "
                        f"{existing!r}"
                    )
            transformer.bind(self)
            self._modules_seen = 0
            for python_type in handled:
                if isinstance(python_type, str):
                    self._lazy[python_type] = transformer
                else:
                    self._by_type[python_type] = transformer
            if transformer.fallback:
                self._fallback = transformer
            elif not handled:
                self._predicates.append(transformer)
            self._transformers.append(transformer)
            self._found.clear()
            self._literal_types.clear()

    def register_dataset_handler(
        self, handler: DatasetHandler, *, default_format: bool = False, default_protocol: bool = False
    ) -> None:
        """Add a structured-dataset encoder or decoder; its Python type is then converted by the
        structured-dataset transformer (which must be registered). A type another transformer handles, or a
        second handler for the same type, protocol and format, is an error."""
        from roost.types.structured import StructuredDataset

        with self._lock:
            datasets = self._by_type.get(StructuredDataset)
            if datasets is None:
                raise ValueError(
                    f"cannot register {handler!r}: this engine has no StructuredDataset transformer"
                )
            python_type = handler.python_type
            if isinstance(python_type, str):
                python_type = resolve_class_name(python_type) or python_type
            existing = (
                self._lazy.get(python_type)
                if isinstance(python_type, str)
                else self._by_type.get(python_type)
            )
            if existing is not None and existing is not datasets:
                raise ValueError(
                    f"cannot register {handler!r}: {type_name(python_type)} is already handled by {existing!r}"
                )
            self.datasets.add(handler, default_format=default_format, default_protocol=default_protocol)
            if isinstance(python_type, str):
                self._lazy[python_type] = datasets
                self._modules_seen = 0
            else:
                self._by_type[python_type] = datasets
            self._found.clear()
            self._literal_types.clear()

    @property
    def transformers(self) -> tuple[TypeTransformer[Any], ...]:
        """Every registered transformer, in registration order."""
        return tuple(self._transformers)

    def get_transformer(self, python_type: Any) -> TypeTransformer[Any]:
        """The transformer that handles ``python_type`` (see the module docstring for the order)."""
        # Class names can only resolve once a module was imported, so look again only when one was.
        if self._lazy and len(sys.modules) != self._modules_seen:
            self._resolve_lazy_names()
        try:
            return self._found[python_type]
        except (KeyError, TypeError):
            pass
        transformer = self._find(python_type)
        # Unhashable annotations (a dict of columns) are looked up every time.
        with contextlib.suppress(TypeError):
            self._found[python_type] = transformer
        return transformer

    def _resolve_lazy_names(self) -> None:
        """Turn class names into classes once their module has been imported (by someone else)."""
        with self._lock:
            self._modules_seen = len(sys.modules)
            for name in [n for n in self._lazy if n.rpartition(".")[0] in sys.modules]:
                resolved = resolve_class_name(name)
                if resolved is None:
                    # The module is still being imported; try again on a later lookup.
                    self._modules_seen = 0
                    continue
                transformer = self._lazy.pop(name)
                self._by_type.setdefault(resolved, transformer)
                self._found.clear()
                self._literal_types.clear()

    def _find(self, python_type: Any) -> TypeTransformer[Any]:
        base, _ = unwrap_annotated(python_type)
        if base is None:
            base = type(None)
        origin = typing.get_origin(base)
        if origin is typing.Union or isinstance(base, types.UnionType):
            base = typing.Union
        elif origin is typing.Literal:
            base = typing.Literal
        elif origin is not None:
            base = origin
        try:
            found = self._by_type.get(base)
        except TypeError:
            found = None
        if found is not None:
            return found
        for predicate in self._predicates:
            if predicate.handles(base):
                return predicate
        if isinstance(base, type):
            for ancestor in base.__mro__[1:]:
                if ancestor is not object and ancestor in self._by_type:
                    return self._by_type[ancestor]
        if self._fallback is None:
            raise UnsupportedTypeError(
                f"no type transformer handles {type_name(python_type)}", python_type=python_type
            )
        if base is not typing.Any:
            warnings.warn(
                f"{_qualified_name(python_type)} has no type transformer: its values will be pickled, which only "
                "the same Python and library versions can read",
                PickleFallbackWarning,
                stacklevel=4,
            )
        return self._fallback

    # ---------------------------------------------------------------------------------------------
    # Conversions

    def to_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """The flyteidl ``LiteralType`` of a Python type."""
        try:
            cached = self._literal_types.get(python_type)
        except TypeError:
            cached = None
        if cached is None:
            transformer = self.get_transformer(python_type)
            try:
                cached = transformer.get_literal_type(python_type)
            except TypeTransformerError:
                raise
            except Exception as exc:
                raise UnsupportedTypeError(
                    f"{type_name(python_type)} has no literal type: {type(exc).__name__}: {exc}",
                    python_type=python_type,
                ) from exc
            with contextlib.suppress(TypeError):
                self._literal_types[python_type] = cached
        copy = types_pb2.LiteralType()
        copy.CopyFrom(cached)
        return copy

    def to_literal(
        self,
        ctx: TypeContext,
        value: Any,
        python_type: Any,
        expected: types_pb2.LiteralType | None = None,
    ) -> literals_pb2.Literal:
        """The literal of ``value``, declared as ``python_type`` (``expected`` defaults to its literal type)."""
        if expected is None:
            expected = self.to_literal_type(python_type)
        transformer = self.get_transformer(python_type)
        return self._to_literal(ctx, value, python_type, expected, transformer, hash_method_of(python_type))

    def literal_filler(self, python_type: Any) -> Callable[[TypeContext, Any, literals_pb2.Literal], None]:
        """:meth:`to_literal` for one type, its transformer and literal type looked up once, setting the literal
        in place of ``target`` (an empty literal: a new entry of a LiteralMap): for converting many values (the
        indices of a map)."""
        expected = self.to_literal_type(python_type)
        transformer = self.get_transformer(python_type)
        method = hash_method_of(python_type)
        convert = self._to_literal
        field = primitive_field(transformer, python_type) if method is None else ""

        def fill(ctx: TypeContext, value: Any, target: literals_pb2.Literal) -> None:
            # A value of exactly the type goes in its primitive field as it is (as the transformer would put
            # it); anything else, and an integer out of range, through the transformer and its errors.
            if field and type(value) is python_type:
                try:
                    setattr(target.scalar.primitive, field, value)
                    return
                except ValueError:
                    target.Clear()
            target.CopyFrom(convert(ctx, value, python_type, expected, transformer, method))

        return fill

    @staticmethod
    def _to_literal(
        ctx: TypeContext,
        value: Any,
        python_type: Any,
        expected: types_pb2.LiteralType,
        transformer: TypeTransformer[Any],
        method: HashMethod[Any] | None,
    ) -> literals_pb2.Literal:
        try:
            literal = transformer.to_literal(ctx, value, python_type, expected)
            if method is not None:
                literal.hash = method.calculate(value)
            return literal
        except TypeTransformerError:
            raise
        except Exception as exc:
            raise InvalidValueError(
                f"cannot convert {type(value).__qualname__} to {type_name(python_type)}: "
                f"{type(exc).__name__}: {exc}",
                python_type=python_type,
                value=value,
            ) from exc

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        """The Python value of ``literal`` as ``python_type``.

        Offloaded literals are fetched first. Literals holding msgpack binaries or protobuf ``Struct`` values
        (dataclasses, dicts, and what Flyte's attribute access or console produce) are read through the
        transformer's struct-data form.
        """
        return self._to_python(ctx, literal, python_type, self.get_transformer(python_type))

    def python_reader(self, python_type: Any) -> Callable[[TypeContext, literals_pb2.Literal], Any]:
        """:meth:`to_python_value` for one type, its transformer looked up once (for converting many literals:
        the indices of a map)."""
        transformer = self.get_transformer(python_type)
        convert = self._to_python
        field = primitive_field(transformer, python_type)
        if not field:
            return lambda ctx, literal: convert(ctx, literal, python_type, transformer)

        def read(ctx: TypeContext, literal: literals_pb2.Literal) -> Any:
            # The type's own primitive field is read as it is (as the transformer would read it); anything
            # else (another field, an offloaded or msgpack literal) through the transformer.
            # (An unset message reads as empty: a literal holding anything else has no field set here.)
            primitive = literal.scalar.primitive
            if primitive.WhichOneof("value") == field:
                return getattr(primitive, field)
            return convert(ctx, literal, python_type, transformer)

        return read

    def _to_python(
        self,
        ctx: TypeContext,
        literal: literals_pb2.Literal,
        python_type: Any,
        transformer: TypeTransformer[Any],
    ) -> Any:
        if literal.WhichOneof("value") == "offloaded_metadata":
            literal = self._fetch_offloaded(ctx, literal, python_type)
        try:
            kind = scalar_kind(literal)
            if kind == "binary":
                binary = literal.scalar.binary
                if binary.tag != MSGPACK:
                    raise literal_mismatch(python_type, literal, "only msgpack binaries can be read")
                data = msgpack.unpackb(binary.value, strict_map_key=False)
                return transformer.from_struct_data(ctx, data, python_type)
            if kind == "generic":
                return transformer.from_struct_data(ctx, from_struct(literal.scalar.generic), python_type)
            return transformer.to_python_value(ctx, literal, python_type)
        except TypeTransformerError:
            raise
        except Exception as exc:
            raise InvalidLiteralError(
                f"cannot read a literal as {type_name(python_type)}: {type(exc).__name__}: {exc}",
                python_type=python_type,
                value=literal,
            ) from exc

    def _fetch_offloaded(
        self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any
    ) -> literals_pb2.Literal:
        uri = literal.offloaded_metadata.uri
        fetched = literals_pb2.Literal()
        try:
            fetched.ParseFromString(ctx.read(uri))
        except Exception as exc:
            raise InvalidLiteralError(
                f"cannot read the offloaded literal at {uri!r}: {exc}", python_type=python_type, value=literal
            ) from exc
        return fetched

    # ---------------------------------------------------------------------------------------------
    # The struct-data form (fields of dataclasses)

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        """Plain msgpack-able data for ``value`` (flytekit's mashumaro encoding of a dataclass field)."""
        return self.get_transformer(python_type).to_struct_data(ctx, value, python_type)

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        """The Python value of struct data, as ``python_type``."""
        return self.get_transformer(python_type).from_struct_data(ctx, data, python_type)

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        """The JSON schema of ``python_type`` as a dataclass field."""
        return self.get_transformer(python_type).json_schema(python_type)

    # ---------------------------------------------------------------------------------------------
    # Named values and interfaces

    def literal_map_from_kwargs(
        self, ctx: TypeContext, values: Mapping[str, Any], python_types: Mapping[str, Any]
    ) -> literals_pb2.LiteralMap:
        """A ``LiteralMap`` of named values; the names must be exactly those of ``python_types``.

        Errors name the variable: ``xs[2]: expected int but got str ('7')``.
        """
        _check_names(values.keys(), python_types)
        literal_map = literals_pb2.LiteralMap()
        for name, python_type in python_types.items():
            try:
                literal_map.literals[name].CopyFrom(self.to_literal(ctx, values[name], python_type))
            except TypeTransformerError as exc:
                exc.inside(name)
                raise
        return literal_map

    def kwargs_from_literal_map(
        self, ctx: TypeContext, literal_map: literals_pb2.LiteralMap, python_types: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The Python values of a ``LiteralMap``; its names must be exactly those of ``python_types``."""
        _check_names(literal_map.literals.keys(), python_types)
        values: dict[str, Any] = {}
        for name, python_type in python_types.items():
            try:
                values[name] = self.to_python_value(ctx, literal_map.literals[name], python_type)
            except TypeTransformerError as exc:
                exc.inside(name)
                raise
        return values

    def interface_of(
        self,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        descriptions: Mapping[str, str] | None = None,
    ) -> interface_pb2.TypedInterface:
        """A ``TypedInterface`` of named input and output types. Each variable's description is
        ``descriptions[name]``, or the name itself, as flytekit writes it."""
        described = descriptions or {}
        return interface_pb2.TypedInterface(
            inputs=self._variable_map(inputs, described), outputs=self._variable_map(outputs, described)
        )

    def _variable_map(self, python_types: Mapping[str, Any], descriptions: Mapping[str, str]) -> Any:
        variables = interface_pb2.VariableMap()
        for name, python_type in python_types.items():
            try:
                literal_type = self.to_literal_type(python_type)
            except TypeTransformerError as exc:
                exc.inside(name)
                raise
            variables.variables[name].CopyFrom(
                interface_pb2.Variable(type=literal_type, description=descriptions.get(name, name))
            )
        return variables

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """A Python type whose values can be read from literals of ``literal_type``; the first registered
        transformer that knows the type answers."""
        for transformer in self._transformers:
            guessed = transformer.guess_python_type(literal_type)
            if guessed is not None:
                return guessed
        raise UnsupportedTypeError(f"no Python type is known for the literal type {describe(literal_type)}")


def _qualified_name(python_type: Any) -> str:
    if isinstance(python_type, type) and python_type.__module__ != "builtins":
        return f"{python_type.__module__}.{python_type.__qualname__}"
    return type_name(python_type)


def _check_names(given: Any, declared: Mapping[str, Any]) -> None:
    names = set(given)
    unexpected = sorted(names - set(declared))
    missing = [name for name in declared if name not in names]
    if not unexpected and not missing:
        return
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected)}")
    expected = ", ".join(declared) or "none"
    raise VariableError(f"{'; '.join(problems)} (declared: {expected})")


# -------------------------------------------------------------------------------------------------
# The process-wide engine and the module-level API


class _Default:
    """Holds the process-wide engine."""

    engine: TypeEngine | None = None
    lock = threading.Lock()


def default_engine() -> TypeEngine:
    """The process-wide engine: the transformers and data frame kinds of every installed plugin (the built-in
    ones among them), made on first use, unless :func:`set_default_engine` put another."""
    if _Default.engine is None:
        with _Default.lock:
            if _Default.engine is None:
                from roost.plugins.manager import sdk_plugins

                _Default.engine = TypeEngine.from_plugins(sdk_plugins())
    return _Default.engine


def set_default_engine(engine: TypeEngine | None) -> None:
    """Replace the process-wide engine (``None`` rebuilds the built-in one on next use)."""
    with _Default.lock:
        _Default.engine = engine


def register_dataset_handler(
    handler: DatasetHandler, *, default_format: bool = False, default_protocol: bool = False
) -> None:
    """:meth:`TypeEngine.register_dataset_handler` on the default engine: how code that is not a plugin
    package adds a data frame type (register at import time of the module that defines the tasks, so that
    ``roost run`` and ``roost-execute`` both see it)."""
    default_engine().register_dataset_handler(
        handler, default_format=default_format, default_protocol=default_protocol
    )


def to_literal_type(python_type: Any) -> types_pb2.LiteralType:
    """:meth:`TypeEngine.to_literal_type` of the default engine."""
    return default_engine().to_literal_type(python_type)


def to_literal(
    ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType | None = None
) -> literals_pb2.Literal:
    """:meth:`TypeEngine.to_literal` of the default engine."""
    return default_engine().to_literal(ctx, value, python_type, expected)


def to_python_value(ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
    """:meth:`TypeEngine.to_python_value` of the default engine."""
    return default_engine().to_python_value(ctx, literal, python_type)


def literal_map_from_kwargs(
    ctx: TypeContext, values: Mapping[str, Any], python_types: Mapping[str, Any]
) -> literals_pb2.LiteralMap:
    """:meth:`TypeEngine.literal_map_from_kwargs` of the default engine."""
    return default_engine().literal_map_from_kwargs(ctx, values, python_types)


def kwargs_from_literal_map(
    ctx: TypeContext, literal_map: literals_pb2.LiteralMap, python_types: Mapping[str, Any]
) -> dict[str, Any]:
    """:meth:`TypeEngine.kwargs_from_literal_map` of the default engine."""
    return default_engine().kwargs_from_literal_map(ctx, literal_map, python_types)


def guess_python_type(literal_type: types_pb2.LiteralType) -> Any:
    """:meth:`TypeEngine.guess_python_type` of the default engine."""
    return default_engine().guess_python_type(literal_type)


def interface_of(
    inputs: Mapping[str, Any], outputs: Mapping[str, Any], descriptions: Mapping[str, str] | None = None
) -> interface_pb2.TypedInterface:
    """:meth:`TypeEngine.interface_of` of the default engine."""
    return default_engine().interface_of(inputs, outputs, descriptions)
