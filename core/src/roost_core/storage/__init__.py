"""Blob storage: where inputs, outputs, errors and raw data live, addressed by URI.

:class:`Storage` routes each URI to the :class:`BlobStore` registered for its scheme (``file``, ``s3``,
``mem``). Backends are plugins (the ``roost_blob_stores`` hook); the built-in ones are registered the same
way.
"""

from roost_core.storage.base import (
    BlobNotFoundError,
    BlobStore,
    MalformedBlobError,
    Storage,
    StorageError,
    upload_headers,
)
from roost_core.storage.file import FileStore
from roost_core.storage.memory import MemoryStore
from roost_core.storage.s3 import S3Store
from roost_core.storage.setup import build_storage

__all__ = [
    "BlobNotFoundError",
    "BlobStore",
    "FileStore",
    "MalformedBlobError",
    "MemoryStore",
    "S3Store",
    "Storage",
    "StorageError",
    "build_storage",
    "upload_headers",
]
