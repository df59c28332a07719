"""The SDK's bridge to the type engine: conversions with messages that name the entity and variable at fault."""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2

from roost.errors import TaskExecutionError, WorkflowDefinitionError

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.types import TypeContext

_definition_context: TypeContext | None = None


def is_optional(python_type: Any) -> bool:
    """Whether ``None`` is a value of ``python_type`` (``Optional[T]``, ``T | None``)."""
    if typing.get_origin(python_type) is typing.Annotated:
        python_type = typing.get_args(python_type)[0]
    is_union = typing.get_origin(python_type) is typing.Union or isinstance(python_type, types.UnionType)
    return is_union and type(None) in typing.get_args(python_type)


def literal_type(python_type: Any, *, where: str = "") -> types_pb2.LiteralType:
    """The flyteidl type of ``python_type``; an unsupported type is a definition error naming ``where``."""
    from roost.types import engine
    from roost.types.errors import TypeTransformerError

    try:
        return engine.to_literal_type(python_type)
    except TypeTransformerError as exc:
        raise WorkflowDefinitionError(f"{where}: {exc}" if where else str(exc)) from None


def definition_context() -> TypeContext:
    """The type context for values written into workflow definitions (constants, launch plan defaults)."""
    global _definition_context  # noqa: PLW0603 - made once, on first use
    if _definition_context is None:
        from roost.local.relocate import data_folder
        from roost.plugins.storage import sdk_storage
        from roost.types import TypeContext

        storage = sdk_storage()
        _definition_context = TypeContext(storage, (data_folder() / "constants").as_uri())
    return _definition_context


def to_literal(
    value: Any,
    python_type: Any,
    *,
    where: str,
    ctx: TypeContext | None = None,
    error: type[Exception] = WorkflowDefinitionError,
) -> literals_pb2.Literal:
    """``value`` as a literal of ``python_type``; a mismatch raises ``error`` naming ``where``.

    Without ``ctx``, the context of the task running now is used, else the definition context.
    """
    # Submodules, not the lazily exporting package: this runs for every value of every task.
    from roost.types import engine
    from roost.types.context import TypeContext
    from roost.types.errors import TypeTransformerError

    context = ctx or TypeContext.current() or definition_context()
    try:
        return engine.to_literal(context, value, python_type)
    except TypeTransformerError as exc:
        raise error(str(exc.prefixed(f"{where}:"))) from None


def to_python(ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any, *, where: str) -> Any:
    """``literal`` as a value of ``python_type``; a mismatch is a TaskExecutionError naming ``where``."""
    from roost.types import engine
    from roost.types.errors import TypeTransformerError

    try:
        return engine.to_python_value(ctx, literal, python_type)
    except TypeTransformerError as exc:
        raise TaskExecutionError(str(exc.prefixed(f"{where}:"))) from None


def guess_python_type(literal: types_pb2.LiteralType) -> Any:
    """A Python type for a flyteidl type (signals and CLI values of entities not defined here)."""
    from roost.types import engine

    return engine.guess_python_type(literal)


def literal_map(entity: Entity, values: dict[str, Any], ctx: TypeContext) -> literals_pb2.LiteralMap:
    """An entity's inputs as a LiteralMap: defaults filled in, every value checked, errors naming the input.

    Local data the values name (files, folders, data frames) is uploaded through ``ctx``.
    """
    result = literals_pb2.LiteralMap()
    unknown = sorted(set(values) - set(entity.interface.inputs))
    if unknown:
        raise WorkflowDefinitionError(f"{entity.label} has no input(s) {', '.join(unknown)}")
    with ctx:
        for name, python_type in entity.interface.inputs.items():
            if name in values:
                value = values[name]
            elif name in entity.interface.defaults:
                value = entity.interface.defaults[name]
            elif is_optional(python_type):
                value = None
            else:
                raise WorkflowDefinitionError(f"{entity.label} input {name!r} is missing")
            result.literals[name].CopyFrom(
                to_literal(value, python_type, where=f"{entity.label} input {name!r}", ctx=ctx)
            )
    return result


def python_values(entity: Entity, outputs: literals_pb2.LiteralMap, ctx: TypeContext) -> dict[str, Any]:
    """An entity's outputs as Python values, read through ``ctx`` (left open: files read later download
    through it)."""
    return {
        name: to_python(ctx, outputs.literals[name], t, where=f"{entity.label} output {name!r}")
        for name, t in entity.interface.outputs.items()
    }
