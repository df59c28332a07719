"""``File`` and ``Directory``: local paths that travel as blob literals, like flytekit's FlyteFile and
FlyteDirectory.

A task returns a ``File`` (or a plain ``str`` / ``pathlib.Path`` where ``File`` is declared) naming a local
file: it is uploaded under the raw output prefix and the literal points there. A value that already names a
URI (``s3://...``), or a ``File`` read from a literal and passed on, is recorded as it is, without copying.

A ``File`` read from a literal downloads lazily: on :meth:`File.download`, :meth:`File.open` or
``os.fspath(file)`` (so ``open(file)`` and ``pandas.read_csv(file)`` work). Downloads land in the
:class:`~roost.types.context.TypeContext`'s local folder and disappear when it closes. ``File["csv"]`` and
``Directory["csv"]`` declare a format, which goes into the blob type.
"""

from __future__ import annotations

import os
from typing import IO, Any, ClassVar

from flyteidl.core import literals_pb2, types_pb2

from roost.types._protos import MULTIPART, SINGLE, blob_literal, data_mismatch, literal_mismatch, scalar_kind
from roost.types.context import TypeContext
from roost.types.errors import InvalidValueError, mismatch, type_name
from roost.types.pydantic_fields import PydanticField
from roost.types.transformer import TypeTransformer, unwrap_annotated


def _is_uri(path: str) -> bool:
    return "://" in path


def _format_of(item: Any) -> str:
    if not isinstance(item, str):
        raise TypeError(f"a format must be a string such as 'csv', not {item!r}")
    return item.strip().lstrip("~").lstrip(".")


class _BlobPath(PydanticField, os.PathLike[str]):
    """What ``File`` and ``Directory`` share: a source path or URI, lazily made local."""

    format: ClassVar[str] = ""
    """The blob format this class declares (``File["csv"].format == "csv"``); empty for any format."""
    _formats: ClassVar[dict[str, type[Any]]]

    def __init__(self, path: str | os.PathLike[str], *, remote_path: str | bool | None = None) -> None:
        self._path = os.fspath(path)
        self._remote_path = remote_path
        self._remote_source = self._path if _is_uri(self._path) else None
        self._local_path: str | None = None if self._remote_source else self._path
        self._context: TypeContext | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_formats" not in cls.__dict__ and "format" not in cls.__dict__:
            cls._formats = {}

    def __class_getitem__(cls, item: Any) -> Any:
        """``File["csv"]``: the subclass whose blob format is ``csv`` (one class per format)."""
        blob_format = _format_of(item)
        if not blob_format:
            return cls
        if blob_format not in cls._formats:
            name = f"{cls.__name__}[{blob_format!r}]"
            cls._formats[blob_format] = type(
                name, (cls,), {"format": blob_format, "__module__": cls.__module__}
            )
        return cls._formats[blob_format]

    @classmethod
    def _from_uri(cls, uri: str, context: TypeContext) -> Any:
        made = cls(uri)
        made._context = context
        return made

    @property
    def path(self) -> str:
        """The local path or URI this value was made from (for task inputs: the literal's URI)."""
        return self._path

    @property
    def remote_source(self) -> str | None:
        """The URI the data lives at, when it is not local."""
        return self._remote_source

    @property
    def remote_path(self) -> str | bool | None:
        """Where to upload on output: a URI, ``None`` for a fresh one, ``False`` to record ``path`` as is."""
        return self._remote_path

    @property
    def downloaded(self) -> bool:
        """Whether the data is available locally (always true for local values)."""
        return self._local_path is not None

    def download(self) -> str:
        """The local path of the data, downloading it first if it is remote."""
        if self._local_path is None:
            context = self._context or TypeContext.current()
            if context is None or context.closed:
                raise RuntimeError(
                    f"cannot download {self._path!r}: no open TypeContext (remote data can be read inside a "
                    "task, or within `with TypeContext(...)`)"
                )
            self._local_path = self._fetch(context)
        return self._local_path

    def _fetch(self, context: TypeContext) -> str:
        raise NotImplementedError

    def __fspath__(self) -> str:
        return self.download()

    def __str__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _BlobPath):
            return NotImplemented
        return (type(self).format, self._path, self._remote_path) == (
            type(other).format,
            other._path,
            other._remote_path,
        )

    def __hash__(self) -> int:
        return hash((type(self).format, self._path))


