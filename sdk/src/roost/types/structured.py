"""Dataframes as structured datasets, with flytekit's literal shape.

``pandas.DataFrame``, ``pyarrow.Table`` and ``polars.DataFrame`` annotations convert directly; a
:class:`StructuredDataset` wraps a dataframe (or a URI) and reads lazily with
``dataset.open(pandas.DataFrame).all()``. A dataset is a folder: flytekit's writers put one parquet file
named ``00000`` in it (CSV: a file named ``.csv``). Readers take every file of the folder, as pandas and
pyarrow read a parquet folder.

``Annotated[pd.DataFrame, {"a": int, "b": str}]`` declares columns (and reading keeps only those);
``Annotated[..., "csv"]`` a format (parquet is the default); ``Annotated[..., pyarrow_schema]`` an
external arrow schema, as flytekit does. No dataframe library is imported until a dataframe is converted.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import io
import os
import sys
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from flyteidl.core import literals_pb2, types_pb2

from roost.types._optional import load
from roost.types._protos import SIMPLE, data_mismatch, literal_mismatch, scalar_kind
from roost.types.context import TypeContext
from roost.types.errors import (
    InvalidLiteralError,
    InvalidValueError,
    UnsupportedTypeError,
    mismatch,
    type_name,
)
from roost.types.pydantic_fields import PydanticField
from roost.types.transformer import TypeTransformer, unwrap_annotated

DF = TypeVar("DF")

PARQUET = "parquet"
CSV = "csv"
_PARQUET_FILE = "00000"
_CSV_FILE = ".csv"


class StructuredDataset(PydanticField):
    """A dataframe, or a reference to stored tabular data, that travels as a structured dataset literal.

    Return ``StructuredDataset(dataframe=df)`` to store a dataframe (at ``uri`` if given), or
    ``StructuredDataset(uri=..., file_format="parquet")`` to pass on data that is already stored. A dataset
    read from a literal loads nothing until ``open(pandas.DataFrame).all()``.
    """

    def __init__(self, dataframe: Any = None, uri: str | None = None, file_format: str = "") -> None:
        self.dataframe = dataframe
        self.uri = uri
        self.file_format = file_format
        self._literal: literals_pb2.StructuredDataset | None = None
        self._context: TypeContext | None = None
        self._columns: list[str] | None = None

    @property
    def columns(self) -> list[str]:
        """The column names the literal declares (empty when it declares none)."""
        if self._literal is None:
            return []
        return [c.name for c in self._literal.metadata.structured_dataset_type.columns]

    def open(self, dataframe_type: type[DF]) -> DatasetReader[DF]:
        """A reader that loads the data as ``dataframe_type`` (``pandas.DataFrame``, ``pyarrow.Table``,
        ``polars.DataFrame``)."""
        return DatasetReader(self, dataframe_type)

    def __repr__(self) -> str:
        return f"StructuredDataset(uri={self.uri!r}, file_format={self.file_format!r})"


class DatasetReader(Generic[DF]):
    """What :meth:`StructuredDataset.open` returns; :meth:`all` loads the data."""

    def __init__(self, dataset: StructuredDataset, dataframe_type: type[DF]) -> None:
        self._dataset = dataset
        self._type = dataframe_type

    def all(self) -> DF:
        """The whole dataset as one dataframe."""
        dataset = self._dataset
        if dataset.dataframe is not None:
            if not isinstance(dataset.dataframe, self._type):
                raise TypeError(
                    f"this StructuredDataset holds a {type(dataset.dataframe).__qualname__}, not a "
                    f"{type_name(self._type)}"
                )
            frame: DF = dataset.dataframe
            return frame
        if dataset._literal is None:
            if not dataset.uri:
                raise ValueError("this StructuredDataset has neither a dataframe nor a uri")
            dataset._literal = literals_pb2.StructuredDataset(
                uri=dataset.uri,
                metadata=literals_pb2.StructuredDatasetMetadata(
                    structured_dataset_type=types_pb2.StructuredDatasetType(format=dataset.file_format)
                ),
            )
        context = dataset._context or TypeContext.current()
        if context is None or context.closed:
            raise RuntimeError(
                f"cannot read {dataset.uri!r}: no open TypeContext (datasets can be read inside a task, "
                "or within `with TypeContext(...)`)"
            )
        loaded: DF = _read_frame(context, dataset._literal, self._type, dataset._columns)
        return loaded


# -------------------------------------------------------------------------------------------------
# Dataframe libraries


@dataclasses.dataclass(frozen=True)
class _FrameKind:
    """How one dataframe library writes and reads each format: ``write(frame, format) -> bytes`` and
    ``read(local path, columns or None, format) -> frame``."""

    write: Callable[[Any, str], bytes]
    read: Callable[[str, list[str] | None, str], Any]


def _data_files(local: str) -> list[str]:
    """The data files of a dataset folder (or the file itself), skipping ``_SUCCESS``-style markers."""
    if os.path.isfile(local):
        return [local]
    found: list[str] = []
    for folder, dirs, files in os.walk(local):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        found.extend(os.path.join(folder, f) for f in sorted(files) if not f.startswith(("_", ".")))
    return found


def _csv_path(local: str) -> str:
    return local if os.path.isfile(local) else os.path.join(local, _CSV_FILE)


def _pandas_write(frame: Any, file_format: str) -> bytes:
    buffer = io.BytesIO()
    if file_format == CSV:
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, coerce_timestamps="us", allow_truncated_timestamps=False)
    return buffer.getvalue()


def _pandas_read(local: str, columns: list[str] | None, file_format: str) -> Any:
    pandas = load("pandas")

    if file_format == CSV:
        return pandas.read_csv(_csv_path(local), usecols=columns)
    return pandas.read_parquet(local, columns=columns)


def _arrow_write(frame: Any, file_format: str) -> bytes:
    parquet = load("pyarrow.parquet")

    buffer = io.BytesIO()
    parquet.write_table(frame, buffer)
    return buffer.getvalue()


def _arrow_read(local: str, columns: list[str] | None, file_format: str) -> Any:
    parquet = load("pyarrow.parquet")

    return parquet.read_table(local, columns=columns)


def _polars_write(frame: Any, file_format: str) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _polars_read(local: str, columns: list[str] | None, file_format: str) -> Any:
    polars = load("polars")

    return polars.read_parquet(_data_files(local), columns=columns)


_KINDS: dict[str, tuple[_FrameKind, tuple[str, ...]]] = {
    "pandas.DataFrame": (_FrameKind(_pandas_write, _pandas_read), (PARQUET, CSV)),
    "pyarrow.Table": (_FrameKind(_arrow_write, _arrow_read), (PARQUET,)),
    "polars.DataFrame": (_FrameKind(_polars_write, _polars_read), (PARQUET,)),
}


def _kind_of(frame_type: Any, file_format: str, error: Callable[[str], Exception]) -> _FrameKind:
    """The reader/writer of a dataframe class (or a subclass of one) for a format."""
    classes = frame_type.__mro__ if isinstance(frame_type, type) else ()
    for cls in classes:
        entry = _KINDS.get(f"{cls.__module__.partition('.')[0]}.{cls.__name__}")
        if entry is not None:
            kind, formats = entry
            if file_format not in formats:
                raise error(
                    f"{type_name(frame_type)} cannot be stored as {file_format!r}; formats: {', '.join(formats)}"
                )
            return kind
    raise error(f"{type_name(frame_type)} is not a dataframe type Roost can store ({', '.join(_KINDS)})")


# -------------------------------------------------------------------------------------------------
# Columns and formats from annotations


def _dataset_type(python_type: Any) -> types_pb2.StructuredDatasetType:
    """The ``StructuredDatasetType`` an annotation declares: columns, format, external arrow schema."""
    _, annotations = unwrap_annotated(python_type)
    dataset_type = types_pb2.StructuredDatasetType()
    arrow_schema_class = getattr(sys.modules.get("pyarrow"), "Schema", None)
    for item in annotations:
        if isinstance(item, str):
            dataset_type.format = item
        elif arrow_schema_class is not None and isinstance(item, arrow_schema_class):
            dataset_type.external_schema_type = "arrow"
            dataset_type.external_schema_bytes = item.to_string().encode()
        elif isinstance(item, dict) or hasattr(item, "__annotations__"):
            columns = item if isinstance(item, dict) else dict(item.__annotations__)
            for name, column_type in _flatten(columns).items():
                dataset_type.columns.add(name=name, literal_type=_column_type(column_type, python_type))
    return dataset_type


def _flatten(columns: dict[str, Any], parent: str = "") -> dict[str, Any]:
    """Nested column maps (dicts or dataclasses) become dotted names, as flytekit names them."""
    flat: dict[str, Any] = collections.OrderedDict()
    for name, column_type in columns.items():
        key = f"{parent}.{name}" if parent else name
        if isinstance(column_type, dict):
            flat.update(_flatten(column_type, key))
        elif dataclasses.is_dataclass(column_type):
            flat.update(_flatten({f.name: f.type for f in dataclasses.fields(column_type)}, key))
        else:
            flat[key] = column_type
    return flat


_COLUMN_SIMPLE: dict[Any, int] = {
    int: SIMPLE.INTEGER,
    float: SIMPLE.FLOAT,
    bool: SIMPLE.BOOLEAN,
    str: SIMPLE.STRING,
    datetime.datetime: SIMPLE.DATETIME,
    datetime.timedelta: SIMPLE.DURATION,
}
_NUMPY_COLUMN_SIMPLE = {
    "int32": SIMPLE.INTEGER,
    "int64": SIMPLE.INTEGER,
    "uint32": SIMPLE.INTEGER,
    "uint64": SIMPLE.INTEGER,
    "float32": SIMPLE.FLOAT,
    "float64": SIMPLE.FLOAT,
    "bool": SIMPLE.BOOLEAN,
    "bool_": SIMPLE.BOOLEAN,
    "datetime64": SIMPLE.DATETIME,
    "timedelta64": SIMPLE.DURATION,
    "bytes_": SIMPLE.STRING,
    "str_": SIMPLE.STRING,
    "object_": SIMPLE.STRING,
}


def _column_type(column_type: Any, python_type: Any) -> types_pb2.LiteralType:
    if column_type in _COLUMN_SIMPLE:
        return types_pb2.LiteralType(simple=_COLUMN_SIMPLE[column_type])
    if getattr(column_type, "__module__", "") == "numpy" and column_type.__name__ in _NUMPY_COLUMN_SIMPLE:
        return types_pb2.LiteralType(simple=_NUMPY_COLUMN_SIMPLE[column_type.__name__])
    origin, args = typing.get_origin(column_type), typing.get_args(column_type)
    if origin is list and args:
        return types_pb2.LiteralType(collection_type=_column_type(args[0], python_type))
    if origin is dict and len(args) == 2:
        return types_pb2.LiteralType(map_value_type=_column_type(args[1], python_type))
    raise UnsupportedTypeError(
        f"{type_name(column_type)} is not a supported column type of a structured dataset",
        python_type=python_type,
    )


# -------------------------------------------------------------------------------------------------
# The transformer

_SCHEMA = {
    "type": "object",
    "title": "StructuredDataset",
    "properties": {
        "uri": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "file_format": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": ""},
    },
    "additionalProperties": False,
}


class StructuredDatasetTransformer(TypeTransformer[Any]):
    """``StructuredDataset`` and dataframe classes ↔ structured dataset literals."""

    def __init__(self) -> None:
        super().__init__("StructuredDataset Transformer", StructuredDataset)

    def handled_types(self) -> tuple[type[Any] | str, ...]:
        return (StructuredDataset, *_KINDS)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(structured_dataset_type=_dataset_type(python_type))

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        base, _ = unwrap_annotated(python_type)
        dataset_type = types_pb2.StructuredDatasetType()
        dataset_type.CopyFrom(expected.structured_dataset_type)
        if _is_dataset_class(base):
            if not isinstance(value, StructuredDataset):
                detail = "wrap a dataframe as StructuredDataset(dataframe=df)" if value is not None else ""
                raise mismatch(python_type, value, detail)
            return literals_pb2.Literal(
                scalar=literals_pb2.Scalar(structured_dataset=self._store(ctx, value, dataset_type))
            )
        if not isinstance(value, base):
            raise mismatch(python_type, value)
        dataset = StructuredDataset(dataframe=value)
        return literals_pb2.Literal(
            scalar=literals_pb2.Scalar(structured_dataset=self._store(ctx, dataset, dataset_type))
        )

    def _store(
        self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        if dataset._literal is not None and dataset.dataframe is None:
            # Passed through: keep the literal it came with.
            return dataset._literal
        if dataset.dataframe is None:
            if not dataset.uri:
                raise InvalidValueError(
                    "a StructuredDataset needs a dataframe or a uri",
                    python_type=StructuredDataset,
                    value=dataset,
                )
            uri = dataset.uri
            if TypeContext.is_local(uri):
                uri = _upload_local(ctx, uri)
            if not dataset_type.format:
                dataset_type.format = dataset.file_format
            return _dataset_literal(uri, dataset_type)
        frame = dataset.dataframe
        file_format = dataset_type.format or dataset.file_format or PARQUET
        kind = _kind_of(
            type(frame),
            file_format,
            lambda detail: InvalidValueError(detail, python_type=StructuredDataset, value=frame),
        )
        folder = _storage_uri(dataset.uri) if dataset.uri else ctx.new_remote_path()
        target = f"{folder.rstrip('/')}/{_CSV_FILE if file_format == CSV else _PARQUET_FILE}"
        dataset_type.format = file_format
        stored = _dataset_literal(ctx.literal_uri(folder), dataset_type)
        storage = ctx.storage

        def write() -> None:
            storage.write(target, kind.write(frame, file_format))

        if ctx.frames is not None and not dataset.uri:
            ctx.frames.keep(stored.uri, frame, write)
        else:
            write()
        dataset._literal = stored
        return stored

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        kind = scalar_kind(literal)
        if kind == "schema":
            # Flytekit's legacy FlyteSchema: parquet at the uri.
            stored = _dataset_literal(
                literal.scalar.schema.uri, types_pb2.StructuredDatasetType(format=PARQUET)
            )
        elif kind == "structured_dataset":
            stored = literal.scalar.structured_dataset
        else:
            raise literal_mismatch(python_type, literal)
        return self._open(
            ctx, stored, python_type, lambda detail: literal_mismatch(python_type, literal, detail)
        )

    def _open(
        self,
        ctx: TypeContext,
        stored: literals_pb2.StructuredDataset,
        python_type: Any,
        error: Callable[[str], InvalidLiteralError],
    ) -> Any:
        base, _ = unwrap_annotated(python_type)
        declared = [c.name for c in _dataset_type(python_type).columns]
        incoming = [c.name for c in stored.metadata.structured_dataset_type.columns]
        columns = declared or incoming or None
        if _is_dataset_class(base):
            dataset = base(uri=stored.uri, file_format=stored.metadata.structured_dataset_type.format)
            dataset._literal = stored
            dataset._context = ctx
            dataset._columns = columns
            return dataset
        file_format = stored.metadata.structured_dataset_type.format or PARQUET
        _kind_of(base, file_format, error)
        return _read_frame(ctx, stored, base, columns)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        if literal_type.WhichOneof("type") == "structured_dataset_type":
            return StructuredDataset
        return None

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        literal = self.to_literal(ctx, value, python_type, self.get_literal_type(python_type))
        stored = literal.scalar.structured_dataset
        return {"uri": stored.uri, "file_format": stored.metadata.structured_dataset_type.format}

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("uri"), str):
            raise data_mismatch(python_type, data, "expected a map with a 'uri'")
        file_format = data.get("file_format") or ""
        stored = _dataset_literal(data["uri"], types_pb2.StructuredDatasetType(format=str(file_format)))
        return self._open(ctx, stored, python_type, lambda detail: data_mismatch(python_type, data, detail))

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        base, _ = unwrap_annotated(python_type)
        if not _is_dataset_class(base):
            return super().json_schema(python_type)
        return copy.deepcopy(_SCHEMA)


def _is_dataset_class(base: Any) -> bool:
    return isinstance(base, type) and issubclass(base, StructuredDataset)


def _dataset_literal(
    uri: str, dataset_type: types_pb2.StructuredDatasetType
) -> literals_pb2.StructuredDataset:
    return literals_pb2.StructuredDataset(
        uri=uri, metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type)
    )


def _storage_uri(uri: str) -> str:
    """A destination given as a plain local path, as a ``file://`` URI the storage can write."""
    return uri if "://" in uri else f"file://{os.path.abspath(uri)}"


