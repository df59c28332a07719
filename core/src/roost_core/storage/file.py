"""``file://`` blobs in a local folder, with HMAC-signed URLs that the admin server serves."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import itertools
import os
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from roost_core.errors import ConfigurationError
from roost_core.storage.base import BlobNotFoundError, StorageError

SCHEME = "file://"
TEMP_PREFIX = ".roost-tmp-"
"""Name prefix of the temporary files a write renames into place; listings skip them."""
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
"""How a write opens its temporary file: a new file, never one that exists."""
SIGNED_METHODS = ("GET", "PUT")
_LAST_EXPIRY = 253_402_300_799
"""9999-12-31T23:59:59Z: the last expiry time a datetime can show."""


class _TempNames:
    """Names for a write's temporary file: a tag random per process (made again in a forked child, whose counter
    is its parent's) and a counter, so a write asks the operating system for no random bytes (a system call each,
    where the interpreter lock is let go)."""

    def __init__(self) -> None:
        self.counter = itertools.count()
        self.renew()

    def renew(self) -> None:
        """A new tag, for a new process."""
        self.tag = secrets.token_hex(8)

    def next(self) -> str:
        """The next name."""
        return f"{TEMP_PREFIX}{self.tag}-{next(self.counter)}"


_temp_names = _TempNames()
os.register_at_fork(after_in_child=_temp_names.renew)


class FileStore:
    """Blob store for absolute ``file:///path`` URIs (and plain absolute paths, the same blobs).

    Writes go to a temporary file in the target's folder and are renamed into place, so a reader
    sees the old blob or the new one, never half of one. With ``root`` set, only URIs under that
    folder are served. With ``url_base`` and ``signing_key`` set, :meth:`signed_url` hands out URLs
    under ``url_base`` that the admin server checks with :meth:`verify_signed_url` before serving.
    """

    def __init__(
        self, *, root: str | None = None, url_base: str | None = None, signing_key: bytes | str | None = None
    ) -> None:
        self._root = _normalize(_strip_scheme(root)) if root else None
        if self._root is not None and not os.path.isabs(self._root):
            raise ConfigurationError(f"file storage root {root!r} must be an absolute path")
        if url_base and signing_key is None:
            raise ConfigurationError(
                f"file storage url_base {url_base!r} needs a signing_key to sign URLs with"
            )
        self._url_base = url_base.rstrip("/") if url_base else None
        self._key = signing_key.encode() if isinstance(signing_key, str) else signing_key

    @property
    def root(self) -> str | None:
        """The folder every URI must lie under, if one is configured."""
        return self._root

    def path_of(self, uri: str) -> str:
        """The normalized local path of a ``file://`` URI or of a plain absolute path (as literals record the
        local store's blobs), checked against ``root``."""
        if not uri.startswith((SCHEME, "/")):
            raise StorageError(f"{uri!r} is not a file:// URI")
        raw = uri.removeprefix(SCHEME)
        if not raw.startswith("/"):
            raise StorageError(f"{uri!r} is not an absolute file:// URI: expected file:///absolute/path")
        path = _normalize(raw)
        if self._root is not None and not _is_within(path, self._root):
            raise StorageError(f"{uri!r} is outside the storage root {SCHEME}{self._root}")
        return path

    def read(self, uri: str) -> bytes:
        """The blob's bytes."""
        path = self.path_of(uri)
        try:
            with open(path, "rb") as file:
                return file.read()
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob at {uri!r}") from None
        except OSError as exc:
            raise _error("read", uri, exc) from exc

    def write(self, uri: str, data: bytes) -> None:
        """Create or replace the blob atomically, creating its folders."""
        path = self.path_of(uri)
        folder, name = os.path.split(path)
        if not name:
            raise StorageError(f"cannot write {uri!r}: it names a folder, not a file")
        temp = os.path.join(folder, _temp_names.next())
        try:
            # os.open with 0o666 lets the umask pick the permissions, as a plain open() would. The folders are
            # made only when missing: most writes go to a folder an earlier write made, and a makedirs there
            # would cost a failing mkdir each time.
            try:
                fd = os.open(temp, _CREATE, 0o666)
            except FileNotFoundError:
                _make_folders(folder)
                fd = os.open(temp, _CREATE, 0o666)
            try:
                # os.write, not a file object: os.fdopen would add an fstat, an ioctl and an lseek.
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
                os.replace(temp, path)
            except BaseException:
                _remove_quietly(temp)
                raise
        except OSError as exc:
            raise _error("write", uri, exc) from exc

    def exists(self, uri: str) -> bool:
        """Whether a file exists at the URI (folders are not blobs)."""
        path = self.path_of(uri)
        try:
            return stat.S_ISREG(os.stat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise _error("check", uri, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        """URIs of every file under the folder ``prefix`` (recursively), in lexical order."""
        folder = self.path_of(prefix)
        return self._walk(folder, prefix)

    def _walk(self, folder: str, prefix: str) -> Iterator[str]:
        try:
            with os.scandir(folder) as scan:
                entries = [e for e in scan if not e.name.startswith(TEMP_PREFIX)]
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise _error("list", prefix, exc) from exc
        # Sorting a folder's name with a trailing "/" places its contents exactly where the full
        # URIs fall in lexical order ("b.txt" < "b/..." < "b0"), so the walk needs no global sort.
        keyed = sorted(((e.name + "/" if _is_dir(e) else e.name), e) for e in entries)
        for key, entry in keyed:
            if key.endswith("/"):
                yield from self._walk(entry.path, prefix)
            elif entry.is_file():
                yield SCHEME + entry.path

    def delete(self, uri: str) -> None:
        """Remove the blob; a missing blob is fine."""
        path = self.path_of(uri)
        try:
            os.remove(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _error("delete", uri, exc) from exc

    def signed_url(
        self,
        uri: str,
        *,
        method: str = "GET",
        expires_in: timedelta = timedelta(hours=1),
        content_md5: str | None = None,
    ) -> str:
        """An HMAC-signed URL under ``url_base`` for GET or PUT of the blob."""
        path = self.path_of(uri)
        if self._url_base is None or self._key is None:
            raise StorageError(
                f"cannot sign {uri!r}: file:// URLs can only be signed when url_base is configured"
            )
        verb = _signed_method(method, uri)
        relative = os.path.relpath(path, self._root) if self._root else path.lstrip("/")
        expires = int(time.time() + expires_in.total_seconds())
        query = {
            "method": verb,
            "expires": str(expires),
            "signature": _signature(self._key, verb, relative, expires, content_md5),
        }
        return f"{self._url_base}/{quote(relative)}?{urlencode(query)}"

    def verify_signed_url(
        self,
        path_or_url: str,
        method: str,
        expires: int | str,
        signature: str,
        content_md5: str | None = None,
    ) -> str:
        """Check a signed URL presented to the admin server; returns the ``file://`` URI it grants.

        ``path_or_url`` is either the full URL (starting with ``url_base``; any host is accepted) or
        the decoded path after ``url_base``. ``method`` is the request's HTTP method and
        ``content_md5`` its Content-MD5 header. A URL signed with a Content-MD5 only accepts
        requests carrying that header (checking the body against it is the server's job); one
        signed without accepts requests with or without. Raises :class:`StorageError` saying
        whether the URL has expired or its signature is wrong.
        """
        key = self._key
        if key is None:
            raise StorageError("cannot verify signed URLs: file storage has no signing_key configured")
        relative = self._relative_of(path_or_url)
        base = self._root or "/"
        uri = SCHEME + _normalize(os.path.join(base, relative))
        self.path_of(uri)
        expiry = _expiry(expires)
        if expiry is None:
            raise StorageError(f"signed URL for {uri!r} has an invalid expires value {expires!r}")
        verb = method.upper()
        candidates = [content_md5, None] if content_md5 else [None]
        # compare_digest refuses non-ASCII text; such a signature is simply wrong.
        presented = signature.encode("utf-8", "surrogateescape")
        if not any(
            hmac.compare_digest(_signature(key, verb, relative, expiry, md5).encode(), presented)
            for md5 in candidates
        ):
            raise StorageError(f"signed URL for {uri!r} has a wrong signature (for {verb})")
        if expiry < time.time():
            when = datetime.fromtimestamp(expiry, UTC).isoformat()
            raise StorageError(f"signed URL for {uri!r} expired at {when}")
        return uri

    def _relative_of(self, path_or_url: str) -> str:
        if "://" not in path_or_url:
            return path_or_url.lstrip("/")
        if self._url_base is None:
            raise StorageError(f"cannot verify {path_or_url!r}: file storage has no url_base configured")
        base_path = urlsplit(self._url_base).path.rstrip("/") + "/"
        url_path = urlsplit(path_or_url).path
        if not url_path.startswith(base_path):
            raise StorageError(f"{path_or_url!r} is not a signed URL under {self._url_base}")
        return unquote(url_path[len(base_path) :])


def file_store(config: Mapping[str, Any]) -> FileStore:
    """Factory for the ``file`` scheme: options ``root``, ``url_base``, ``signing_key``."""
    known = {"root", "url_base", "signing_key"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown file storage option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    for option in ("root", "url_base"):
        if config.get(option) is not None and not isinstance(config[option], str):
            raise ConfigurationError(f"file storage option {option} must be a string")
    key = config.get("signing_key")
    if key is not None and not isinstance(key, bytes | str):
        raise ConfigurationError("file storage option signing_key must be a string or bytes")
    return FileStore(root=config.get("root"), url_base=config.get("url_base"), signing_key=key)


def _strip_scheme(path: str) -> str:
    return path[len(SCHEME) :] if path.startswith(SCHEME) else path


def _normalize(path: str) -> str:
    # normpath keeps a leading "//" (POSIX allows it a meaning); URIs never need it.
    normalized = os.path.normpath(path)
    return "/" + normalized.lstrip("/") if normalized.startswith("//") else normalized


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _is_dir(entry: os.DirEntry[str]) -> bool:
    # Symlinked folders are not followed, so a link loop cannot make a listing endless.
    return entry.is_dir(follow_symlinks=False)


def _expiry(expires: int | str) -> int | None:
    """A signed URL's expiry time (Unix seconds), or None if it is not a whole number a datetime can hold."""
    if isinstance(expires, str):
        if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            return None
        expires = int(expires)
    return expires if 0 <= expires <= _LAST_EXPIRY else None


def _signature(key: bytes, method: str, relative: str, expires: int, content_md5: str | None) -> str:
    message = f"{method}\n{relative}\n{expires}\n{content_md5 or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _signed_method(method: str, uri: str) -> str:
    verb = method.upper()
    if verb not in SIGNED_METHODS:
        raise StorageError(f"cannot sign {uri!r} for {method!r}: only GET and PUT URLs are signed")
    return verb


def _error(action: str, uri: str, exc: OSError) -> StorageError:
    reasons = {
        PermissionError: "permission denied",
        IsADirectoryError: "it is a folder, not a file",
        NotADirectoryError: "a parent of it is a file, not a folder",
    }
    reason = reasons.get(type(exc)) or exc.strerror or str(exc)
    return StorageError(f"cannot {action} {uri!r}: {reason}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _make_folders(folder: str) -> None:
    # Usually only the innermost folder is missing (a new execution's): one mkdir, without makedirs' stat of
    # the parent first.
    with contextlib.suppress(FileNotFoundError, FileExistsError):
        os.mkdir(folder)
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:
        # makedirs reports a file standing where the innermost folder should be as "exists".
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), folder) from None


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
