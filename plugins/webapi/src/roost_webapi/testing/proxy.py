"""An HTTP proxy in front of a stand-in: records every call, and lets a test change what passes through.

Neither stand-in runs a job in the background (both answer a query when it is submitted), and neither checks
credentials, so tests put this proxy in front to see what the real clients send (submissions, cancellations),
to keep a job running for as long as a test needs (``hold``), and to refuse a login (``snowflake_password``).
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Call", "RecordingProxy"]

_CANCEL_SQL = re.compile(r"SYSTEM\$CANCEL_QUERY\s*\(\s*'([^']*)'\s*\)", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """One request that went through the proxy."""

    method: str
    path: str
    body: Any
    """The JSON body (decompressed), or None."""


class RecordingProxy:
    """Forwards ``http://127.0.0.1:<port>`` to ``upstream`` (``http://host:port``).

    - ``calls``: every request, in order; :meth:`count` counts them by method and path pattern;
    - ``hold = True``: BigQuery jobs read with jobs.get, and Snowflake queries asked about through the
      monitoring API, look RUNNING (until cancelled, or until ``hold`` is False again);
    - ``snowflake_password``: when set, a Snowflake password login with another password is refused as
      Snowflake refuses it (code 390100);
    - Snowflake's ``SYSTEM$CANCEL_QUERY('id')``, which fakesnow lacks, is answered here and recorded in
      ``cancelled``; a BigQuery jobs.cancel is recorded there too;
    - ``down = True``: every request gets a 503, as from an unreachable service behind a load balancer.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.calls: list[Call] = []
        self.cancelled: list[str] = []
        self.hold = False
        self.down = False
        self.snowflake_password: str | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                proxy._serve(self)

            do_POST = do_GET
            do_PUT = do_GET
            do_DELETE = do_GET
            do_PATCH = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recording-proxy", daemon=True
        )
        self._thread.start()

    def count(self, method: str, path_pattern: str) -> int:
        """How many calls had ``method`` and a path matching the regular expression ``path_pattern``."""
        pattern = re.compile(path_pattern)
        with self._lock:
            return sum(1 for c in self.calls if c.method == method and pattern.search(c.path))

    def matching(self, method: str, path_pattern: str) -> list[Call]:
        """The calls with ``method`` and a path matching ``path_pattern``."""
        pattern = re.compile(path_pattern)
        with self._lock:
            return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    # one request

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        body = _json_body(raw, request.headers.get("Content-Encoding", ""))
        method, path = request.command, request.path
        with self._lock:
            self.calls.append(Call(method, path, body))
        if self.down:
            self._reply(request, 503, {"error": {"code": 503, "message": "service unavailable"}})
            return
        refused = self._snowflake_login_refusal(path, body)
        if refused is not None:
            self._reply(request, 200, refused)
            return
        if method == "POST" and path.startswith("/queries/v1/query-request") and isinstance(body, dict):
            match = _CANCEL_SQL.search(str(body.get("sqlText", "")))
            if match:
                with self._lock:
                    self.cancelled.append(match.group(1))
                # fakesnow has no SYSTEM$CANCEL_QUERY: ask it for the answer Snowflake gives
                body["sqlText"] = "SELECT 'query cancelled' AS status"
                raw = json.dumps(body).encode()
                headers = {k: v for k, v in request.headers.items() if k.lower() != "content-encoding"}
                self._forward(request, raw, headers, None)
                return
        bigquery_cancel = re.match(r"/bigquery/v2/projects/[^/]+/jobs/([^/?]+)/cancel", path)
        if method == "POST" and bigquery_cancel:
            with self._lock:
                self.cancelled.append(bigquery_cancel.group(1))
        self._forward(request, raw, dict(request.headers.items()), self._rewrite(method, path))

    def _snowflake_login_refusal(self, path: str, body: Any) -> dict[str, Any] | None:
        if self.snowflake_password is None or not path.startswith("/session/v1/login-request"):
            return None
        data = body.get("data", {}) if isinstance(body, dict) else {}
        if "PASSWORD" not in data or data.get("PASSWORD") == self.snowflake_password:
            return None
        return {
            "data": {"nextAction": "RETRY_LOGIN", "authnMethod": "USERNAME_PASSWORD"},
            "code": "390100",
            "message": "Incorrect username or password was specified.",
            "success": False,
            "headers": None,
        }

    def _rewrite(self, method: str, path: str) -> Callable[[Any], Any] | None:
        if not self.hold or method != "GET":
            return None
        job = re.match(r"/bigquery/v2/projects/[^/]+/jobs/([^/?]+)(\?|$)", path)
        if job:
            job_id = job.group(1)

            def running_job(payload: Any) -> Any:
                if isinstance(payload, dict) and job_id not in self.cancelled:
                    payload.setdefault("status", {})["state"] = "RUNNING"
                    payload["status"].pop("errorResult", None)
                return payload

            return running_job
        query = re.match(r"/monitoring/queries/([^/?]+)", path)
        if query:
            query_id = query.group(1)

            def running_query(payload: Any) -> Any:
                status = "ABORTING" if query_id in self.cancelled else "RUNNING"
                return {"data": {"queries": [{"status": status}]}, "success": True}

            return running_query
        return None

    def _forward(
        self,
        request: BaseHTTPRequestHandler,
        raw: bytes,
        headers: dict[str, str],
        rewrite: Callable[[Any], Any] | None,
    ) -> None:
        headers = {
            k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")
        }
        headers["Content-Length"] = str(len(raw))
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            upstream.request(request.command, request.path, body=raw or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            status = response.status
            reply_headers = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
            ]
            encoding = response.getheader("Content-Encoding", "")
        finally:
            upstream.close()
        if encoding == "gzip":
            data = gzip.decompress(data)
        if rewrite is not None and status == 200:
            data = json.dumps(rewrite(json.loads(data))).encode()
        request.send_response(status)
        for key, value in reply_headers:
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _reply(self, request: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def _json_body(raw: bytes, encoding: str) -> Any:
    if not raw:
        return None
    if encoding == "gzip" or raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return None
