"""File, Directory and StructuredDataset as fields of pydantic models.

pydantic asks a field's class for its schema (``__get_pydantic_core_schema__``); these classes answer with
the functions below. While Roost's pydantic transformer dumps or validates a model, it makes its type
context current (:func:`serving`), so a field is uploaded, or read back, exactly as the same value is as a
dataclass field (flytekit's encoding: ``{"path": ...}`` for files and folders, ``{"uri", "file_format"}`` for
data sets). Outside a task (a model printed by the user), a field dumps to its local path or URI.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost.types.context import TypeContext
    from roost.types.engine import TypeEngine

_SERVING: contextvars.ContextVar[tuple[TypeContext, TypeEngine] | None] = contextvars.ContextVar(
    "roost_pydantic_types", default=None
)


@contextmanager
def serving(ctx: TypeContext, engine: TypeEngine) -> Iterator[None]:
    """Convert File, Directory and StructuredDataset fields with ``ctx`` and ``engine`` inside the block."""
    token = _SERVING.set((ctx, engine))
    try:
        yield
    finally:
        _SERVING.reset(token)


def core_schema_of(cls: type[Any]) -> Any:
    """The pydantic core schema of ``cls``: validated from and dumped to its struct data."""
    from pydantic_core import core_schema

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        current = _SERVING.get()
        if current is None:
            raise ValueError(f"a {cls.__name__} field is read from data only inside a Roost task")
        ctx, engine = current
        return engine.from_struct_data(ctx, value, cls)

    def dump(value: Any) -> Any:
        current = _SERVING.get()
        if current is None:
            path = getattr(value, "path", None)
            return {"path": str(path)} if path is not None else {"uri": getattr(value, "uri", None) or ""}
        ctx, engine = current
        return engine.to_struct_data(ctx, value, cls)

    return core_schema.no_info_plain_validator_function(
        validate, serialization=core_schema.plain_serializer_function_ser_schema(dump)
    )


def json_schema_of(cls: type[Any]) -> dict[str, Any]:
    """The field's JSON schema: the one flytekit gives the same type as a dataclass field."""
    from roost.types.engine import default_engine

    return default_engine().json_schema(cls)


class PydanticField:
    """Makes a class usable as a pydantic model field, converted by Roost's type engine (File, Directory,
    StructuredDataset)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """As a pydantic model field: read and written by Roost's type engine, as in a dataclass."""
        return core_schema_of(cls)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        """The field's JSON schema (flytekit's)."""
        return json_schema_of(cls)
