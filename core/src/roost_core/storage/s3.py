"""``s3://bucket/key`` blobs on Amazon S3 or an S3-compatible server, through boto3 (``s3`` extra).

boto3 is imported the first time a store talks to S3, so ``import roost_core`` stays cheap and works
without the extra installed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from roost_core.errors import ConfigurationError
from roost_core.storage.base import BlobNotFoundError, StorageError

SCHEME = "s3://"
ADDRESSING_STYLES = ("auto", "path", "virtual")
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
SIGNED_OPERATIONS = {"GET": "get_object", "PUT": "put_object"}


class S3Store:
    """Blob store for ``s3://bucket/key`` URIs.

    Credentials come from ``access_key_id`` / ``secret_access_key`` when given, else from boto3's
    default chain (environment, config files, instance roles). ``endpoint_url`` points at an
    S3-compatible server; such servers usually need ``addressing_style="path"``. The boto3 client is
    made on first use and shared by every thread (boto3 clients are thread-safe).
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "auto",
        max_attempts: int = 5,
    ) -> None:
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError(
                "s3 storage needs access_key_id and secret_access_key together (or neither, to use "
                "boto3's default credential chain)"
            )
        if addressing_style not in ADDRESSING_STYLES:
            raise ConfigurationError(
                f"s3 storage addressing_style {addressing_style!r} is not one of "
                f"{', '.join(ADDRESSING_STYLES)}"
            )
        if max_attempts < 1:
            raise ConfigurationError(f"s3 storage max_attempts must be at least 1, not {max_attempts}")
        self._endpoint_url = endpoint_url
        self._region = region
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._addressing_style = addressing_style
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self._client: Any = None
        self._boto_errors: tuple[type[Exception], ...] = ()
        self._client_error: type[Exception] = Exception
        self._known_buckets: set[str] = set()

    def _s3(self) -> Any:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        try:
            # Imported here, not at module level: roost_core must import without the s3 extra.
            import boto3.session
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise StorageError("s3:// storage needs boto3: pip install 'roost-core[s3]'") from None
        self._boto_errors = (ClientError, BotoCoreError)
        self._client_error = ClientError
        # A session per store: boto3's default session is unsafe to make clients from concurrently.
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=self._endpoint_url,
            region_name=self._region,
            aws_access_key_id=self._access_key_id,
            aws_secret_access_key=self._secret_access_key,
            config=Config(
                # SigV4 signs Content-MD5 into presigned PUT URLs: an upload must send that header.
                signature_version="s3v4",
                s3={"addressing_style": self._addressing_style},
                retries={"max_attempts": self._max_attempts, "mode": "standard"},
            ),
        )

    def read(self, uri: str) -> bytes:
        """The blob's bytes."""
        bucket, key = _object_of(uri)
        client = self._s3()
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            with body:
                data: bytes = body.read()
        except self._boto_errors as exc:
            raise self._error("read", uri, bucket, exc) from exc
        return data

    def write(self, uri: str, data: bytes) -> None:
        """Create or replace the blob (S3 puts are atomic)."""
        bucket, key = _object_of(uri)
        client = self._s3()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
        except self._boto_errors as exc:
            raise self._error("write", uri, bucket, exc) from exc

    def exists(self, uri: str) -> bool:
        """Whether an object exists at the URI; a missing bucket is an error, not ``False``."""
        bucket, key = _object_of(uri)
        client = self._s3()
        try:
            client.head_object(Bucket=bucket, Key=key)
        except self._boto_errors as exc:
            error = self._error("check", uri, bucket, exc)
            if not isinstance(error, BlobNotFoundError):
                raise error from exc
        else:
            return True
        # HEAD gives a bare 404 for a missing bucket and a missing key alike: ask once per bucket.
        if bucket not in self._known_buckets:
            try:
                client.head_bucket(Bucket=bucket)
            except self._boto_errors as exc:
                raise self._error("check", uri, bucket, exc, bucket_request=True) from exc
            self._known_buckets.add(bucket)
        return False

    def list(self, prefix: str) -> Iterator[str]:
        """URIs of every object under the folder ``prefix``, in lexical order.

        Not every S3-compatible server lists in byte order (SeaweedFS lists folder by folder), so
        the keys under the prefix are gathered and sorted before the first one is returned.
        """
        bucket, key = _split(prefix)
        folder = key.rstrip("/") + "/" if key.strip("/") else ""
        client = self._s3()
        keys: list[str] = []
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
            for page in pages:
                keys.extend(item["Key"] for item in page.get("Contents", ()))
        except self._boto_errors as exc:
            raise self._error("list", prefix, bucket, exc, bucket_request=True) from exc
        # Zero-byte "folder/" markers made by consoles are not blobs.
        return iter([f"{SCHEME}{bucket}/{k}" for k in sorted(keys) if not k.endswith("/")])

    def delete(self, uri: str) -> None:
        """Remove the blob; a missing blob is fine (S3 deletes are idempotent)."""
        bucket, key = _object_of(uri)
        client = self._s3()
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except self._boto_errors as exc:
            error = self._error("delete", uri, bucket, exc)
            if not isinstance(error, BlobNotFoundError):
                raise error from exc

    def signed_url(
        self,
        uri: str,
        *,
        method: str = "GET",
        expires_in: timedelta = timedelta(hours=1),
        content_md5: str | None = None,
    ) -> str:
        """A presigned GET or PUT URL. A PUT signed with ``content_md5`` requires that header; one signed
        without it is create-only (S3's conditional write, ``If-None-Match: *`` signed into the URL), so that
        nobody holding the URL can replace the object once it was written."""
        bucket, key = _object_of(uri)
        operation = SIGNED_OPERATIONS.get(method.upper())
        if operation is None:
            raise StorageError(f"cannot sign {uri!r} for {method!r}: only GET and PUT URLs are signed")
        params = {"Bucket": bucket, "Key": key}
        if operation == "put_object":
            if content_md5:
                params["ContentMD5"] = content_md5
            else:
                params["IfNoneMatch"] = "*"
        client = self._s3()
        try:
            url: str = client.generate_presigned_url(
                operation, Params=params, ExpiresIn=int(expires_in.total_seconds())
            )
        except self._boto_errors as exc:
            raise self._error("sign", uri, bucket, exc) from exc
        return url

    def _error(
        self, action: str, uri: str, bucket: str, exc: Exception, *, bucket_request: bool = False
    ) -> StorageError:
        """The StorageError for a botocore failure; ``bucket_request``: the call named no key."""
        if not isinstance(exc, self._client_error):
            return StorageError(f"cannot {action} {uri!r}: {exc}")
        response: Mapping[str, Any] = getattr(exc, "response", {})
        error = response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        if code == "NoSuchBucket" or (bucket_request and code in NOT_FOUND_CODES):
            self._known_buckets.discard(bucket)
            return StorageError(
                f"cannot {action} {uri!r}: bucket {bucket!r} does not exist (S3 NoSuchBucket)"
            )
        if code in NOT_FOUND_CODES:
            return BlobNotFoundError(f"no blob at {uri!r} (S3 {code})")
        message = error.get("Message") or str(exc)
        return StorageError(f"cannot {action} {uri!r}: S3 {code}: {message}")


