"""Structured datasets (pandas, pyarrow, polars), numpy arrays and the pickle fallback."""

from __future__ import annotations

import typing
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from flyteidl.core import literals_pb2, types_pb2

from roost.types import (
    InvalidLiteralError,
    InvalidValueError,
    PickleFallbackWarning,
    StructuredDataset,
    TypeContext,
    TypeEngine,
    UnsupportedTypeError,
)

SIMPLE = types_pb2.SimpleType


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]})


class Opaque:
    def __init__(self, x: int) -> None:
        self.x = x


def test_dataframe_literal_types(engine: TypeEngine) -> None:
    generic = types_pb2.LiteralType(structured_dataset_type=types_pb2.StructuredDatasetType())
    for python_type in (pd.DataFrame, pa.Table, pl.DataFrame, StructuredDataset):
        assert engine.to_literal_type(python_type) == generic
    declared = engine.to_literal_type(Annotated[pd.DataFrame, {"a": int, "when": {"day": str}}, "csv"])
    dataset_type = declared.structured_dataset_type
    assert dataset_type.format == "csv"
    assert [(c.name, c.literal_type.simple) for c in dataset_type.columns] == [
        ("a", SIMPLE.INTEGER),
        ("when.day", SIMPLE.STRING),
    ]
    listed = engine.to_literal_type(Annotated[pd.DataFrame, {"xs": list[np.float64], "m": dict[str, bool]}])
    columns = listed.structured_dataset_type.columns
    assert columns[0].literal_type.collection_type.simple == SIMPLE.FLOAT
    assert columns[1].literal_type.map_value_type.simple == SIMPLE.BOOLEAN
    schema = pa.schema([("a", pa.int64())])
    external = engine.to_literal_type(Annotated[pa.Table, schema]).structured_dataset_type
    assert external.external_schema_type == "arrow"
    assert external.external_schema_bytes == schema.to_string().encode()
    with pytest.raises(
        UnsupportedTypeError, match=r"^complex is not a supported column type of a structured dataset$"
    ):
        engine.to_literal_type(Annotated[pd.DataFrame, {"z": complex}])


@pytest.mark.parametrize(
    ("python_type", "value"),
    [
        (pd.DataFrame, _frame()),
        (pa.Table, pa.Table.from_pandas(_frame(), preserve_index=False)),
        (pl.DataFrame, pl.from_pandas(_frame())),
    ],
)
def test_dataframe_round_trip(engine: TypeEngine, mem_ctx: TypeContext, python_type: Any, value: Any) -> None:
    literal = engine.to_literal(mem_ctx, value, python_type)
    dataset = literal.scalar.structured_dataset
    assert dataset.metadata.structured_dataset_type.format == "parquet"
    assert [relative for _, relative in mem_ctx.list(dataset.uri)] == ["00000"]
    back = engine.to_python_value(mem_ctx, literal, python_type)
    assert type(back) is python_type
    assert back.equals(value)


def test_frames_cross_libraries(engine: TypeEngine, ctx: TypeContext) -> None:
    literal = engine.to_literal(ctx, _frame(), pd.DataFrame)
    assert engine.to_python_value(ctx, literal, pl.DataFrame).to_dict(as_series=False) == {
        "a": [1, 2],
        "b": ["x", "y"],
        "c": [0.5, 1.5],
    }
    assert engine.to_python_value(ctx, literal, pa.Table).column_names == ["a", "b", "c"]


def test_declared_columns_are_the_ones_read(engine: TypeEngine, ctx: TypeContext) -> None:
    written = engine.to_literal(ctx, _frame(), Annotated[pd.DataFrame, {"a": int, "b": str, "c": float}])
    assert [c.name for c in written.scalar.structured_dataset.metadata.structured_dataset_type.columns] == [
        "a",
        "b",
        "c",
    ]
    assert list(engine.to_python_value(ctx, written, Annotated[pd.DataFrame, {"c": float}]).columns) == ["c"]
    # Without columns of its own, a reader gets the columns the literal declares.
    assert list(engine.to_python_value(ctx, written, pd.DataFrame).columns) == ["a", "b", "c"]


