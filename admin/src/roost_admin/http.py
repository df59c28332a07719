"""The admin's HTTP endpoint: ``/healthz``, and the signed upload and download URLs of the local blob store.

A signed URL (made by ``FileStore.signed_url`` for the DataProxy) looks like
``{http_url}/data/{path}?method=PUT&expires=...&signature=...``. ``PUT`` stores the body at the path,
atomically, after checking the signature, the expiry and (when the request carries one, which a URL signed
for an MD5 requires) the ``Content-MD5`` header against the body. ``GET`` returns the blob. Only blobs under
the admin's ``file://`` storage prefix are served.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from roost_core.storage import FileStore, StorageError
from roost_core.storage.file import TEMP_PREFIX

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

DATA_PATH = "/data"
"""Where signed URLs of the local store point (``AdminApp.http_url`` + this is the store's ``url_base``)."""


def build_http_app(app: AdminApp) -> Starlette:
    """The HTTP application ``roost start`` serves next to gRPC."""

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, app)
        except SQLAlchemyError as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc.__cause__ or exc)}, 503)
        return JSONResponse({"status": "ok"})

    async def data(request: Request) -> Response:
        store = _file_store(app)
        if store is None:
            return PlainTextResponse("this admin has no local file store to serve", 404)
        query = request.query_params
        expires, signature = query.get("expires"), query.get("signature")
        if not expires or not signature:
            return PlainTextResponse(
                "not a signed URL: the expires and signature parameters are required", 403
            )
        method = "GET" if request.method == "HEAD" else request.method
        content_md5 = request.headers.get("content-md5")
        try:
            uri = store.verify_signed_url(
                request.path_params["path"], method, expires, signature, content_md5
            )
        except StorageError as exc:
            message = str(exc)
            if method == "PUT" and not content_md5 and "wrong signature" in message:
                message += " (a URL made for an upload with content_md5 also needs the Content-MD5 header)"
            return PlainTextResponse(message, 403)
        prefix = app.settings.storage_prefix
        path = store.path_of(uri)
        if not prefix.startswith("file://") or not path.startswith(store.path_of(prefix).rstrip("/") + "/"):
            return PlainTextResponse(f"{uri} is not under this admin's storage ({prefix})", 403)
        if method == "GET":
            if not os.path.isfile(path):
                return PlainTextResponse(f"no blob at {uri}", 404)
            return FileResponse(path, media_type="application/octet-stream")
        return await _upload(request, uri, path, content_md5)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(DATA_PATH + "/{path:path}", data, methods=["GET", "PUT"]),
        ]
    )


def _ping(app: AdminApp) -> None:
    with app.db.session() as session:
        session.execute(text("SELECT 1"))


def _file_store(app: AdminApp) -> FileStore | None:
    try:
        store = app.storage.store_for("file:///")
    except StorageError:
        return None
    return store if isinstance(store, FileStore) else None


async def _upload(request: Request, uri: str, path: str, content_md5: str | None) -> Response:
    """Stream the body into a temporary file beside ``path``, check its MD5, then rename it into place."""
    expected: bytes | None = None
    if content_md5:
        try:
            expected = base64.b64decode(content_md5, validate=True)
        except binascii.Error:
            expected = None
        if expected is None or len(expected) != 16:
            return PlainTextResponse(
                f"Content-MD5 {content_md5!r} is not the base64 of a 16-byte MD5 digest", 400
            )
    folder = os.path.dirname(path)
    temp = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        file = await run_in_threadpool(_open_for_writing, folder, temp)
    except OSError as exc:
        return PlainTextResponse(f"cannot write {uri}: {exc.strerror or exc}", 500)
    try:
        try:
            async for chunk in request.stream():
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
        await run_in_threadpool(os.replace, temp, path)
    except OSError as exc:
        return PlainTextResponse(f"cannot write {uri}: {exc.strerror or exc}", 500)
    finally:
        with contextlib.suppress(OSError):
            os.remove(temp)
    return Response(status_code=200)


def _open_for_writing(folder: str, temp: str) -> BinaryIO:
    os.makedirs(folder, exist_ok=True)
    return open(temp, "xb")
