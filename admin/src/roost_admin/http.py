"""The admin's HTTP endpoint: ``/healthz``, the HTTP/JSON API and the console (their own packages), and the
signed upload and download URLs of the local blob store, over the admin's services (the status service's ping,
the data proxy's check of a signed URL); this module handles only HTTP: statuses, streaming a body to disk.

A signed URL (made by ``FileStore.signed_url`` for the DataProxy) looks like
``{http_url}/data/{path}?method=PUT&expires=...&signature=...``. ``PUT`` stores the body at the path,
atomically, after checking the signature, the expiry, the size (``max_upload_bytes``) and (when the request
carries one, which a URL signed for an MD5 requires) the ``Content-MD5`` header against the body. An upload URL
stores its object once: a second PUT with the same bytes succeeds without writing, one with other bytes is
refused, so a leaked URL cannot be replayed to overwrite what was uploaded. ``GET`` returns the blob. Only blobs
under the admin's ``file://`` storage prefix are served.

Whatever a client sends is answered with a 2xx or 4xx status; a 500 means the server itself failed (its disk),
is logged with a request id, and the answer quotes only that id.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import logging
import os
import secrets
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from roost_admin.blobs import DATA_PATH
from roost_admin.errors import (
    AlreadyExists,
    ClientError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unimplemented,
)
from roost_core.storage.file import TEMP_PREFIX

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.services import Services

log = logging.getLogger(__name__)

_STATUSES: tuple[tuple[type[ClientError], int], ...] = (
    (InvalidArgument, 400),
    (FailedPrecondition, 400),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (ResourceExhausted, 429),
    (Unimplemented, 501),
)
"""The HTTP status of each of Roost's client errors, as flyteadmin's HTTP gateway answers the gRPC code it maps to
(every route answers a service's errors through :func:`http_status`)."""


def http_status(exc: ClientError) -> int:
    """The HTTP status a route answers Roost's client error ``exc`` with."""
    for kind, status in _STATUSES:
        if isinstance(exc, kind):
            return status
    return 400


_PATH_CONFLICTS = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR})
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def build_http_app(services: Services, gate: AuthGate | None = None) -> Starlette:
    """The HTTP application ``roost start`` serves next to gRPC, over the admin's services: health, signed data
    URLs, the HTTP/JSON API (:mod:`roost_admin.api`) and the console (:mod:`roost_admin.console`). ``gate``, when
    auth is on, checks the role each API operation and console page needs."""
    from roost_admin.api import api_routes
    from roost_admin.console import console_routes

    context = services.context

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(services.status.ping)
        except SQLAlchemyError as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc.__cause__ or exc)}, 503)
        return JSONResponse({"status": "ok"})

    async def data(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        content_md5 = request.headers.get("content-md5")
        query = request.query_params
        try:
            blob = services.dataproxy.signed_blob(
                request.path_params["path"],
                method,
                query.get("expires", ""),
                query.get("signature", ""),
                content_md5,
            )
        except ClientError as exc:
            return PlainTextResponse(exc.message, http_status(exc))
        if method == "GET":
            if not os.path.isfile(blob.path):
                return PlainTextResponse(f"no blob at {blob.uri}", 404)
            return FileResponse(blob.path, media_type="application/octet-stream")
        return await _upload(request, blob.uri, blob.path, content_md5, context.settings.max_upload_bytes)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(DATA_PATH + "/{path:path}", data, methods=["GET", "PUT"]),
            *api_routes(services, gate),
            *console_routes(services, gate),
        ]
    )


async def _upload(request: Request, uri: str, path: str, content_md5: str | None, limit: int) -> Response:
    """Stream the body into a temporary file beside ``path`` (at most ``limit`` bytes), check its MD5, then put it
    in place unless an object is there already (see :func:`_place`)."""
    expected: bytes | None = None
    if content_md5:
        expected = _md5_of_header(content_md5)
        if expected is None:
            return PlainTextResponse(
                f"Content-MD5 {content_md5!r} is not the base64 of a 16-byte MD5 digest", 400
            )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _too_large(limit)
    folder = os.path.dirname(path)
    temp = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        file = await run_in_threadpool(_open_for_writing, folder, temp)
    except OSError as exc:
        return _write_failed(uri, exc)
    try:
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    return _too_large(limit)
                digest.update(chunk)
                await run_in_threadpool(file.write, chunk)
        finally:
            await run_in_threadpool(file.close)
        if expected is not None and digest.digest() != expected:
            actual = base64.b64encode(digest.digest()).decode()
            return PlainTextResponse(
                f"the body's MD5 is {actual}, not the {content_md5} its Content-MD5 header says; nothing was stored",
                400,
            )
        return await run_in_threadpool(_place, temp, path, uri, digest.digest())
    except OSError as exc:
        return _write_failed(uri, exc)
    finally:
        with contextlib.suppress(OSError):
            os.remove(temp)


def _md5_of_header(header: str) -> bytes | None:
    """The 16 bytes a Content-MD5 header holds, or None if it holds something else."""
    try:
        digest = base64.b64decode(header, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        return None
    return digest if len(digest) == 16 else None


def _place(temp: str, path: str, uri: str, digest: bytes) -> Response:
    """Put the received file in place if nothing is at ``path`` yet. An upload URL stores its object once: the
    same bytes again (a client retrying) succeed without a write, other bytes are refused, so a URL that leaked
    cannot be replayed to overwrite the object."""
    try:
        os.link(temp, path)  # atomic, and fails if the path exists
        return Response(status_code=200)
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if not os.path.lexists(path):
            os.replace(temp, path)
            return Response(status_code=200)
    if os.path.isfile(path) and _md5_of_file(path) == digest:
        return Response(status_code=200)
    return PlainTextResponse(
        f"{uri} already holds other content: an upload URL stores its object once; ask for a new upload location",
        403,
    )


def _md5_of_file(path: str) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def _too_large(limit: int) -> Response:
    return PlainTextResponse(
        f"the body is larger than the upload limit of {limit} bytes (setting max_upload_bytes); nothing was stored",
        413,
    )


def _write_failed(uri: str, exc: OSError) -> Response:
    """A client error when the path is at fault (a file where a folder must be, a name too long); otherwise a
    server fault, logged with a request id that the answer quotes."""
    if exc.errno in _PATH_CONFLICTS:
        return PlainTextResponse(f"cannot store {uri}: a file or folder on its path is in the way", 409)
    if exc.errno == errno.ENAMETOOLONG:
        return PlainTextResponse(f"cannot store {uri}: its name is too long for the file system", 400)
    request_id = secrets.token_hex(8)
    log.error("storing the upload %s failed (request id %s)", uri, request_id, exc_info=exc)
    return PlainTextResponse(
        f"the upload could not be stored (request id {request_id})", 500, headers={"x-request-id": request_id}
    )


def _open_for_writing(folder: str, temp: str) -> BinaryIO:
    os.makedirs(folder, exist_ok=True)
    return open(temp, "xb")
