"""Moving data out of a run's temporary folder: files, folders and data frames that literals point to."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from flyteidl.core import literals_pb2


def data_folder() -> Path:
    """``$XDG_DATA_HOME/roost`` (``~/.local/share/roost``): where results of local runs are kept."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "roost"


def relocate_literals(
    literals: literals_pb2.LiteralMap, temporary_prefix: str, folder: Path
) -> literals_pb2.LiteralMap:
    """A copy of ``literals`` whose URIs under ``temporary_prefix`` point to copies of that data in ``folder``."""
    result = literals_pb2.LiteralMap()
    result.CopyFrom(literals)
    for literal in result.literals.values():
        _relocate(literal, temporary_prefix, folder)
    return result


def _relocate(literal: literals_pb2.Literal, prefix: str, folder: Path) -> None:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        for item in literal.collection.literals:
            _relocate(item, prefix, folder)
    elif kind == "map":
        for item in literal.map.literals.values():
            _relocate(item, prefix, folder)
    elif kind == "scalar":
        scalar = literal.scalar
        which = scalar.WhichOneof("value")
        if which == "union":
            _relocate(scalar.union.value, prefix, folder)
        elif which in ("blob", "structured_dataset", "schema"):
            holder = getattr(scalar, which)
            holder.uri = _copy(holder.uri, prefix, folder)


def _copy(uri: str, prefix: str, folder: Path) -> str:
    """Copy the data at ``uri`` (a ``file://`` URI or a plain path, as literals record local data) if it lies
    under ``prefix``; return how the copy is recorded, in the same form."""
    prefix_path = prefix.removeprefix("file://")
    path = uri.removeprefix("file://")
    if not prefix_path or "://" in path or not path.startswith(prefix_path):
        return uri
    source = Path(path)
    if not source.exists():
        return uri
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    target = folder / digest / source.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    trailing = "/" if uri.endswith("/") else ""
    return (target.as_uri() if uri.startswith("file://") else str(target)) + trailing
