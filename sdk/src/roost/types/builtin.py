"""Roost's own transformers and data frame kinds, registered through the same hooks as any plugin's.

Registration order matters only for :meth:`~roost.types.engine.TypeEngine.guess_python_type`, which asks
transformers in order: ``Literal[...]`` before the plain scalar types, numpy arrays before files.
"""

from __future__ import annotations

from roost.plugins.hookspecs import RegisterDatasetHandler, RegisterTransformer, hookimpl
from roost.types.containers import DictTransformer, ListTransformer, TupleTransformer
from roost.types.dataframes import register_dataframe_kinds
from roost.types.enums import EnumTransformer, LiteralValuesTransformer
from roost.types.failure import FlyteErrorTransformer
from roost.types.files import DirectoryTransformer, FileTransformer
from roost.types.iterators import IteratorTransformer
from roost.types.numpy_arrays import NumpyArrayTransformer
from roost.types.pickled import PickleTransformer
from roost.types.pydantic_models import PydanticTransformer
from roost.types.simple import (
    BoolTransformer,
    DatetimeTransformer,
    DateTransformer,
    FloatTransformer,
    IntTransformer,
    NoneTransformer,
    StrTransformer,
    TimedeltaTransformer,
)
from roost.types.structs import DataclassTransformer
from roost.types.structured import StructuredDatasetTransformer
from roost.types.unions import UnionTransformer


@hookimpl
def roost_type_transformers(register: RegisterTransformer) -> None:
    """Register the built-in transformers (fresh instances for each engine)."""
    for transformer in (
        LiteralValuesTransformer(),
        NoneTransformer(),
        IntTransformer(),
        FloatTransformer(),
        StrTransformer(),
        BoolTransformer(),
        DatetimeTransformer(),
        DateTransformer(),
        TimedeltaTransformer(),
        EnumTransformer(),
        ListTransformer(),
        DictTransformer(),
        TupleTransformer(),
        UnionTransformer(),
        DataclassTransformer(),
        PydanticTransformer(),
        NumpyArrayTransformer(),
        PickleTransformer(),
        FileTransformer(),
        DirectoryTransformer(),
        StructuredDatasetTransformer(),
        FlyteErrorTransformer(),
        IteratorTransformer(),
    ):
        register(transformer)


@hookimpl
def roost_structured_dataset_handlers(register: RegisterDatasetHandler) -> None:
    """pandas, pyarrow and polars data frames."""
    register_dataframe_kinds(register)