def s3_store(config: Mapping[str, Any]) -> S3Store:
    """Factory for the ``s3`` scheme: options ``endpoint_url``, ``region``, ``access_key_id``,
    ``secret_access_key``, ``addressing_style`` and ``max_attempts``."""
    strings = ("endpoint_url", "region", "access_key_id", "secret_access_key", "addressing_style")
    known = {*strings, "max_attempts"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown s3 storage option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    for option in strings:
        if config.get(option) is not None and not isinstance(config[option], str):
            raise ConfigurationError(f"s3 storage option {option} must be a string")
    attempts = config.get("max_attempts", 5)
    if not isinstance(attempts, int) or isinstance(attempts, bool):
        raise ConfigurationError(f"s3 storage option max_attempts must be an integer, not {attempts!r}")
    return S3Store(
        endpoint_url=config.get("endpoint_url"),
        region=config.get("region"),
        access_key_id=config.get("access_key_id"),
        secret_access_key=config.get("secret_access_key"),
        addressing_style=config.get("addressing_style") or "auto",
        max_attempts=attempts,
    )


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith(SCHEME):
        raise StorageError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    if not bucket:
        raise StorageError(f"{uri!r} names no bucket: expected s3://bucket/key")
    return bucket, key


def _object_of(uri: str) -> tuple[str, str]:
    bucket, key = _split(uri)
    if not key or key.endswith("/"):
        raise StorageError(f"{uri!r} names a folder, not an object: expected s3://bucket/key")
    return bucket, key
