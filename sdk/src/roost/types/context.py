"""What transformers need at run time: blob storage, where uploads go, and a local folder for downloads.

Whoever runs a task owns one :class:`TypeContext`: it reads the inputs, runs the task, writes the outputs,
then closes the context, which deletes every file downloaded through it. Used as a context manager, the
context is also *current* while the block runs, so a ``File("s3://...")`` made inside a task can download
itself.

URIs: uploads go under ``raw_output_prefix`` (``file://`` or ``s3://``). A blob uploaded to a ``file://``
location is recorded in its literal as the plain absolute path, as flytekit records local data, because
flytekit 1.16 cannot open ``file://`` URIs of files, folders and pickles. Literals written by others may hold
any URI the storage serves, or a plain local path, which is read from the local filesystem directly.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from roost.types.memo import FrameMemo
from roost_core.storage import Storage, StorageError

_FILE_SCHEME = "file://"
_current: contextvars.ContextVar[TypeContext | None] = contextvars.ContextVar(
    "roost_type_context", default=None
)


class TypeContext:
    """Storage, an upload prefix and a lazily created local folder, shared by the transformers of one run.

    ``work_dir`` is where the private download folder is created (the system temp folder by default; made
    on first use); :meth:`close` deletes that folder and everything in it.
    """

    def __init__(
        self,
        storage: Storage,
        raw_output_prefix: str,
        *,
        work_dir: str | os.PathLike[str] | None = None,
        frames: FrameMemo | None = None,
    ) -> None:
        scheme, sep, rest = raw_output_prefix.partition("://")
        if not sep or not rest.strip("/"):
            raise ValueError(
                f"raw output prefix {raw_output_prefix!r} is not a URI: expected file:///path or s3://bucket/path"
            )
        if scheme not in storage.schemes:
            served = ", ".join(f"{s}://" for s in storage.schemes) or "none"
            raise ValueError(
                f"raw output prefix {raw_output_prefix!r}: storage serves no {scheme}:// ({served})"
            )
        self.storage = storage
        self.raw_output_prefix = raw_output_prefix.rstrip("/")
        self.frames = frames
        """Where a local run keeps dataframes in memory instead of writing them at once (None: write)."""
        self._work_dir = os.fspath(work_dir) if work_dir is not None else None
        self._local_dir: str | None = None
        self._closed = False
        self._tokens: list[contextvars.Token[TypeContext | None]] = []

    @classmethod
    def current(cls) -> TypeContext | None:
        """The context of the innermost ``with TypeContext(...)`` block running now, if any."""
        return _current.get()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    @property
    def local_dir(self) -> str:
        """This context's private local folder, created on first use."""
        if self._closed:
            raise RuntimeError("this TypeContext is closed; its local files are gone")
        if self._local_dir is None:
            if self._work_dir is not None:
                os.makedirs(self._work_dir, exist_ok=True)
            self._local_dir = tempfile.mkdtemp(prefix="roost-types-", dir=self._work_dir)
        return self._local_dir

    @staticmethod
    def unique_name() -> str:
        """A random name that does not repeat: 32 hex digits."""
        return uuid.uuid4().hex

    def new_remote_path(self, name: str | None = None) -> str:
        """A fresh URI under the raw output prefix: ``<prefix>/<unique>`` or ``<prefix>/<unique>/<name>``."""
        parts = [self.unique_name(), *([name] if name else [])]
        return Storage.join(self.raw_output_prefix, *parts)

    def new_local_path(self, name: str | None = None) -> str:
        """A fresh path in the local folder, whose parent folder exists; nothing is created at the path."""
        folder = os.path.join(self.local_dir, self.unique_name())
        os.makedirs(folder)
        return os.path.join(folder, name) if name else os.path.join(folder, "data")

    # ---------------------------------------------------------------------------------------------
    # URIs of literals

    @staticmethod
    def is_local(uri: str) -> bool:
        """Whether ``uri`` is a plain local path (no ``scheme://``)."""
        return "://" not in uri

    @staticmethod
    def literal_uri(uri: str) -> str:
        """How a blob stored at ``uri`` is recorded in a literal: ``file://`` URIs as plain paths."""
        return uri[len(_FILE_SCHEME) :] if uri.startswith(_FILE_SCHEME) else uri

    # ---------------------------------------------------------------------------------------------
    # Blobs (plain local paths go to the local filesystem, URIs to storage)

    def read(self, uri: str) -> bytes:
        """The bytes of the blob at ``uri``."""
        if self.is_local(uri):
            try:
                return Path(uri).read_bytes()
            except OSError as exc:
                raise StorageError(f"cannot read {uri!r}: {exc.strerror or exc}") from exc
        return self.storage.read(uri)

    def write(self, uri: str, data: bytes) -> str:
        """Write a blob; returns the URI to record in a literal."""
        self.storage.write(uri, data)
        return self.literal_uri(uri)

    def exists(self, uri: str) -> bool:
        """Whether a blob (not a folder) exists at ``uri``."""
        if self.is_local(uri):
            return os.path.isfile(uri)
        return self.storage.exists(uri)

    def list(self, uri: str) -> Iterator[tuple[str, str]]:
        """``(blob URI, path relative to uri)`` for every blob under the folder ``uri``, in lexical order."""
        if self.is_local(uri):
            root = os.path.abspath(uri)
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(folder, name)
                    yield path, os.path.relpath(path, root).replace(os.sep, "/")
            return
        base = uri.rstrip("/") + "/"
        for blob in self.storage.list(uri):
            yield blob, blob[len(base) :]

    def upload_file(self, local_path: str, uri: str) -> str:
        """Copy a local file to ``uri``; returns the URI to record in a literal."""
        return self.write(uri, Path(local_path).read_bytes())

    def upload_directory(self, local_dir: str, uri: str) -> str:
        """Copy a local folder's files (recursively) under ``uri``; returns the URI to record."""
        for folder, dirs, files in os.walk(local_dir):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, local_dir).replace(os.sep, "/")
                self.storage.write(Storage.join(uri, relative), Path(path).read_bytes())
        return self.literal_uri(uri)

    def download_file(self, uri: str, local_path: str) -> None:
        """Copy the blob at ``uri`` to ``local_path`` (its folder is created)."""
        os.makedirs(os.path.dirname(local_path) or ".", exist_ok=True)
        Path(local_path).write_bytes(self.read(uri))

    def local_copy(self, uri: str) -> str:
        """A local file or folder holding the data at ``uri``: a plain local path as it is, else a download of
        the folder ``uri`` (or of the single blob at ``uri``) into this context's local folder."""
        if self.is_local(uri):
            return uri
        folder = self.new_local_path("dataset")
        self.download_directory(uri, folder)
        if os.listdir(folder):
            return folder
        if self.exists(uri):
            single = os.path.join(folder, os.path.basename(uri.rstrip("/")) or "data")
            self.download_file(uri, single)
            return single
        raise FileNotFoundError(f"no data at {uri!r}")

    def download_directory(self, uri: str, local_dir: str) -> None:
        """Copy every blob under the folder ``uri`` into ``local_dir``, keeping relative paths."""
        os.makedirs(local_dir, exist_ok=True)
        for blob, relative in self.list(uri):
            target = os.path.join(local_dir, *relative.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            Path(target).write_bytes(self.read(blob))

    # ---------------------------------------------------------------------------------------------
    # Lifetime

    def close(self) -> None:
        """Delete the local folder and everything downloaded into it. Closing twice is fine."""
        self._closed = True
        if self._local_dir is not None:
            shutil.rmtree(self._local_dir, ignore_errors=True)
            self._local_dir = None

    def __enter__(self) -> TypeContext:
        self._tokens.append(_current.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _current.reset(self._tokens.pop())
        self.close()

    def __repr__(self) -> str:
        return f"TypeContext(raw_output_prefix={self.raw_output_prefix!r}, local_dir={self._local_dir!r})"