def test_csv_format(engine: TypeEngine, mem_ctx: TypeContext) -> None:
    csv_frame = Annotated[pd.DataFrame, "csv"]
    literal = engine.to_literal(mem_ctx, _frame(), csv_frame)
    dataset = literal.scalar.structured_dataset
    assert dataset.metadata.structured_dataset_type.format == "csv"
    assert [relative for _, relative in mem_ctx.list(dataset.uri)] == [".csv"]
    assert engine.to_python_value(mem_ctx, literal, csv_frame).equals(_frame())
    with pytest.raises(
        InvalidValueError,
        match=r"^no encoder writes polars\.DataFrame to mem:// as 'csv'; registered: any blob store as 'parquet'$",
    ):
        engine.to_literal(mem_ctx, pl.from_pandas(_frame()), Annotated[pl.DataFrame, "csv"])
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Table but got a structured dataset literal \(mem://bucket/raw/[0-9a-f]+\): no decoder "
        r"reads pyarrow\.Table from mem:// as 'csv'; registered: any blob store as 'parquet'$",
    ):
        engine.to_python_value(mem_ctx, literal, pa.Table)


def test_structured_dataset_wrapper(engine: TypeEngine, mem_ctx: TypeContext) -> None:
    literal = engine.to_literal(mem_ctx, StructuredDataset(dataframe=_frame()), StructuredDataset)
    dataset = engine.to_python_value(mem_ctx, literal, StructuredDataset)
    assert dataset.uri == literal.scalar.structured_dataset.uri
    assert dataset.file_format == "parquet"
    assert dataset.open(pd.DataFrame).all().equals(_frame())
    assert dataset.open(pl.DataFrame).all().shape == (2, 3)
    # Returned unchanged, the input's literal is passed on: nothing is written again.
    assert engine.to_literal(mem_ctx, dataset, StructuredDataset) == literal
    held = StructuredDataset(dataframe=_frame())
    assert held.open(pd.DataFrame).all() is held.dataframe
    with pytest.raises(TypeError, match=r"^this StructuredDataset holds a DataFrame, not a Table$"):
        held.open(pa.Table).all()
    with pytest.raises(ValueError, match=r"^this StructuredDataset has neither a dataframe nor a uri$"):
        StructuredDataset().open(pd.DataFrame).all()


def test_dataset_given_by_uri(
    engine: TypeEngine, ctx: TypeContext, mem_ctx: TypeContext, tmp_path: Path
) -> None:
    _frame().to_parquet(tmp_path / "one.parquet")
    by_path = StructuredDataset(uri=str(tmp_path / "one.parquet"), file_format="parquet")
    literal = engine.to_literal(mem_ctx, by_path, StructuredDataset)
    uri = literal.scalar.structured_dataset.uri
    assert uri.startswith("mem://bucket/raw/")
    assert uri.endswith("/one.parquet")
    assert literal.scalar.structured_dataset.metadata.structured_dataset_type.format == "parquet"
    assert engine.to_python_value(mem_ctx, literal, pd.DataFrame).equals(_frame())
    remote = StructuredDataset(uri=uri, file_format="parquet")
    assert engine.to_literal(mem_ctx, remote, StructuredDataset).scalar.structured_dataset.uri == uri
    assert remote.open(pd.DataFrame).all().equals(_frame())
    with pytest.raises(
        InvalidValueError,
        match=r"^StructuredDataset uri '/no/data' is neither a URI nor an existing local file or folder$",
    ):
        engine.to_literal(ctx, StructuredDataset(uri="/no/data"), StructuredDataset)


def test_reading_a_dataset_needs_an_open_context(engine: TypeEngine, storage: Any, tmp_path: Path) -> None:
    context = TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path)
    literal = engine.to_literal(context, _frame(), pd.DataFrame)
    dataset = engine.to_python_value(context, literal, StructuredDataset)
    context.close()
    with pytest.raises(RuntimeError, match=r"^cannot read 'mem://bucket/raw/[0-9a-f]+': no open TypeContext"):
        dataset.open(pd.DataFrame).all()


def test_dataset_errors(engine: TypeEngine, ctx: TypeContext) -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"^expected StructuredDataset but got DataFrame \(.*\): wrap a dataframe as "
        r"StructuredDataset\(dataframe=df\)$",
    ):
        engine.to_literal(ctx, _frame(), StructuredDataset)
    with pytest.raises(InvalidValueError, match=r"^expected DataFrame but got list \(\[1\]\)$"):
        engine.to_literal(ctx, [1], pd.DataFrame)
    with pytest.raises(InvalidValueError, match=r"^a StructuredDataset needs a dataframe or a uri$"):
        engine.to_literal(ctx, StructuredDataset(), StructuredDataset)
    with pytest.raises(
        InvalidValueError,
        match=r"^list is not a dataframe type Roost can store \(pandas\.DataFrame, pyarrow\.Table, polars\.DataFrame\)$",
    ):
        engine.to_literal(ctx, StructuredDataset(dataframe=[1]), StructuredDataset)
    missing = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(structured_dataset=literals_pb2.StructuredDataset(uri="mem://bucket/none"))
    )
    with pytest.raises(
        InvalidLiteralError,
        match=r"^cannot read a literal as DataFrame: FileNotFoundError: no data at 'mem://bucket/none'$",
    ):
        engine.to_python_value(ctx, missing, pd.DataFrame)
    with pytest.raises(InvalidLiteralError, match=r"^expected DataFrame but got an integer literal \(1\)$"):
        engine.to_python_value(
            ctx,
            literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1))),
            pd.DataFrame,
        )
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected StructuredDataset but got dict \(\{\}\) in struct data: expected a map with a 'uri'$",
    ):
        engine.from_struct_data(ctx, {}, StructuredDataset)
    with pytest.raises(UnsupportedTypeError, match=r"^DataFrame cannot be a field of a dataclass$"):
        engine.json_schema(pd.DataFrame)


