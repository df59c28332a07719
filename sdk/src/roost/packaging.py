"""Packaging user code: finding its files, importing it, and the deterministic code archive fast
registration ships (a tar.gz of the files under the source root)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from roost.errors import WorkflowDefinitionError
from roost.loader import ModuleLoadError, load_file

_SKIPPED_FOLDERS = {"__pycache__", "site-packages", "node_modules"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}
ARCHIVE_MTIME = 315532800
"""1980-01-01, the earliest time zip and tar tools agree on: archive entries carry it so archives of the
same sources are byte-identical."""


def python_files(path: str) -> list[Path]:
    """The Python files at ``path`` (a file, or a folder searched recursively)."""
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*.py") if "__pycache__" not in p.parts and not p.name.startswith(".")
    )


@dataclass
class LoadedCode:
    """The modules of the files under a path that imported, and why each of the others did not."""

    modules: list[ModuleType] = field(default_factory=list)
    failures: list[ModuleLoadError] = field(default_factory=list)

    def check(self, path: str, action: str, *, skip_errors: bool = False) -> None:
        """Raise one error listing every file that failed (``action`` says what was not done), unless
        ``skip_errors``."""
        if not self.failures or skip_errors:
            return
        total = len(self.modules) + len(self.failures)
        lines = "\n".join(f"  {failure.file}: {failure.reason}" for failure in self.failures)
        raise WorkflowDefinitionError(
            f"{len(self.failures)} of {total} file(s) under {path} failed to load, so {action}:\n{lines}\n"
            "Fix them, or pass --skip-errors to go on without them."
        )


def load_modules(path: str) -> LoadedCode:
    """Import every Python file under ``path``, collecting the failures (each names its file)."""
    code = LoadedCode()
    for file in python_files(path):
        try:
            code.modules.append(load_file(file))
        except ModuleLoadError as exc:
            code.failures.append(exc)
    return code


def code_archive(source_root: Path) -> tuple[str, bytes]:
    """A deterministic ``fast<md5>.tar.gz`` of the files under ``source_root``: the sources and the data files
    beside them, without hidden files, caches, compiled files and virtualenvs."""
    entries = [(p.relative_to(source_root).as_posix(), p.read_bytes()) for p in _shipped(source_root)]
    digest = hashlib.md5(usedforsecurity=False)
    for name, data in entries:
        digest.update(name.encode())
        digest.update(data)
    return f"fast{digest.hexdigest()}.tar.gz", tgz(entries, mtime=ARCHIVE_MTIME)


def _shipped(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in _SKIPPED_FOLDERS or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if path.is_dir():
            if not (path / "pyvenv.cfg").exists():
                yield from _shipped(path)
        elif path.is_file():
            yield path


def tgz(entries: list[tuple[str, bytes]], *, mtime: int = 0) -> bytes:
    """A gzipped tar of (name, bytes) entries, deterministic: fixed times, modes and owners."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()
