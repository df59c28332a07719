"""Roost's type engine: Python types and values ↔ flyteidl ``LiteralType`` and ``Literal``, encoded exactly
as flytekit 1.16 encodes them, so values pass between Roost tasks and flytekit tasks both ways.

Names are imported on first use, and no dataframe, numpy or pydantic library is imported until a value of
that kind is converted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost.types.context import TypeContext
    from roost.types.engine import (
        TypeEngine,
        default_engine,
        guess_python_type,
        interface_of,
        kwargs_from_literal_map,
        literal_map_from_kwargs,
        set_default_engine,
        to_literal,
        to_literal_type,
        to_python_value,
    )
    from roost.types.errors import (
        InvalidLiteralError,
        InvalidValueError,
        PickleFallbackWarning,
        RoostTypeWarning,
        TypeTransformerError,
        UnsupportedTypeError,
        VariableError,
    )
    from roost.types.failure import FlyteError
    from roost.types.files import Directory, File
    from roost.types.structured import DatasetReader, StructuredDataset
    from roost.types.transformer import TypeTransformer

_EXPORTS = {
    "TypeContext": "roost.types.context",
    "TypeEngine": "roost.types.engine",
    "default_engine": "roost.types.engine",
    "guess_python_type": "roost.types.engine",
    "interface_of": "roost.types.engine",
    "kwargs_from_literal_map": "roost.types.engine",
    "literal_map_from_kwargs": "roost.types.engine",
    "set_default_engine": "roost.types.engine",
    "to_literal": "roost.types.engine",
    "to_literal_type": "roost.types.engine",
    "to_python_value": "roost.types.engine",
    "InvalidLiteralError": "roost.types.errors",
    "InvalidValueError": "roost.types.errors",
    "PickleFallbackWarning": "roost.types.errors",
    "RoostTypeWarning": "roost.types.errors",
    "TypeTransformerError": "roost.types.errors",
    "UnsupportedTypeError": "roost.types.errors",
    "VariableError": "roost.types.errors",
    "FlyteError": "roost.types.failure",
    "Directory": "roost.types.files",
    "File": "roost.types.files",
    "DatasetReader": "roost.types.structured",
    "StructuredDataset": "roost.types.structured",
    "TypeTransformer": "roost.types.transformer",
}

__all__ = [
    "DatasetReader",
    "Directory",
    "File",
    "FlyteError",
    "InvalidLiteralError",
    "InvalidValueError",
    "PickleFallbackWarning",
    "RoostTypeWarning",
    "StructuredDataset",
    "TypeContext",
    "TypeEngine",
    "TypeTransformer",
    "TypeTransformerError",
    "UnsupportedTypeError",
    "VariableError",
    "default_engine",
    "guess_python_type",
    "interface_of",
    "kwargs_from_literal_map",
    "literal_map_from_kwargs",
    "set_default_engine",
    "to_literal",
    "to_literal_type",
    "to_python_value",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
