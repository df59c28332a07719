"""The blob store protocol and the scheme router every other part of Roost reads and writes through."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Protocol, TypeVar

from google.protobuf.message import DecodeError, Message

from roost_core.errors import RoostError

M = TypeVar("M", bound=Message)


class StorageError(RoostError):
    """A blob could not be read, written, listed or signed. The message names the URI."""


class BlobNotFoundError(StorageError):
    """No blob exists at the URI."""


class MalformedBlobError(StorageError):
    """The blob at the URI was read but does not parse as the message asked for: reading it again will not help."""


class BlobStore(Protocol):
    """One storage backend, serving the URIs of one scheme.

    Every method takes full URIs (``s3://bucket/key``). Failures raise :class:`StorageError` (or
    :class:`BlobNotFoundError`) naming the URI; a write is all or nothing: a reader never sees half a blob.
    """

    def read(self, uri: str) -> bytes:
        """The blob's bytes."""
        ...

    def write(self, uri: str, data: bytes) -> None:
        """Create or replace the blob."""
        ...

    def exists(self, uri: str) -> bool:
        """Whether a blob exists at the URI."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """URIs of every blob under ``prefix`` (recursively), in lexical order."""
        ...

    def delete(self, uri: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""
        ...

    def signed_url(
        self,
        uri: str,
        *,
        method: str = "GET",
        expires_in: timedelta = timedelta(hours=1),
        content_md5: str | None = None,
    ) -> str:
        """A URL that lets a client without credentials GET (download) or PUT (upload) the blob.

        A PUT must send the headers :func:`upload_headers` names for it; a PUT URL never lets its holder
        replace a blob with other content (signed with ``content_md5``, only those bytes are accepted; without
        it, the URL only creates).
        """
        ...


def upload_headers(content_md5: str | None) -> dict[str, str]:
    """The headers a PUT to a signed upload URL must send: its Content-MD5 (base64), or, without one, the
    create-only condition (``If-None-Match: *``) that S3 signs into such URLs."""
    return {"Content-MD5": content_md5} if content_md5 else {"If-None-Match": "*"}


class Storage:
    """Routes URIs to the blob store of their scheme, and adds helpers for protobuf blobs."""

    def __init__(self, stores: Mapping[str, BlobStore]) -> None:
        self._stores = dict(stores)

    @property
    def schemes(self) -> tuple[str, ...]:
        """The URI schemes this storage can serve."""
        return tuple(sorted(self._stores))

    def store_for(self, uri: str) -> BlobStore:
        """The backend serving ``uri``. A plain absolute path is a blob of the ``file`` store: that is how
        literals record the local store's data (flytekit cannot open ``file://`` URIs of files and folders)."""
        scheme, sep, _ = uri.partition("://")
        if not sep and uri.startswith("/") and "file" in self._stores:
            return self._stores["file"]
        if not sep:
            raise StorageError(f"{uri!r} is not a URI: expected scheme://path (file://, s3://, ...)")
        try:
            return self._stores[scheme]
        except KeyError:
            known = ", ".join(f"{s}://" for s in self.schemes) or "none"
            raise StorageError(f"no blob store for {scheme}:// in {uri!r}; configured: {known}") from None

    def read(self, uri: str) -> bytes:
        """The blob's bytes."""
        return self.store_for(uri).read(uri)

    def write(self, uri: str, data: bytes) -> None:
        """Create or replace the blob."""
        self.store_for(uri).write(uri, data)

    def exists(self, uri: str) -> bool:
        """Whether a blob exists at the URI."""
        return self.store_for(uri).exists(uri)

    def list(self, prefix: str) -> Iterator[str]:
        """URIs of every blob under ``prefix``."""
        return self.store_for(prefix).list(prefix)

    def delete(self, uri: str) -> None:
        """Remove the blob, if present."""
        self.store_for(uri).delete(uri)

    def signed_url(
        self,
        uri: str,
        *,
        method: str = "GET",
        expires_in: timedelta = timedelta(hours=1),
        content_md5: str | None = None,
    ) -> str:
        """A URL for credential-less GET or PUT of the blob."""
        return self.store_for(uri).signed_url(
            uri, method=method, expires_in=expires_in, content_md5=content_md5
        )

    def read_proto(self, uri: str, message_type: type[M]) -> M:
        """Read and parse a protobuf blob; a blob that does not parse is a :class:`MalformedBlobError`."""
        data = self.read(uri)
        message = message_type()
        try:
            message.ParseFromString(data)
        except DecodeError as exc:
            raise MalformedBlobError(
                f"{uri!r} is not a valid {message_type.DESCRIPTOR.full_name}: {exc}"
            ) from exc
        return message

    def write_proto(self, uri: str, message: Message) -> None:
        """Serialize and write a protobuf blob (deterministically, so equal messages give equal bytes)."""
        self.write(uri, message.SerializeToString(deterministic=True))

    @staticmethod
    def join(prefix: str, *parts: str) -> str:
        """Join path parts onto a URI prefix with single slashes."""
        return "/".join([prefix.rstrip("/"), *[part.strip("/") for part in parts]])
