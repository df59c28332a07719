"""Data frames as structured datasets, with flytekit's literal shape.

An annotation of a registered data frame type (pandas, pyarrow and polars built in; plugins and users add
more, see :mod:`roost.types.dataset_handlers`) converts directly; a :class:`StructuredDataset` wraps a data
frame (or a URI) and reads lazily with ``dataset.open(pandas.DataFrame).all()``. Which encoder writes a
frame, and which decoder reads one, is chosen by the frame's type, the storage protocol and the format.

``Annotated[pd.DataFrame, {"a": int, "b": str}]`` declares columns (and reading keeps only those);
``Annotated[..., "csv"]`` a format (the type's default otherwise, parquet for the built-in kinds);
``Annotated[..., pyarrow_schema]`` an external arrow schema, as flytekit does. No data frame library is
imported until a data frame is converted.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import os
import sys
import types
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import SIMPLE, data_mismatch, literal_mismatch, scalar_kind
from roost.types.context import TypeContext
from roost.types.dataset_handlers import FILE_PROTOCOL, DatasetHandlerError, protocol_of
from roost.types.errors import (
    InvalidLiteralError,
    InvalidValueError,
    UnsupportedTypeError,
    mismatch,
    type_name,
)
from roost.types.pydantic_fields import PydanticField
from roost.types.transformer import TypeTransformer, unwrap_annotated

if TYPE_CHECKING:
    from roost.types.dataset_handlers import DatasetHandlers, StructuredDatasetEncoder

DF = TypeVar("DF")

PARQUET = "parquet"


class StructuredDataset(PydanticField):
    """A data frame, or a reference to stored tabular data, that travels as a structured dataset literal.

    Return ``StructuredDataset(dataframe=df)`` to store a data frame (at ``uri`` if given: ``s3://...`` for a
    blob store, ``bq://...`` for a protocol a plugin serves), or ``StructuredDataset(uri=...,
    file_format="parquet")`` to pass on data that is already stored. A dataset read from a literal loads
    nothing until ``open(pandas.DataFrame).all()`` (or ``.iter()``).
    """

    def __init__(self, dataframe: Any = None, uri: str | None = None, file_format: str = "") -> None:
        self.dataframe = dataframe
        self.uri = uri
        self.file_format = file_format
        self._literal: literals_pb2.StructuredDataset | None = None
        self._context: TypeContext | None = None
        self._handlers: DatasetHandlers | None = None
        self._columns: list[str] | None = None

    @property
    def columns(self) -> list[str]:
        """The column names the literal declares (empty when it declares none)."""
        if self._literal is None:
            return []
        return [c.name for c in self._literal.metadata.structured_dataset_type.columns]

    def open(self, dataframe_type: type[DF]) -> DatasetReader[DF]:
        """A reader that loads the data as ``dataframe_type`` (``pandas.DataFrame``, ``pyarrow.Table``,
        ``polars.DataFrame``, or any type a plugin registered)."""
        return DatasetReader(self, dataframe_type)

    def __repr__(self) -> str:
        return f"StructuredDataset(uri={self.uri!r}, file_format={self.file_format!r})"


class DatasetReader(Generic[DF]):
    """What :meth:`StructuredDataset.open` returns: :meth:`all` loads the data, :meth:`iter` frame by frame."""

    def __init__(self, dataset: StructuredDataset, dataframe_type: type[DF]) -> None:
        self._dataset = dataset
        self._type = dataframe_type

    def all(self) -> DF:
        """The whole dataset as one data frame."""
        held = self._held()
        if held is not None:
            return held
        loaded = self._load()
        if isinstance(loaded, types.GeneratorType):
            loaded.close()
            raise ValueError(
                f"the decoder of {type_name(self._type)} for {self._dataset.uri!r} reads it frame by frame: "
                "use .iter()"
            )
        frame: DF = loaded
        return frame

    def iter(self) -> Iterator[DF]:
        """The dataset frame by frame (one frame when its decoder reads it whole)."""
        held = self._held()
        if held is not None:
            yield held
            return
        loaded = self._load()
        if isinstance(loaded, types.GeneratorType):
            yield from loaded
        else:
            yield loaded

    def _held(self) -> DF | None:
        frame = self._dataset.dataframe
        if frame is None:
            return None
        if not isinstance(frame, self._type):
            raise TypeError(
                f"this StructuredDataset holds a {type(frame).__qualname__}, not a {type_name(self._type)}"
            )
        return frame

    def _load(self) -> Any:
        dataset = self._dataset
        if dataset._literal is None:
            if not dataset.uri:
                raise ValueError("this StructuredDataset has neither a dataframe nor a uri")
            dataset._literal = _dataset_literal(
                dataset.uri, types_pb2.StructuredDatasetType(format=dataset.file_format)
            )
        context = dataset._context or TypeContext.current()
        if context is None or context.closed:
            raise RuntimeError(
                f"cannot read {dataset.uri!r}: no open TypeContext (datasets can be read inside a task, "
                "or within `with TypeContext(...)`)"
            )
        handlers = dataset._handlers or _default_handlers()
        return read_frame(
            context,
            handlers,
            dataset._literal,
            self._type,
            dataset._columns,
            lambda detail: InvalidLiteralError(detail, python_type=self._type),
        )


def _default_handlers() -> DatasetHandlers:
    from roost.types.engine import default_engine

    return default_engine().datasets


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
    """``StructuredDataset`` and data frame classes ↔ structured dataset literals, through the encoders and
    decoders registered with its engine (:attr:`roost.types.engine.TypeEngine.datasets`)."""

    def __init__(self) -> None:
        super().__init__("StructuredDataset Transformer", StructuredDataset)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(structured_dataset_type=_dataset_type(python_type))

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        base, _ = unwrap_annotated(python_type)
        dataset_type = types_pb2.StructuredDatasetType()
        dataset_type.CopyFrom(expected.structured_dataset_type)
        if isinstance(value, StructuredDataset):
            # Also for a data frame type, as flytekit does: stored data passed on by its URI.
            dataset = value
        elif _is_dataset_class(base):
            detail = "wrap a dataframe as StructuredDataset(dataframe=df)" if value is not None else ""
            raise mismatch(python_type, value, detail)
        elif isinstance(value, base):
            dataset = StructuredDataset(dataframe=value)
        else:
            raise mismatch(python_type, value)
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
        handlers = self.engine.datasets
        target = _storage_uri(dataset.uri) if dataset.uri else ""
        protocol = (
            protocol_of(target)
            if target
            else handlers.default_protocol(type(frame)) or protocol_of(ctx.raw_output_prefix)
        )
        try:
            encoder = handlers.encoder(
                type(frame), protocol, dataset_type.format or dataset.file_format, _served(ctx)
            )
        except DatasetHandlerError as exc:
            raise InvalidValueError(str(exc), python_type=StructuredDataset, value=frame) from None
        dataset_type.format = encoder.supported_format
        if encoder.protocol is not None:
            stored = self._finish(
                encoder.encode(ctx, StructuredDataset(frame, target), dataset_type), dataset_type
            )
        else:
            folder = target or ctx.new_remote_path()
            if ctx.frames is not None and not target and encoder.keep_in_memory:
                stored = _dataset_literal(ctx.literal_uri(folder), dataset_type)
                ctx.frames.keep(stored.uri, frame, _postponed(ctx, encoder, frame, folder, stored))
            else:
                stored = self._finish(
                    encoder.encode(ctx, StructuredDataset(frame, folder), dataset_type), dataset_type
                )
        dataset._literal = stored
        return stored

    @staticmethod
    def _finish(
        stored: literals_pb2.StructuredDataset, dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        """The type the encoder left out filled in, and the format the encoder's, as flytekit records it."""
        recorded = stored.metadata.structured_dataset_type
        if not stored.metadata.HasField("structured_dataset_type"):
            recorded.CopyFrom(dataset_type)
        recorded.format = dataset_type.format
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
            dataset._handlers = self.engine.datasets
            dataset._columns = columns
            return dataset
        frame = read_frame(ctx, self.engine.datasets, stored, base, columns, error)
        if isinstance(frame, types.GeneratorType):
            frame.close()
            raise error("its decoder reads it frame by frame: declare a StructuredDataset and use .iter()")
        return frame

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


