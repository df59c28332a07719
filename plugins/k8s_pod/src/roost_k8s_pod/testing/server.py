"""The test server's HTTP side: the Kubernetes REST paths, discovery, watch streams and pod logs.

A standard-library ``ThreadingHTTPServer`` speaking HTTP/1.1 on 127.0.0.1: one thread per connection,
keep-alive, chunked transfer for watches and followed logs, as the real client libraries expect.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from roost_k8s_pod.testing.api import PODS, KubeApi
from roost_k8s_pod.testing.schemas import core_openapi_document
from roost_k8s_pod.testing.store import ApiError, ResourceType, Watcher
from roost_k8s_pod.testing.tables import table

if TYPE_CHECKING:
    from roost_k8s_pod.testing.kubelet import Kubelet

__all__ = ["HttpFront", "RecordedRequest"]

log = logging.getLogger(__name__)

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
SERVER_VERSION = {
    "major": "1",
    "minor": "35",
    "gitVersion": "v1.35.0-roost-test",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(slots=True)
class RecordedRequest:
    """One request the server received (tests count creates with these); ``status`` is set once answered."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int = 0


@dataclass(slots=True)
class HttpFront:
    """Shared state of the request handlers: the API, the kubelet, settings and the request log."""

    api: KubeApi
    kubelet: Kubelet | None
    bookmark_interval: float
    watch_timeout: float
    stopping: threading.Event = field(default_factory=threading.Event)
    requests: list[RecordedRequest] = field(default_factory=list)
    requests_lock: threading.Lock = field(default_factory=threading.Lock)
    address: str = ""

    def record(self, request: RecordedRequest) -> None:
        """Append to the request log."""
        with self.requests_lock:
            self.requests.append(request)

    def make_server(self, host: str, port: int) -> ThreadingHTTPServer:
        """The HTTP server bound to ``host:port`` (0 picks a free port)."""
        front = self

        class Handler(_Handler):
            pass

        Handler.front = front
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle's algorithm the body would wait for the
    # client's delayed ACK (about 40 ms a request on keep-alive connections).
    disable_nagle_algorithm = True
    front: HttpFront
    server_version = "roost-k8s-test"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # entry points

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self._record = RecordedRequest(method, url.path, query)
        self.front.record(self._record)
        try:
            body = self._read_body()
            self._route(method, url.path.rstrip("/") or "/", query, body)
        except ApiError as exc:
            self._send_json(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the test server: answer 500 so the client sees it
            log.exception("test server failed on %s %s", method, self.path)
            self._send_json(500, ApiError(500, "InternalError", f"test server error: {exc!r}").status())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # routing

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        front = self.front
        if path == "/version":
            return self._send_json(200, SERVER_VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return self._send_text(200, "ok")
        if path == "/api":
            return self._send_json(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": front.address}
                    ],
                },
            )
        if path == "/apis":
            return self._send_json(200, self._group_list())
        if path == "/openapi/v3":
            return self._send_json(200, self._openapi_root())
        if path.startswith("/openapi/v3/"):
            return self._send_json(200, self._openapi_document(path[len("/openapi/v3/") :]))
        parts = [p for p in path.split("/") if p]
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
            if parts[1] != "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        elif parts[0] == "apis" and len(parts) >= 2:
            group = parts[1]
            if len(parts) == 2:
                return self._send_json(200, self._group(group))
            version, rest = parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self._send_json(200, self._resource_list(group, version))
        self._resource_request(method, group, version, rest, query, body)
        return None

    def _resource_request(
        self, method: str, group: str, version: str, rest: list[str], query: dict[str, str], body: bytes
    ) -> None:
        api = self.front.api
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        rtype = api.resource_type(group, version, rest[0])
        if namespace is not None and not rtype.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (subresource and subresource not in ("status", "log")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if subresource == "log" and rtype.key != PODS.key:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if subresource == "status" and not rtype.status_subresource:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        scope = namespace if rtype.namespaced else ""
        if rtype.namespaced and name and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = query.get("dryRun") == "All"
        validation = query.get("fieldValidation", "")
        if not name:
            if method == "GET" and _flag(query.get("watch")):
                return self._watch(rtype, namespace, query)
            if method == "GET":
                return self._list(rtype, namespace, query)
            if method == "POST":
                if namespace is None and rtype.namespaced:
                    raise ApiError(
                        405,
                        "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                    )
                result = api.write(
                    "create",
                    rtype,
                    version,
                    scope or "",
                    self._json(body),
                    field_validation=validation,
                    dry_run=dry_run,
                )
                return self._send_json(201, result.obj, warnings=result.warnings)
            if method == "DELETE":
                items, _ = api.list_objects(
                    rtype, namespace, query.get("labelSelector", ""), query.get("fieldSelector", "")
                )
                for item in items:
                    api.delete(rtype, item["metadata"].get("namespace", ""), item["metadata"]["name"])
                return self._send_json(
                    200, self._list_body(rtype, version, items, api.store.resource_version)
                )
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        assert scope is not None
        if subresource == "log":
            return self._log(scope, name, query)
        if method == "GET":
            return self._send_json(200, api.get(rtype, scope, name))
        if method == "PUT":
            result = api.write(
                "update",
                rtype,
                version,
                scope,
                self._json(body),
                name=name,
                subresource=subresource,
                field_validation=validation,
                dry_run=dry_run,
            )
            return self._send_json(200, result.obj, warnings=result.warnings)
        if method == "PATCH":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            patch = self._json(body) if content_type != "application/apply-patch+yaml" else None
            result = api.patch(
                rtype,
                version,
                scope,
                name,
                patch,
                content_type,
                subresource=subresource,
                field_validation=validation,
                dry_run=dry_run,
            )
            return self._send_json(200, result.obj, warnings=result.warnings)
        if method == "DELETE":
            options = self._json(body) if body.strip() else {}
            grace = query.get(
                "gracePeriodSeconds", options.get("gracePeriodSeconds") if isinstance(options, dict) else None
            )
            deleted = api.delete(rtype, scope, name, int(grace) if grace not in (None, "") else None)
            if rtype.key == PODS.key:
                return self._send_json(200, deleted)
            return self._send_json(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": name,
                        "group": rtype.group,
                        "kind": rtype.plural,
                        "uid": deleted["metadata"].get("uid", ""),
                    },
                },
            )
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    # reads

    def _list(self, rtype: ResourceType, namespace: str | None, query: dict[str, str]) -> None:
        api = self.front.api
        items, rv = api.list_objects(
            rtype, namespace, query.get("labelSelector", ""), query.get("fieldSelector", "")
        )
        if self._wants_table():
            return self._send_json(
                200, table(rtype, items, rv, include_object=query.get("includeObject", ""))
            )
        version = rtype.version
        return self._send_json(200, self._list_body(rtype, version, items, rv))

    @staticmethod
    def _list_body(rtype: ResourceType, version: str, items: list[dict[str, Any]], rv: int) -> dict[str, Any]:
        return {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version(version),
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept") or ""
        return "as=Table" in accept

    def _watch(self, rtype: ResourceType, namespace: str | None, query: dict[str, str]) -> None:
        front = self.front
        as_table = self._wants_table()
        self._start_stream("application/json")
        try:
            watcher = front.api.watch(
                rtype,
                namespace,
                query.get("labelSelector", ""),
                query.get("fieldSelector", ""),
                query.get("resourceVersion", ""),
            )
        except ApiError as exc:
            self._write_chunk(json.dumps({"type": "ERROR", "object": exc.status()}) + "\n")
            self._end_stream()
            return
        try:
            self._stream_events(watcher, rtype, query, as_table)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        finally:
            watcher.stop()
        self._end_stream()

    def _stream_events(
        self, watcher: Watcher, rtype: ResourceType, query: dict[str, str], as_table: bool
    ) -> None:
        front = self.front
        timeout = float(query.get("timeoutSeconds") or front.watch_timeout)
        deadline = time.monotonic() + timeout
        bookmarks = _flag(query.get("allowWatchBookmarks"))
        first_table = True
        next_bookmark = time.monotonic() + front.bookmark_interval
        while not front.stopping.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            wait = min(deadline - now, max(0.01, next_bookmark - now) if bookmarks else 0.5, 0.5)
            try:
                kind, obj = watcher.events.get(timeout=wait)
            except queue.Empty:
                if bookmarks and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + front.bookmark_interval
                    rv = self._quiet_resource_version(watcher)
                    if rv is not None:
                        watcher.bookmark(rv)
                continue
            if kind == "CLOSED":
                return
            if kind == "BOOKMARK":
                if not bookmarks:
                    continue
                obj = {"kind": rtype.kind, "apiVersion": rtype.api_version(), **obj}
            elif as_table:
                include = query.get("includeObject", "")
                obj = table(
                    rtype,
                    [obj],
                    int(obj["metadata"]["resourceVersion"]),
                    include_object=include,
                    with_columns=first_table,
                )
                first_table = False
            self._write_chunk(json.dumps({"type": kind, "object": obj}) + "\n")

    def _quiet_resource_version(self, watcher: Watcher) -> int | None:
        """The current resource version if nothing is queued for ``watcher`` (so a bookmark skips no event)."""
        store = self.front.api.store
        with store.lock:
            if not watcher.events.empty():
                return None
            return store.resource_version

    def _log(self, namespace: str, name: str, query: dict[str, str]) -> None:
        api = self.front.api
        pod = api.get(PODS, namespace, name)
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        container = query.get("container") or ""
        if not container:
            if len(containers) != 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]",
                )
            container = containers[0]
        elif container not in containers:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        kubelet = self.front.kubelet
        path = kubelet.log_path(namespace, name, container) if kubelet is not None else None
        if path is None or not path.exists():
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
            )
        if _flag(query.get("follow")):
            assert kubelet is not None
            return self._follow_log(path, lambda: kubelet.container_running(namespace, name, container))
        data = path.read_bytes()
        data = _tail(data, query.get("tailLines"))
        if query.get("limitBytes"):
            data = data[: int(query["limitBytes"])]
        self._send_bytes(200, data, "text/plain")
        return None

    def _follow_log(self, path: Path, running: Callable[[], bool]) -> None:
        self._start_stream("text/plain")
        try:
            with open(path, "rb") as stream:
                while not self.front.stopping.is_set():
                    chunk = stream.read(65536)
                    if chunk:
                        self._write_chunk(chunk)
                        continue
                    if not running():
                        rest = stream.read()
                        if rest:
                            self._write_chunk(rest)
                        break
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        self._end_stream()

    # discovery

    def _group_list(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for rtype in self.front.api.types():
            if rtype.group:
                versions = groups.setdefault(rtype.group, [])
                versions.extend(v for v in rtype.versions if v not in versions)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group_body(name, versions) for name, versions in sorted(groups.items())],
        }

    def _group(self, group: str) -> dict[str, Any]:
        versions: list[str] = []
        for rtype in self.front.api.types():
            if rtype.group == group:
                versions.extend(v for v in rtype.versions if v not in versions)
        if not versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_body(group, versions)}

    @staticmethod
    def _group_body(group: str, versions: list[str]) -> dict[str, Any]:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rtype in self.front.api.types():
            if rtype.group != group or version not in rtype.versions:
                continue
            entry: dict[str, Any] = {
                "name": rtype.plural,
                "singularName": rtype.singular,
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": _VERBS,
            }
            if rtype.short_names:
                entry["shortNames"] = list(rtype.short_names)
            if rtype.categories:
                entry["categories"] = list(rtype.categories)
            resources.append(entry)
            if rtype.status_subresource:
                resources.append(
                    {
                        "name": f"{rtype.plural}/status",
                        "singularName": "",
                        "namespaced": rtype.namespaced,
                        "kind": rtype.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
            if rtype.key == PODS.key:
                resources.append(
                    {
                        "name": "pods/log",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get"],
                    }
                )
        if not resources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group_version = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }

    # OpenAPI v3: what kubectl reads to learn that the server validates fields itself

    def _group_versions(self) -> dict[str, list[ResourceType]]:
        found: dict[str, list[ResourceType]] = {}
        for rtype in self.front.api.types():
            for version in rtype.versions:
                key = f"apis/{rtype.group}/{version}" if rtype.group else f"api/{version}"
                found.setdefault(key, []).append(rtype)
        return found

    def _openapi_root(self) -> dict[str, Any]:
        return {
            "paths": {
                key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={len(types)}"}
                for key, types in sorted(self._group_versions().items())
            }
        }

    def _openapi_document(self, key: str) -> dict[str, Any]:
        """The API server's own document for ``api/v1`` when the schema folder has it; otherwise a small one
        whose PATCH operations declare ``fieldValidation`` (all kubectl's strict validation looks for)."""
        types = self._group_versions().get(key)
        if types is None:
            raise ApiError(404, "NotFound", f"no OpenAPI document for {key}")
        if key == "api/v1":
            real = core_openapi_document()
            if real is not None:
                return real
        version = key.rsplit("/", 1)[-1]
        paths: dict[str, Any] = {}
        for rtype in types:
            scope = "/namespaces/{namespace}" if rtype.namespaced else ""
            prefix = f"/apis/{rtype.group}/{version}" if rtype.group else f"/api/{version}"
            gvk = {"group": rtype.group, "version": version, "kind": rtype.kind}
            patch = {
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-action": "patch",
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
                ],
                "responses": {"200": {"description": "OK"}},
            }
            paths[f"{prefix}{scope}/{rtype.plural}/{{name}}"] = {"patch": patch}
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths,
            "components": {"schemas": {}},
        }

    # responses

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except json.JSONDecodeError as exc:
            raise ApiError(
                400, "BadRequest", f"the body of the request could not be decoded as JSON: {exc}"
            ) from None

    def _send_json(self, code: int, obj: Any, *, warnings: tuple[str, ...] = ()) -> None:
        self._send_bytes(code, json.dumps(obj).encode(), "application/json", warnings=warnings)

    def _send_text(self, code: int, text: str) -> None:
        self._send_bytes(code, text.encode(), "text/plain")

    def _send_bytes(
        self, code: int, data: bytes, content_type: str, *, warnings: tuple[str, ...] = ()
    ) -> None:
        self._record.status = code  # before the answer leaves, so a client never sees a log without it
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for warning in warnings:
            self.send_header("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str) -> None:
        self._record.status = 200
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write_chunk(self, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _tail(data: bytes, lines: str | None) -> bytes:
    if not lines:
        return data
    count = int(lines)
    if count <= 0:
        return b""
    kept = data.splitlines(keepends=True)[-count:]
    return b"".join(kept)


def _flag(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it."""
    return value in ("1", "t", "T", "true", "TRUE", "True")
