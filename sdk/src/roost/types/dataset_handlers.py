"""Structured-dataset encoders and decoders, and the registry that picks one by (Python type, protocol, format).

An *encoder* stores a data frame of one Python type and returns the ``StructuredDataset`` literal that points at
it; a *decoder* reads such a literal back into that type, keeping only the columns asked for. Each declares the
storage *protocol* it serves (``"bq"`` for ``bq://`` tables; ``None``: any protocol the blob store serves, its
files written and read through :class:`~roost.types.context.TypeContext`) and the *format* it writes or reads
(``"parquet"``, ``"csv"``; ``""``: any). pandas, pyarrow and polars are registered the same way
(:mod:`roost.types.dataframes`), through the ``roost_structured_dataset_handlers`` hook any plugin implements.

Choosing a handler for a type, protocol and format looks along the type's class hierarchy and takes, for the
first class that has handlers: the handler of that protocol and format, else that protocol's any-format
handler, else (when the blob store serves the protocol) the any-protocol handler of the format, else the
any-protocol any-format handler. A format left unsaid is the type's default format (the one registered with
``default_format=True``, else parquet if the type has a parquet encoder, else its first encoder's); a protocol
left unsaid is the type's default protocol if one was registered, else that of the URI the data goes to.
"""

from __future__ import annotations

import abc
import os
import sys
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeAlias, TypeVar

from flyteidl.core import literals_pb2, types_pb2

from roost.types.errors import type_name

if TYPE_CHECKING:
    from roost.types.context import TypeContext
    from roost.types.structured import StructuredDataset

DF = TypeVar("DF")

FILE_PROTOCOL = "file"
"""The protocol of plain local paths."""
PARQUET = "parquet"


class _Handler(abc.ABC, Generic[DF]):
    """What encoders and decoders declare: the Python type (a class, or ``"package.Class"`` so that registering
    imports nothing), the protocol (``None``: any blob-store protocol) and the format (``""``: any)."""

    def __init__(
        self, python_type: type[DF] | str, protocol: str | None = None, supported_format: str = ""
    ) -> None:
        self.python_type = python_type
        self.protocol = normal_protocol(protocol)
        self.supported_format = supported_format

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {describe_handler(self)}>"


class StructuredDatasetEncoder(_Handler[DF]):
    """Stores data frames of ``python_type`` at ``protocol`` in ``supported_format``."""

    keep_in_memory: ClassVar[bool] = True
    """Whether a local run may keep frames of this type in memory between the tasks of one process, writing
    them only when something needs the data (for any-protocol encoders). Turn it off for frames that do not
    outlive their task (a Spark data frame dies with its session)."""

    @abc.abstractmethod
    def encode(
        self,
        ctx: TypeContext,
        dataset: StructuredDataset,
        dataset_type: types_pb2.StructuredDatasetType,
    ) -> literals_pb2.StructuredDataset:
        """Store ``dataset.dataframe`` and return the literal pointing at it.

        An any-protocol encoder writes under the folder ``dataset.uri`` (always set: the user's, or a fresh
        folder under the raw output prefix) through ``ctx``, and the literal's URI is that folder (as
        ``ctx.literal_uri(dataset.uri)``); during a local run the call may come later than the task's end,
        when the data is first needed. A protocol encoder gets the user's URI, or an empty one, in which case
        it picks where the data goes. ``dataset_type`` is the declared type (columns, external schema); Roost
        sets the literal's format to :attr:`supported_format`, as flytekit does.
        """


class StructuredDatasetDecoder(_Handler[DF]):
    """Reads ``StructuredDataset`` literals at ``protocol`` in ``supported_format`` as ``python_type``."""

    @abc.abstractmethod
    def decode(
        self, ctx: TypeContext, dataset: literals_pb2.StructuredDataset, columns: list[str] | None
    ) -> DF | Iterator[DF]:
        """The data at ``dataset.uri`` as one frame (or an iterator of frames, for ``open(...).iter()``),
        keeping only ``columns`` when given. ``ctx.local_copy(dataset.uri)`` downloads stored files."""

    def from_memory(self, frame: DF, columns: list[str] | None) -> DF | None:
        """A frame a local run kept in memory, as this decoder would read it; ``None`` reads the stored data
        instead. By default a copy (when the frame has ``copy()``) if no columns are asked for."""
        if columns:
            return None
        copy = getattr(frame, "copy", None)
        return copy() if callable(copy) else frame


DatasetHandler: TypeAlias = StructuredDatasetEncoder[Any] | StructuredDatasetDecoder[Any]
"""An encoder or a decoder."""


class DatasetHandlerError(LookupError):
    """No handler fits a (type, protocol, format), or a value is not a registered data frame type."""