class File(_BlobPath):
    """A file that travels as a single blob. ``File["csv"]`` declares the format ``csv``.

    ``File(path)`` names a local file (uploaded when returned from a task) or a URI (passed on as is);
    ``remote_path`` picks the upload destination, or ``False`` to record ``path`` without uploading;
    ``metadata`` travels in the literal's metadata.
    """

    _formats: ClassVar[dict[str, type[Any]]] = {}

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        remote_path: str | bool | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(path, remote_path=remote_path)
        self._metadata = dict(metadata) if metadata else None

    @property
    def metadata(self) -> dict[str, str] | None:
        """Key-value metadata carried in the literal."""
        return self._metadata

    def open(self, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """Open the local copy (downloading first if needed); ``kwargs`` go to :func:`open`."""
        file: IO[Any] = open(self.download(), mode, **kwargs)  # noqa: SIM115 -- the caller closes it
        return file

    def _fetch(self, context: TypeContext) -> str:
        local = context.new_local_path(os.path.basename(self._path.rstrip("/")) or None)
        context.download_file(self._path, local)
        return local


class Directory(_BlobPath):
    """A folder that travels as a multipart blob. ``Directory["csv"]`` declares the format ``csv``.

    ``Directory(path)`` names a local folder (uploaded when returned from a task) or a URI (passed on as
    is); ``remote_path`` works as for :class:`File`.
    """

    _formats: ClassVar[dict[str, type[Any]]] = {}

    def _fetch(self, context: TypeContext) -> str:
        local = context.new_local_path(os.path.basename(self._path.rstrip("/")) or None)
        context.download_directory(self._path, local)
        return local


class _BlobTransformer(TypeTransformer[Any]):
    """Shared conversions of files and folders."""

    dimensionality: int
    kind: str
    value_class: type[_BlobPath]

    def _class(self, python_type: Any) -> type[_BlobPath]:
        cls, _ = unwrap_annotated(python_type)
        blob_class: type[_BlobPath] = cls
        return blob_class

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(
            blob=types_pb2.BlobType(
                format=self._class(python_type).format, dimensionality=self.dimensionality
            )
        )

    def _exists(self, path: str) -> bool:
        raise NotImplementedError

    def _upload(self, ctx: TypeContext, local: str, destination: str) -> str:
        raise NotImplementedError

    def _uri_of(self, ctx: TypeContext, value: Any, python_type: Any) -> tuple[str, dict[str, str] | None]:
        """The URI to record for ``value`` (uploading local data) and the metadata to carry."""
        metadata = None
        if isinstance(value, _BlobPath):
            if not isinstance(value, self.value_class):
                raise mismatch(python_type, value)
            metadata = value.metadata if isinstance(value, File) else None
            if value.remote_source is not None or value.remote_path is False:
                return value.path, metadata
            local, destination = value.path, value.remote_path
        elif isinstance(value, str | os.PathLike):
            local, destination = os.fspath(value), None
            if _is_uri(local):
                return local, None
        else:
            raise mismatch(python_type, value)
        if not self._exists(local):
            raise InvalidValueError(
                f"expected {type_name(python_type)} but {local!r} is not an existing local {self.kind}",
                python_type=python_type,
                value=value,
            )
        name = os.path.basename(os.path.abspath(local)) if self.kind == "file" else None
        target = destination if isinstance(destination, str) else ctx.new_remote_path(name)
        return self._upload(ctx, local, target), metadata

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        uri, metadata = self._uri_of(ctx, value, python_type)
        literal = blob_literal(uri, self._class(python_type).format, self.dimensionality)
        if metadata:
            literal.metadata.update(metadata)
        return literal

    def _read(
        self, ctx: TypeContext, uri: str, python_type: Any, error: Any, metadata: dict[str, str]
    ) -> Any:
        if TypeContext.is_local(uri) and not self._exists(uri):
            raise error(f"{uri!r} is not an existing local {self.kind}")
        value = self._class(python_type)._from_uri(uri, ctx)
        if isinstance(value, File):
            value._metadata = metadata or None
        return value

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        if (
            scalar_kind(literal) != "blob"
            or literal.scalar.blob.metadata.type.dimensionality != self.dimensionality
        ):
            raise literal_mismatch(python_type, literal)
        return self._read(
            ctx,
            literal.scalar.blob.uri,
            python_type,
            lambda detail: literal_mismatch(python_type, literal, detail),
            dict(literal.metadata),
        )

    def to_struct_data(self, ctx: TypeContext, value: Any, python_type: Any) -> Any:
        uri, metadata = self._uri_of(ctx, value, python_type)
        return {"path": uri, "metadata": metadata} if metadata else {"path": uri}

    def from_struct_data(self, ctx: TypeContext, data: Any, python_type: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise data_mismatch(python_type, data, "expected a map with a 'path'")
        metadata = data.get("metadata")
        return self._read(
            ctx,
            data["path"],
            python_type,
            lambda detail: data_mismatch(python_type, data, detail),
            metadata if isinstance(metadata, dict) else {},
        )

    def _guess(self, literal_type: types_pb2.LiteralType, base: type[_BlobPath]) -> Any | None:
        if (
            literal_type.WhichOneof("type") != "blob"
            or literal_type.blob.dimensionality != self.dimensionality
        ):
            return None
        return base[literal_type.blob.format]  # type: ignore[index]


_PATH_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "string", "format": "path"}], "default": None}


class FileTransformer(_BlobTransformer):
    """``File`` ↔ single blobs (flytekit's FlyteFile encoding)."""

    dimensionality = SINGLE
    kind = "file"
    value_class = File

    def __init__(self) -> None:
        super().__init__("FlyteFilePath", File)

    def _exists(self, path: str) -> bool:
        return os.path.isfile(path)

    def _upload(self, ctx: TypeContext, local: str, destination: str) -> str:
        return ctx.upload_file(local, destination)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        # Pickles and numpy arrays are single blobs too; their transformers answer before this one.
        return self._guess(literal_type, File)

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        metadata = {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "propertyNames": {"type": "string"},
        }
        return {
            "type": "object",
            "title": "FlyteFile",
            "properties": {
                "path": dict(_PATH_SCHEMA),
                "metadata": {"anyOf": [metadata, {"type": "null"}], "default": None},
            },
            "additionalProperties": False,
        }


class DirectoryTransformer(_BlobTransformer):
    """``Directory`` ↔ multipart blobs (flytekit's FlyteDirectory encoding)."""

    dimensionality = MULTIPART
    kind = "folder"
    value_class = Directory

    def __init__(self) -> None:
        super().__init__("FlyteDirectory", Directory)

    def _exists(self, path: str) -> bool:
        return os.path.isdir(path)

    def _upload(self, ctx: TypeContext, local: str, destination: str) -> str:
        return ctx.upload_directory(local, destination)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any | None:
        return self._guess(literal_type, Directory)

    def json_schema(self, python_type: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "title": "FlyteDirectory",
            "properties": {"path": dict(_PATH_SCHEMA)},
            "additionalProperties": False,
        }
