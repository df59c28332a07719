"""The data proxy: signed URLs to upload code and data, and to download execution artifacts.

Uploads go to :func:`roost_admin.blobs.upload_uri`. The signed URL is the storage's: an S3 presigned URL for
``s3://`` storage, or for the local ``file://`` store an HMAC-signed URL under the admin's HTTP endpoint
(``/data/...``, served by :mod:`roost_admin.http`, which checks them with :meth:`DataProxy.verify`). The
``native_url`` handed back is where the blob is, which flytekit's ``pyflyte-fast-execute`` downloads with its
own storage layer and FlyteRemote records in the FlyteFile and FlyteDirectory literals of an execution's
inputs: the ``s3://`` URI, or in the local store the plain absolute path (:func:`roost_admin.blobs.client_uri`),
as flytekit cannot open ``file://`` URIs of files and folders. ``CreateDownloadLocation`` takes either form.

Only blobs under the admin's storage prefix are ever signed, so a signed URL cannot reach other files.

An upload URL cannot be replayed to overwrite its object. With ``content_md5`` (what flytekit and the roost CLI
send for code and files) the URL is bound to that hash: only those bytes can be stored. Without it (flytekit's
file system writing a buffer), the URL only creates: the local store's HTTP endpoint stores the object once and
refuses any other bytes later, and on S3, which serves the PUT itself, the URL is signed with the conditional
``If-None-Match: *``, which the response's headers tell the client to send. Such a URL also lasts at most
``UNHASHED_UPLOAD_EXPIRY``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import duration_pb2, timestamp_pb2
from sqlalchemy import select

from roost_admin import blobs
from roost_admin.db import models
from roost_admin.errors import (
    AdminError,
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from roost_admin.services import flyte_urls, validation
from roost_admin.services.base import Service
from roost_admin.services.entities import check_project_domain
from roost_admin.services.rows import execution_key, get_execution, get_node, key_text
from roost_core.storage import BlobNotFoundError, FileStore, StorageError, upload_headers

if TYPE_CHECKING:
    from roost_admin.services.context import ServiceContext

DEFAULT_EXPIRY = datetime.timedelta(hours=1)
"""How long a signed URL lasts when the request does not say."""
MAX_EXPIRY = datetime.timedelta(days=7)
"""The longest a signed URL may last (S3's limit for presigned URLs)."""
UNHASHED_UPLOAD_EXPIRY = datetime.timedelta(minutes=15)
"""The longest an upload URL without ``content_md5`` lasts (a longer ``expires_in`` is shortened to this)."""
DECK_FILE = "deck.html"
"""What flytekit names the deck it writes beside a task's outputs."""
MAX_DECK_BYTES = 64 * 2**20
"""The largest deck the console shows inline (plotly's inlined library alone is about 4 MB)."""
_RANDOM_NAME_LENGTH = 20
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits
_PATH_PART_LIMIT = 255


class DataProxy(Service):
    """Signed upload and download URLs."""

    def create_upload_location(
        self, request: dataproxy_pb2.CreateUploadLocationRequest
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        """A signed PUT URL for ``uploads/{project}/{domain}/{md5 or filename_root}/{filename}``."""
        with self.ctx.db.session() as session:
            check_project_domain(session, self.ctx.settings, request.project, request.domain, "upload")
        md5 = request.content_md5
        if md5 and len(md5) != 16:
            raise InvalidArgument(f"content_md5 must be the 16 bytes of an MD5 digest, not {len(md5)} bytes")
        if not md5 and not request.filename_root:
            raise InvalidArgument("content_md5 or filename_root is required")
        root = _path(request.filename_root, "filename_root") if request.filename_root else md5.hex()
        filename = _path(request.filename, "filename") if request.filename else _random_name()
        expires_in = _expiry(request.expires_in if request.HasField("expires_in") else None)
        if not md5:
            expires_in = min(expires_in, UNHASHED_UPLOAD_EXPIRY)
        settings = self.ctx.settings
        uri = blobs.upload_uri(settings.storage_prefix, request.project, request.domain, root, filename)
        if request.filename and request.filename_root:
            # The caller chose the whole path: do not let it silently replace other content.
            self._check_replaceable(uri, md5)
        md5_base64 = base64.b64encode(md5).decode() if md5 else None
        signed_url = self._sign(uri, "PUT", expires_in, md5_base64)
        response = dataproxy_pb2.CreateUploadLocationResponse(
            signed_url=signed_url, native_url=blobs.client_uri(uri), expires_at=_expires_at(expires_in)
        )
        response.headers.update(upload_headers(md5_base64))
        return response

    def create_download_location(
        self, request: dataproxy_pb2.CreateDownloadLocationRequest
    ) -> dataproxy_pb2.CreateDownloadLocationResponse:
        """A signed GET URL for a blob under the admin's storage."""
        expires_in = _expiry(request.expires_in if request.HasField("expires_in") else None)
        if not request.native_url:
            raise InvalidArgument("native_url is required")
        uri = blobs.stored_uri(request.native_url)
        self._check_within_storage(uri, request.native_url)
        self._check_exists(uri, f"no blob at {request.native_url}")
        return dataproxy_pb2.CreateDownloadLocationResponse(
            signed_url=self._sign(uri, "GET", expires_in, None), expires_at=_expires_at(expires_in)
        )

    def create_download_link(
        self, request: dataproxy_pb2.CreateDownloadLinkRequest
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        """A signed GET URL for an execution artifact; the one artifact type is a node's deck."""
        expires_in = _expiry(request.expires_in if request.HasField("expires_in") else None)
        if request.artifact_type != dataproxy_pb2.ARTIFACT_TYPE_DECK:
            raise InvalidArgument(
                f"artifact_type must be ARTIFACT_TYPE_DECK, not {dataproxy_pb2.ArtifactType.Name(request.artifact_type)}"
            )
        if request.WhichOneof("source") != "node_execution_id":
            raise InvalidArgument("source is required: set node_execution_id")
        deck = self._deck_uri(request.node_execution_id)
        self._check_exists(
            deck, f"node execution {_node_text(request.node_execution_id)} wrote no deck ({deck})"
        )
        url = self._sign(deck, "GET", expires_in, None)
        expires_at = _expires_at(expires_in)
        return dataproxy_pb2.CreateDownloadLinkResponse(
            signed_url=[url],
            expires_at=expires_at,
            pre_signed_urls=dataproxy_pb2.PreSignedURLs(signed_url=[url], expires_at=expires_at),
        )

    def get_data(self, request: dataproxy_pb2.GetDataRequest) -> dataproxy_pb2.GetDataResponse:
        """The inputs or outputs (all, or one by name) of an execution, a node execution or a task attempt,
        or a signed link to a node's deck, named by a ``flyte://`` URL (:mod:`roost_admin.services.flyte_urls`)."""
        url = flyte_urls.parse(request.flyte_url)
        domains = self.ctx.settings.domains
        execution_id = validation.execution_id(domains, url.execution, "flyte_url")
        node_id = identifier_pb2.NodeExecutionIdentifier(node_id=url.node, execution_id=execution_id)
        if url.kind == "d":
            link = self.create_download_link(
                dataproxy_pb2.CreateDownloadLinkRequest(
                    artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK, node_execution_id=node_id
                )
            )
            return dataproxy_pb2.GetDataResponse(pre_signed_urls=link.pre_signed_urls)
        with self.ctx.db.session() as session:
            if not url.node:
                row = get_execution(session, execution_id)
                what = f"execution {key_text(execution_id.project, execution_id.domain, execution_id.name)}"
                uris = (row.inputs_uri, row.outputs_uri)
            else:
                execution, node = get_node(session, node_id)
                what = f"node execution '{url.node}' of execution {execution_key(execution)}"
                uris = (node.input_uri, node.output_uri)
                if url.attempt is not None:
                    task = session.scalar(
                        select(models.TaskExecution).where(
                            models.TaskExecution.node_execution_id == node.id,
                            models.TaskExecution.retry_attempt == url.attempt,
                        )
                    )
                    what = f"attempt {url.attempt} of {what}"
                    if task is None:
                        raise NotFound(f"{what} does not exist")
                    uris = (task.input_uri, task.output_uri)
        literals = self._literals(uris[0] if url.kind == "i" else uris[1])
        if not url.name:
            return dataproxy_pb2.GetDataResponse(literal_map=literals)
        if url.name not in literals.literals:
            side = "input" if url.kind == "i" else "output"
            known = ", ".join(sorted(literals.literals)) or "none"
            raise NotFound(f"{what} has no {side} {url.name!r} ({side}s: {known})")
        return dataproxy_pb2.GetDataResponse(literal=literals.literals[url.name])

    def _literals(self, uri: str) -> literals_pb2.LiteralMap:
        """A LiteralMap blob, whatever its size; empty when there is none (yet)."""
        if not uri:
            return literals_pb2.LiteralMap()
        try:
            return self.ctx.storage.read_proto(uri, literals_pb2.LiteralMap)
        except BlobNotFoundError:
            return literals_pb2.LiteralMap()
        except StorageError as exc:
            raise Unavailable(f"cannot read {uri} from the blob store: {exc}") from exc

    def signed_blob(
        self, path: str, method: str, expires: str, signature: str, content_md5: str | None
    ) -> LocalBlob:
        """The blob of the local ``file://`` store that a signed URL names (``path`` below ``/data/``, for
        ``method`` GET or PUT), once its signature, expiry and (for an upload signed for one) Content-MD5 check out
        and it lies under the admin's storage. NotFound when there is no local store; PermissionDenied naming what
        is wrong with the URL."""
        return _signed_blob(self.ctx, path, method, expires, signature, content_md5)

    def deck(self, node: identifier_pb2.NodeExecutionIdentifier) -> bytes:
        """The HTML of a node's deck (the console shows it); NotFound saying why there is none, InvalidArgument
        when it is larger than :data:`MAX_DECK_BYTES`."""
        deck = self._deck_uri(node)
        self._check_exists(deck, f"node execution {_node_text(node)} wrote no deck ({deck})")
        try:
            html = self.ctx.storage.read(deck)
        except StorageError as exc:
            raise Unavailable(f"cannot read the deck {deck}: {exc}") from exc
        if len(html) > MAX_DECK_BYTES:
            raise InvalidArgument(
                f"the deck of node execution {_node_text(node)} holds {len(html):,} bytes, more than the "
                f"{MAX_DECK_BYTES:,} the console shows; download it with CreateDownloadLink"
            )
        return html

    def has_deck(self, node: identifier_pb2.NodeExecutionIdentifier) -> bool:
        """Whether a node wrote a deck."""
        try:
            self._check_exists(self._deck_uri(node), "")
        except NotFound:
            return False
        return True

    def _deck_uri(self, node: identifier_pb2.NodeExecutionIdentifier) -> str:
        """Where the node's deck is: flytekit writes it beside the outputs of the node's last attempt."""
        execution = node.execution_id
        text = _node_text(node)
        with self.ctx.db.session() as session:
            execution_row = session.scalars(
                select(models.Execution).where(
                    models.Execution.project == execution.project,
                    models.Execution.domain == execution.domain,
                    models.Execution.name == execution.name,
                )
            ).one_or_none()
            if execution_row is None:
                raise NotFound(
                    f"execution '{execution.project}/{execution.domain}/{execution.name}' does not exist"
                )
            node_row = session.scalars(
                select(models.NodeExecution).where(
                    models.NodeExecution.execution_id == execution_row.id,
                    models.NodeExecution.node_id == node.node_id,
                )
            ).one_or_none()
            if node_row is None:
                raise NotFound(f"node execution {text} does not exist")
            output_uri = node_row.output_uri
        if not output_uri:
            raise NotFound(f"node execution {text} has no outputs yet, so no deck")
        return output_uri.rsplit("/", 1)[0] + "/" + DECK_FILE

    def _check_replaceable(self, uri: str, md5: bytes) -> None:
        try:
            existing = self.ctx.storage.read(uri)
        except BlobNotFoundError:
            return
        except StorageError as exc:
            raise Unavailable(f"cannot check whether {uri} exists: {exc}") from exc
        shown = blobs.client_uri(uri)
        if not md5:
            raise AlreadyExists(f"a file already exists at {shown}; send its content_md5 to upload it again")
        if hashlib.md5(existing, usedforsecurity=False).digest() != md5:
            raise AlreadyExists(f"a file with different content already exists at {shown}")

    def _check_within_storage(self, uri: str, shown: str) -> None:
        prefix = self.ctx.settings.storage_prefix
        if not blobs.within(uri, prefix):
            raise InvalidArgument(
                f"{shown} is not under this admin's storage ({prefix}); only its blobs are signed"
            )

    def _check_exists(self, uri: str, message: str) -> None:
        try:
            found = self.ctx.storage.exists(uri)
        except StorageError as exc:
            raise Unavailable(f"cannot check whether {uri} exists: {exc}") from exc
        if not found:
            raise NotFound(message)

    def _sign(self, uri: str, method: str, expires_in: datetime.timedelta, md5_base64: str | None) -> str:
        try:
            return self.ctx.storage.signed_url(
                uri, method=method, expires_in=expires_in, content_md5=md5_base64
            )
        except StorageError as exc:
            raise AdminError(f"cannot sign a {method} URL for {uri}: {exc}") from exc


def _node_text(node: identifier_pb2.NodeExecutionIdentifier) -> str:
    execution = node.execution_id
    return f"'{execution.project}/{execution.domain}/{execution.name}/{node.node_id}'"


def _path(value: str, what: str) -> str:
    """A relative path of plain parts: no empty, '.' or '..' part, no backslash or control character."""
    parts = value.split("/")
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or any(ord(c) < 32 for c in part):
            raise InvalidArgument(
                f"{what} {value!r} is not valid: use '/'-separated names without empty, '.' or '..' parts"
            )
        if len(part) > _PATH_PART_LIMIT:
            raise InvalidArgument(f"{what} {value!r} is not valid: a part is longer than {_PATH_PART_LIMIT}")
    return value


def _random_name() -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(_RANDOM_NAME_LENGTH))


def _expiry(requested: duration_pb2.Duration | None) -> datetime.timedelta:
    if requested is None:
        return DEFAULT_EXPIRY
    expiry: datetime.timedelta = requested.ToTimedelta()
    if expiry <= datetime.timedelta(0):
        raise InvalidArgument(f"expires_in must be positive, not {expiry.total_seconds():g}s")
    if expiry > MAX_EXPIRY:
        raise InvalidArgument(
            f"expires_in {expiry.total_seconds():g}s is longer than the limit of {MAX_EXPIRY.total_seconds():g}s"
        )
    return expiry


def _expires_at(expires_in: datetime.timedelta) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.datetime.now(datetime.UTC) + expires_in)
    return stamp


@dataclass(frozen=True)
class LocalBlob:
    """A blob of the local store a signed URL names: its URI and its file."""

    uri: str
    path: str


def _signed_blob(
    ctx: ServiceContext, path: str, method: str, expires: str, signature: str, content_md5: str | None
) -> LocalBlob:
    try:
        store = ctx.storage.store_for("file:///")
    except StorageError:
        store = None
    if not isinstance(store, FileStore):
        raise NotFound("this admin has no local file store to serve")
    if "\x00" in path:
        raise InvalidArgument("the path holds a NUL character", field="path")
    if not expires or not signature:
        raise PermissionDenied("not a signed URL: the expires and signature parameters are required")
    try:
        uri = store.verify_signed_url(path, method, expires, signature, content_md5)
    except StorageError as exc:
        message = str(exc)
        if method == "PUT" and not content_md5 and "wrong signature" in message:
            message += " (a URL made for an upload with content_md5 also needs the Content-MD5 header)"
        raise PermissionDenied(message) from None
    prefix = ctx.settings.storage_prefix
    file = store.path_of(uri)
    if not prefix.startswith("file://") or not file.startswith(store.path_of(prefix).rstrip("/") + "/"):
        raise PermissionDenied(f"{uri} is not under this admin's storage ({prefix})")
    return LocalBlob(uri, file)