def normal_protocol(protocol: str | None) -> str | None:
    """``"s3://"`` and ``"s3"`` are the same protocol; ``None`` is any; ``""`` is a mistake."""
    if protocol is None:
        return None
    name = protocol.removesuffix("://")
    if not name:
        raise ValueError(
            "a handler's protocol is a scheme like 's3' or 'bq', or None for any blob-store protocol"
        )
    return name


def protocol_of(uri: str) -> str:
    """The protocol of a URI (``s3`` for ``s3://...``); plain local paths are ``file``."""
    scheme, sep, _ = uri.partition("://")
    return scheme if sep else FILE_PROTOCOL


def describe_handler(handler: _Handler[Any]) -> str:
    """``writes pandas.DataFrame to any blob store as 'parquet'``, for messages and listings."""
    verb, place = ("writes", "to") if isinstance(handler, StructuredDatasetEncoder) else ("reads", "from")
    file_format = repr(handler.supported_format) if handler.supported_format else "any format"
    return f"{verb} {_type_label(handler.python_type)} {place} {describe_protocol(handler.protocol)} as {file_format}"


def describe_protocol(protocol: str | None) -> str:
    """``bq://``, or ``any blob store`` for ``None``."""
    return "any blob store" if protocol is None else f"{protocol}://"


def data_files(local: str) -> list[str]:
    """The data files of a downloaded dataset folder (or the file itself), in order, without ``_SUCCESS``-style
    markers and hidden files: what a file-based decoder reads."""
    if os.path.isfile(local):
        return [local]
    found: list[str] = []
    for folder, dirs, files in os.walk(local):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        found.extend(os.path.join(folder, f) for f in sorted(files) if not f.startswith(("_", ".")))
    return found


def resolve_class_name(name: str) -> type[Any] | None:
    """The class ``"package.Class"`` names, once ``package`` has been imported (by someone else); else None."""
    module_name, _, attribute = name.rpartition(".")
    module = sys.modules.get(module_name)
    found = getattr(module, attribute, None) if module is not None else None
    return found if isinstance(found, type) else None


def _type_label(python_type: type[Any] | str) -> str:
    if isinstance(python_type, str):
        return python_type
    return f"{python_type.__module__.partition('.')[0]}.{python_type.__qualname__}"


_Key = type[Any] | str
_Table = dict[str | None, dict[str, Any]]


@dataclass
class _TypeHandlers:
    """The handlers of one Python type, by protocol and format, and the type's defaults."""

    tables: dict[str, _Table] = field(default_factory=lambda: {"encoder": {}, "decoder": {}})
    default_format: str | None = None
    explicit_format: bool = False
    default_protocol: str | None = None