def _served(ctx: TypeContext) -> set[str]:
    """The protocols the context's blob store serves (plain local paths always)."""
    return {*ctx.storage.schemes, FILE_PROTOCOL}


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


def _postponed(
    ctx: TypeContext,
    encoder: StructuredDatasetEncoder[Any],
    frame: Any,
    folder: str,
    stored: literals_pb2.StructuredDataset,
) -> Callable[[], None]:
    """The write of a frame a local run keeps in memory: run when the data is first needed, possibly after the
    task's context closed, so in a context of its own."""
    storage, prefix = ctx.storage, ctx.raw_output_prefix

    def write() -> None:
        with TypeContext(storage, prefix) as own:
            written = encoder.encode(
                own, StructuredDataset(frame, folder), stored.metadata.structured_dataset_type
            )
        if written.uri != stored.uri:
            raise InvalidValueError(
                f"{encoder!r} stored the frame at {written.uri!r} instead of the folder it was given "
                f"({stored.uri!r}); an encoder that does so must set keep_in_memory = False",
                python_type=StructuredDataset,
                value=frame,
            )

    return write


def read_frame(
    ctx: TypeContext,
    handlers: DatasetHandlers,
    stored: literals_pb2.StructuredDataset,
    frame_type: Any,
    columns: list[str] | None,
    error: Callable[[str], InvalidLiteralError],
) -> Any:
    """The data of a literal as ``frame_type`` (or an iterator of frames, when its decoder reads that way): a
    frame this local run holds in memory if the decoder accepts it, else what the decoder reads."""
    protocol = protocol_of(stored.uri)
    try:
        decoder = handlers.decoder(
            frame_type, protocol, stored.metadata.structured_dataset_type.format, _served(ctx)
        )
    except DatasetHandlerError as exc:
        raise error(str(exc)) from None
    if ctx.frames is not None:
        kept = ctx.frames.get(stored.uri)
        if isinstance(kept, frame_type):
            found = decoder.from_memory(kept, columns)
            if found is not None:
                return found
        ctx.frames.flush([stored.uri])
    return decoder.decode(ctx, stored, columns)
