"""``sqlblob://<database>/<key>``: blobs kept in SQLite databases, one file per database name.

The folder of the database files comes from the store's configuration section (``folder``), else from
``ROOST_SAMPLE_SQLBLOB_DIR``, else ``$XDG_DATA_HOME/roost-sample/sqlblob``. Listed under ``roost.storage`` so
that the SDK serves the scheme, and re-exported by the engine side so that engines do too.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from roost_core import hookimpl
from roost_core.plugins.hookspecs import RegisterStore
from roost_core.storage import BlobNotFoundError, StorageError

SCHEME = "sqlblob"
FOLDER_ENV = "ROOST_SAMPLE_SQLBLOB_DIR"
_URI = re.compile(rf"{SCHEME}://(?P<database>[A-Za-z0-9_-]+)/(?P<key>.*)")


class SqliteBlobStore:
    """A blob store over SQLite files; every write is one transaction, so readers never see half a blob."""

    def __init__(self, folder: str | None = None) -> None:
        self._folder = folder

    def folder(self) -> Path:
        """Where the database files are."""
        if self._folder:
            return Path(self._folder)
        configured = os.environ.get(FOLDER_ENV)
        if configured:
            return Path(configured)
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base, "roost-sample", "sqlblob")

    def _open(self, uri: str) -> tuple[sqlite3.Connection, str]:
        match = _URI.fullmatch(uri)
        if match is None:
            raise StorageError(f"{uri!r} is not a {SCHEME}://<database>/<key> URI")
        folder = self.folder()
        folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(folder / f"{match['database']}.sqlite", timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL)")
        return db, match["key"]

    def read(self, uri: str) -> bytes:
        """The blob's bytes."""
        db, key = self._open(uri)
        with db:
            row = db.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        db.close()
        if row is None:
            raise BlobNotFoundError(f"no blob at {uri!r}")
        return bytes(row[0])

    def write(self, uri: str, data: bytes) -> None:
        """Create or replace the blob."""
        db, key = self._open(uri)
        with db:
            db.execute("INSERT OR REPLACE INTO blobs (key, data) VALUES (?, ?)", (key, data))
        db.close()

    def exists(self, uri: str) -> bool:
        """Whether a blob exists at the URI."""
        db, key = self._open(uri)
        with db:
            found = db.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone() is not None
        db.close()
        return found

    def list(self, prefix: str) -> Iterator[str]:
        """URIs of every blob under ``prefix``, in lexical order."""
        base = prefix.rstrip("/") + "/"
        db, key = self._open(base)
        with db:
            keys = [row[0] for row in db.execute("SELECT key FROM blobs WHERE key >= ? ORDER BY key", (key,))]
        db.close()
        head = base[: len(base) - len(key)]
        return iter([head + found for found in keys if found.startswith(key)])

    def delete(self, uri: str) -> None:
        """Remove the blob, if present."""
        db, key = self._open(uri)
        with db:
            db.execute("DELETE FROM blobs WHERE key = ?", (key,))
        db.close()

    def signed_url(
        self,
        uri: str,
        *,
        method: str = "GET",
        expires_in: timedelta = timedelta(hours=1),
        content_md5: str | None = None,
    ) -> str:
        """SQLite blobs have no URLs."""
        raise StorageError(f"cannot sign {uri!r}: {SCHEME}:// blobs have no URLs")


def sqlblob_store(config: Mapping[str, Any]) -> SqliteBlobStore:
    """The store, from its configuration section (``folder``)."""
    return SqliteBlobStore(config.get("folder"))


@hookimpl
def roost_blob_stores(register: RegisterStore) -> None:
    """The ``sqlblob://`` scheme."""
    register(SCHEME, sqlblob_store)