class DatasetHandlers:
    """The encoders and decoders of one type engine, by Python type, protocol and format."""

    def __init__(self) -> None:
        self._types: dict[_Key, _TypeHandlers] = {}
        self._modules_seen = 0
        self._lock = threading.RLock()

    def add(
        self, handler: DatasetHandler, *, default_format: bool = False, default_protocol: bool = False
    ) -> None:
        """Register a handler; a second handler for the same (type, protocol, format) is an error."""
        kind = _kind(handler)
        key: _Key = handler.python_type
        if not isinstance(key, type | str):
            raise TypeError(f"{handler!r}: python_type must be a class or a 'package.Class' name")
        if default_protocol and handler.protocol is None:
            raise ValueError(
                f"{handler!r} serves any protocol, so it cannot be the default protocol of its type"
            )
        if default_format and not handler.supported_format:
            raise ValueError(f"{handler!r} takes any format, so it cannot give its type a default format")
        with self._lock:
            self._resolve_names()
            if isinstance(key, str):
                key = resolve_class_name(key) or key
            entry = self._types.setdefault(key, _TypeHandlers())
            by_format = entry.tables[kind].setdefault(handler.protocol, {})
            if handler.supported_format in by_format:
                raise ValueError(
                    f"cannot register {handler!r}: {by_format[handler.supported_format]!r} is registered for "
                    "the same type, protocol and format"
                )
            if default_protocol:
                if entry.default_protocol not in (None, handler.protocol):
                    raise ValueError(
                        f"cannot make {handler.protocol}:// the default protocol of {_type_label(key)}: it is "
                        f"{entry.default_protocol}:// already"
                    )
                entry.default_protocol = handler.protocol
            if default_format:
                if entry.explicit_format and entry.default_format != handler.supported_format:
                    raise ValueError(
                        f"cannot make {handler.supported_format!r} the default format of {_type_label(key)}: "
                        f"it is {entry.default_format!r} already"
                    )
                entry.default_format, entry.explicit_format = handler.supported_format, True
            elif (
                not entry.explicit_format
                and kind == "encoder"
                and handler.supported_format
                and (not entry.default_format or handler.supported_format == PARQUET)
            ):
                # Unless a handler says otherwise: parquet when the type has it, else its first format.
                entry.default_format = handler.supported_format
            by_format[handler.supported_format] = handler

    def python_types(self) -> list[str]:
        """The data frame types that have handlers, by name, in registration order."""
        with self._lock:
            return list(dict.fromkeys(_type_label(key) for key in self._types))

    def handlers(self) -> list[DatasetHandler]:
        """Every registered handler."""
        with self._lock:
            return [
                handler
                for entry in self._types.values()
                for table in entry.tables.values()
                for formats in table.values()
                for handler in formats.values()
            ]

    def handles(self, frame_type: Any) -> bool:
        """Whether ``frame_type`` (or a base class of it) has handlers."""
        return (
            self._entry("encoder", frame_type) is not None or self._entry("decoder", frame_type) is not None
        )

    def default_protocol(self, frame_type: Any) -> str | None:
        """The protocol frames of this type go to when no URI says otherwise, if one was registered."""
        found = self._entry("encoder", frame_type)
        return None if found is None else found.default_protocol

    def encoder(
        self, frame_type: Any, protocol: str, file_format: str, served: Collection[str]
    ) -> StructuredDatasetEncoder[Any]:
        """The encoder for frames of ``frame_type`` going to ``protocol`` in ``file_format`` (``""``: the type's
        default); ``served`` are the protocols the blob store serves."""
        found = self._choose("encoder", frame_type, protocol, file_format, served)
        assert isinstance(found, StructuredDatasetEncoder)
        return found

    def decoder(
        self, frame_type: Any, protocol: str, file_format: str, served: Collection[str]
    ) -> StructuredDatasetDecoder[Any]:
        """The decoder reading data at ``protocol`` in ``file_format`` as ``frame_type``."""
        found = self._choose("decoder", frame_type, protocol, file_format, served)
        assert isinstance(found, StructuredDatasetDecoder)
        return found

    def _choose(
        self, kind: str, frame_type: Any, protocol: str, file_format: str, served: Collection[str]
    ) -> DatasetHandler:
        entry = self._entry(kind, frame_type)
        if entry is None:
            names = ", ".join(self.python_types()) or "none"
            raise DatasetHandlerError(
                f"{type_name(frame_type)} is not a dataframe type Roost can store ({names})"
            )
        table = entry.tables[kind]
        wanted = file_format or entry.default_format or ""
        protocols: list[str | None] = [protocol, None] if protocol in served else [protocol]
        for candidate in protocols:
            by_format = table.get(candidate) or {}
            for name in (wanted, ""):
                if name in by_format:
                    return by_format[name]  # type: ignore[no-any-return]
            if not file_format and len(by_format) == 1:
                return next(iter(by_format.values()))  # type: ignore[no-any-return]
        action, place = ("writes", "to") if kind == "encoder" else ("reads", "from")
        where = f"{protocol}://" if protocol != FILE_PROTOCOL else "local files"
        offered = "; ".join(
            f"{describe_protocol(candidate)} as {', '.join(repr(f) if f else 'any format' for f in formats)}"
            for candidate, formats in table.items()
            if formats
        )
        as_format = f" as {wanted!r}" if wanted else ""
        raise DatasetHandlerError(
            f"no {kind} {action} {_type_label(frame_type)} {place} {where}{as_format}; registered: {offered}"
        )

    def _entry(self, kind: str, frame_type: Any) -> _TypeHandlers | None:
        """The handlers of the nearest class of ``frame_type`` that has handlers of this kind."""
        if not isinstance(frame_type, type):
            return None
        with self._lock:
            self._resolve_names()
            for cls in frame_type.__mro__:
                entry = self._types.get(cls)
                if entry is not None and entry.tables[kind]:
                    return entry
        return None

    def _resolve_names(self) -> None:
        """Turn class names into classes once their module has been imported (only when one was)."""
        if len(sys.modules) == self._modules_seen:
            return
        self._modules_seen = len(sys.modules)
        for name in [key for key in self._types if isinstance(key, str)]:
            resolved = resolve_class_name(name)
            if resolved is not None:
                self._types[resolved] = self._types.pop(name)
            elif name.rpartition(".")[0] in sys.modules:
                self._modules_seen = 0  # its module is still being imported: look again later


def _kind(handler: object) -> str:
    if isinstance(handler, StructuredDatasetEncoder):
        return "encoder"
    if isinstance(handler, StructuredDatasetDecoder):
        return "decoder"
    raise TypeError(f"{handler!r} is neither a StructuredDatasetEncoder nor a StructuredDatasetDecoder")
