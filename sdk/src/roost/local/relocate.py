"""Keeping the data a run returns: files, folders and data frames that its output literals point to are copied
out of the run's temporary folder, wherever the literals hold them (blobs, structured datasets, and inside
dataclasses and pydantic models, whose msgpack or JSON form holds their paths)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2

if TYPE_CHECKING:
    from roost.types.memo import FrameMemo

_VALUE_BLOBS = frozenset({"PythonPickle", "NumpyArray"})
"""Blob formats that hold a value read into memory (a pickle, a numpy array), not data the user is handed a
path to."""


def data_folder() -> Path:
    """``$XDG_DATA_HOME/roost`` (``~/.local/share/roost``): where results of local runs are kept."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "roost"


def relocate_literals(
    literals: literals_pb2.LiteralMap,
    temporary_prefix: str,
    folder: Path,
    *,
    frames: FrameMemo | None = None,
    values_too: bool = True,
) -> tuple[literals_pb2.LiteralMap, bool]:
    """A copy of ``literals`` whose data under ``temporary_prefix`` is copied into ``folder`` (created only if
    there is something to keep), and whether anything was. Data frames that ``frames`` holds in memory and
    has not written yet are written first. Without ``values_too``, pickles and numpy arrays stay where they
    are (for outputs read into memory at once, as opposed to cache entries read later)."""
    keeper = _Keeper(temporary_prefix, folder, frames, values_too)
    result = literals_pb2.LiteralMap()
    result.CopyFrom(literals)
    for literal in result.literals.values():
        keeper.literal(literal)
    return result, keeper.kept


class _Keeper:
    def __init__(self, prefix: str, folder: Path, frames: FrameMemo | None, values_too: bool) -> None:
        self.prefix = prefix.removeprefix("file://").rstrip("/")
        self.folder = folder
        self.frames = frames
        self.skipped_formats = frozenset() if values_too else _VALUE_BLOBS
        self.kept = False

    def literal(self, literal: literals_pb2.Literal) -> None:
        kind = literal.WhichOneof("value")
        if kind == "collection":
            for item in literal.collection.literals:
                # Primitives refer to no data (an unset message reads as empty: other items are not skipped).
                if item.scalar.WhichOneof("value") != "primitive":
                    self.literal(item)
        elif kind == "map":
            for item in literal.map.literals.values():
                self.literal(item)
        elif kind == "scalar":
            self.scalar(literal.scalar)

    def scalar(self, scalar: literals_pb2.Scalar) -> None:
        which = scalar.WhichOneof("value")
        if which == "union":
            self.literal(scalar.union.value)
        elif which == "blob" and scalar.blob.metadata.type.format not in self.skipped_formats:
            scalar.blob.uri = self.uri(scalar.blob.uri)
        elif which in ("structured_dataset", "schema"):
            holder = getattr(scalar, which)
            holder.uri = self.uri(holder.uri)
        elif which == "binary" and scalar.binary.tag == "msgpack":
            import msgpack

            data = msgpack.unpackb(scalar.binary.value, strict_map_key=False)
            changed = _map_strings(data, self.uri)
            if changed != data:
                scalar.binary.value = msgpack.packb(changed)
        elif which == "generic":
            from google.protobuf import json_format

            data = json_format.MessageToDict(scalar.generic)
            changed = _map_strings(data, self.uri)
            if changed != data:
                scalar.generic.Clear()
                scalar.generic.update(changed)

    def uri(self, uri: str) -> str:
        """Copy the data at ``uri`` (a ``file://`` URI or a plain path, as literals record local data) if it
        lies under the temporary prefix; return how the copy is recorded, in the same form."""
        path = uri.removeprefix("file://")
        if not self.prefix or "://" in path or not path.startswith(self.prefix + "/"):
            return uri
        if self.frames is not None and self.frames.pending(uri):
            self.frames.flush([uri])
        source = Path(path)
        if not source.exists():
            return uri
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        target = self.folder / digest / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
        self.kept = True
        trailing = "/" if uri.endswith("/") else ""
        return (target.as_uri() if uri.startswith("file://") else str(target)) + trailing


def _map_strings(data: Any, change: Callable[[str], str]) -> Any:
    """``data`` (msgpack or JSON) with every string value (not map key) passed through ``change``."""
    if isinstance(data, str):
        return change(data)
    if isinstance(data, list):
        return [_map_strings(item, change) for item in data]
    if isinstance(data, dict):
        return {key: _map_strings(value, change) for key, value in data.items()}
    return data