def test_legacy_schema_literals_are_read(engine: TypeEngine, ctx: TypeContext) -> None:
    written = engine.to_literal(ctx, _frame(), pd.DataFrame).scalar.structured_dataset
    legacy = literals_pb2.Literal(scalar=literals_pb2.Scalar(schema=literals_pb2.Schema(uri=written.uri)))
    assert engine.to_python_value(ctx, legacy, pd.DataFrame).equals(_frame())


def test_numpy_arrays(engine: TypeEngine, mem_ctx: TypeContext) -> None:
    assert engine.to_literal_type(np.ndarray) == types_pb2.LiteralType(
        blob=types_pb2.BlobType(
            format="NumpyArray", dimensionality=types_pb2.BlobType.BlobDimensionality.SINGLE
        )
    )
    array = np.arange(6, dtype=np.int16).reshape(2, 3)
    literal = engine.to_literal(mem_ctx, array, np.ndarray)
    assert literal.scalar.blob.uri.endswith(".npy")
    back = engine.to_python_value(mem_ctx, literal, np.ndarray)
    assert back.dtype == np.int16
    assert np.array_equal(back, array)
    assert engine.guess_python_type(engine.to_literal_type(np.ndarray)) is np.ndarray
    objects = np.array([{"a": 1}], dtype=object)
    with pytest.raises(
        InvalidValueError,
        match=r"^cannot store the array: Object arrays cannot be saved when allow_pickle=False \(declare "
        r"Annotated\[np\.ndarray, \{'allow_pickle': True\}\] to allow it\)$",
    ):
        engine.to_literal(mem_ctx, objects, np.ndarray)
    pickled = Annotated[np.ndarray, {"allow_pickle": True}]
    stored = engine.to_literal(mem_ctx, objects, pickled)
    assert engine.to_python_value(mem_ctx, stored, pickled)[0] == {"a": 1}
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected ndarray but got a blob literal \(mem://.*\.npy\): Object arrays cannot",
    ):
        engine.to_python_value(mem_ctx, stored, np.ndarray)
    with pytest.raises(InvalidValueError, match=r"^expected ndarray but got list \(\[1, 2\]\)$"):
        engine.to_literal(mem_ctx, [1, 2], np.ndarray)


def test_pickle_fallback(engine: TypeEngine, mem_ctx: TypeContext) -> None:
    with pytest.warns(
        PickleFallbackWarning,
        match=r"^test_types_dataframes\.Opaque has no type transformer: its values will be pickled, which only the "
        r"same Python and library versions can read$",
    ):
        literal_type = engine.to_literal_type(Opaque)
    assert literal_type.blob.format == "PythonPickle"
    assert dict(literal_type.metadata) == {"python_class_name": str(Opaque)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        literal = engine.to_literal(mem_ctx, Opaque(7), Opaque)
        assert engine.to_python_value(mem_ctx, literal, Opaque).x == 7
        # typing.Any asks for pickling: no warning.
        assert engine.to_python_value(
            mem_ctx, engine.to_literal(mem_ctx, {1, 2}, typing.Any), typing.Any
        ) == {1, 2}
    assert engine.guess_python_type(literal_type) is typing.Any
    with pytest.raises(InvalidValueError, match=r"^expected Opaque but got None: None cannot be pickled$"):
        engine.to_literal(mem_ctx, None, Opaque)
    blob = literals_pb2.Blob(uri="s3://b/k", metadata=literals_pb2.BlobMetadata(type=types_pb2.BlobType()))
    with pytest.raises(
        InvalidLiteralError,
        match=r"^expected Opaque but got a blob literal \(s3://b/k\): values of this type travel as pickles$",
    ):
        engine.to_python_value(mem_ctx, literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob)), Opaque)