def _upload_local(ctx: TypeContext, path: str) -> str:
    if os.path.isdir(path):
        return ctx.upload_directory(path, ctx.new_remote_path())
    if os.path.isfile(path):
        return ctx.upload_file(path, ctx.new_remote_path(os.path.basename(path)))
    raise InvalidValueError(
        f"StructuredDataset uri {path!r} is neither a URI nor an existing local file or folder",
        python_type=StructuredDataset,
        value=path,
    )


def _local_copy(ctx: TypeContext, uri: str) -> str:
    """A local file or folder holding the dataset at ``uri`` (plain local paths are used in place)."""
    if TypeContext.is_local(uri):
        return uri
    folder = ctx.new_local_path("dataset")
    ctx.download_directory(uri, folder)
    if os.listdir(folder):
        return folder
    if ctx.exists(uri):
        single = os.path.join(folder, os.path.basename(uri.rstrip("/")) or "data")
        ctx.download_file(uri, single)
        return single
    raise FileNotFoundError(f"no data at {uri!r}")


def _read_frame(
    ctx: TypeContext, stored: literals_pb2.StructuredDataset, frame_type: Any, columns: list[str] | None
) -> Any:
    file_format = stored.metadata.structured_dataset_type.format or PARQUET
    kind = _kind_of(
        frame_type, file_format, lambda detail: InvalidLiteralError(detail, python_type=frame_type)
    )
    if ctx.frames is not None:
        kept = ctx.frames.get(stored.uri, frame_type)
        if kept is not None and (not columns or list(getattr(kept, "column_names", kept.columns)) == columns):
            return kept
        ctx.frames.flush([stored.uri])
    return kind.read(_local_copy(ctx, stored.uri), columns, file_format)
