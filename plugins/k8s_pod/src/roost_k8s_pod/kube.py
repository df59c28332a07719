"""Talking to a cluster: the real ``kubernetes`` client, objects as plain dicts.

:class:`ResourceKind` says where a kind lives in the API; :class:`KubeClient` makes the REST calls the
machinery needs (create, get, list, watch, patch, delete, pod logs) through the ``kubernetes`` package's
``ApiClient`` (so kubeconfig loading, authentication and TLS are the client's), with JSON in and out.
:class:`Clusters` keeps one client per configured cluster. ``kubernetes`` is imported on first use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from roost_core.errors import ConfigurationError, RoostError
from roost_k8s_pod.settings import ClusterSettings

__all__ = ["POD", "Clusters", "KubeApiError", "KubeClient", "KubeUnavailableError", "ResourceKind"]


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """A namespaced kind: its ``apiVersion``, ``kind`` and plural resource name (``pods``)."""

    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        """The API group (empty for core types)."""
        return self.api_version.rpartition("/")[0]

    def collection(self, namespace: str | None) -> str:
        """The path of the objects in ``namespace`` (all namespaces when None)."""
        prefix = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        if namespace is None:
            return f"{prefix}/{self.plural}"
        return f"{prefix}/namespaces/{quote(namespace)}/{self.plural}"

    def path(self, namespace: str, name: str) -> str:
        """The path of one object."""
        return f"{self.collection(namespace)}/{quote(name)}"


POD = ResourceKind("v1", "Pod", "pods")
"""The core Pod kind."""


class KubeApiError(RoostError):
    """The API server refused a call: its HTTP status, ``Status.reason`` and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class KubeUnavailableError(RoostError):
    """The API server could not be reached or did not answer in time."""


class KubeClient:
    """REST calls against one cluster, through a ``kubernetes.client.ApiClient``."""

    def __init__(self, api_client: Any, *, timeout: float) -> None:
        self.api_client = api_client
        self.timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
        stream: bool = False,
    ) -> Any:
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped,unused-ignore]
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            response = self.api_client.call_api(
                path,
                method,
                query_params=[(k, v) for k, v in (query or {}).items()],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout or self.timeout,
            )
        except ApiException as exc:
            raise _api_error(exc) from None
        except (HTTPError, OSError) as exc:
            raise KubeUnavailableError(f"{method} {path}: {exc}") from None
        if stream:
            return response
        try:
            data = response.data
        finally:
            response.release_conn()
        return json.loads(data) if data else None

    def create(self, kind: ResourceKind, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST an object; returns it as stored."""
        result: dict[str, Any] = self._call("POST", kind.collection(namespace), body=dict(body))
        return result

    def get(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
        """GET one object."""
        result: dict[str, Any] = self._call("GET", kind.path(namespace, name))
        return result

    def list_objects(
        self, kind: ResourceKind, namespace: str | None, *, label_selector: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """The objects and the list's resource version."""
        query = {"labelSelector": label_selector} if label_selector else {}
        result = self._call("GET", kind.collection(namespace), query=query)
        return list(result.get("items") or []), str(result["metadata"].get("resourceVersion", ""))

    def merge_patch(
        self, kind: ResourceKind, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PATCH with a JSON merge patch."""
        result: dict[str, Any] = self._call(
            "PATCH", kind.path(namespace, name), body=dict(patch), content_type="application/merge-patch+json"
        )
        return result

    def delete(self, kind: ResourceKind, namespace: str, name: str) -> None:
        """DELETE an object, its dependents in the background."""
        self._call("DELETE", kind.path(namespace, name), body={"propagationPolicy": "Background"})

    def pod_log(self, namespace: str, name: str, container: str, *, tail_lines: int) -> str:
        """The last lines of a container's log."""
        query = {"container": container, "tailLines": str(tail_lines)}
        response = self._call("GET", f"{POD.path(namespace, name)}/log", query=query, stream=True)
        try:
            return bytes(response.data).decode("utf-8", errors="replace")
        finally:
            response.release_conn()

    def watch(
        self,
        kind: ResourceKind,
        namespace: str | None,
        *,
        resource_version: str,
        label_selector: str,
        timeout_seconds: int,
    ) -> Any:
        """Start a watch with bookmarks; returns the streaming response (read it with :func:`watch_events`)."""
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        # The read timeout outlasts the server's own end of the watch, so a silent connection is noticed.
        return self._call(
            "GET",
            kind.collection(namespace),
            query=query,
            timeout=(self.timeout, timeout_seconds + 30),
            stream=True,
        )


def watch_events(response: Any) -> Iterator[dict[str, Any]]:
    """The JSON events of a watch response, one per line, until the server ends the stream."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)


def _api_error(exc: Any) -> KubeApiError:
    body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
    reason, message = str(exc.reason or ""), str(body or exc.reason or "")
    try:
        status = json.loads(body)
        reason = status.get("reason") or reason
        message = status.get("message") or message
    except (TypeError, ValueError):
        pass
    return KubeApiError(int(exc.status or 0), reason, message)


class Clusters:
    """One :class:`KubeClient` per cluster, made on first use and closed by :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, ClusterSettings, float], KubeClient] = {}

    def client(self, name: str, settings: ClusterSettings, *, timeout: float) -> KubeClient:
        """The client of cluster ``name``; a ConfigurationError if its kubeconfig cannot be loaded."""
        key = (name, settings, timeout)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = KubeClient(_api_client(name, settings), timeout=timeout)
                self._clients[key] = client
            return client

    def close(self) -> None:
        """Close every client's connections."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.api_client.close()


def _api_client(name: str, settings: ClusterSettings) -> Any:
    from kubernetes import client, config  # type: ignore[import-untyped,unused-ignore]
    from kubernetes.config.config_exception import ConfigException  # type: ignore[import-untyped,unused-ignore]

    try:
        if settings.in_cluster:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        return config.new_client_from_config(
            config_file=settings.kubeconfig or None, context=settings.context or None, persist_config=False
        )
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = (
            "the in-cluster service account"
            if settings.in_cluster
            else (
                f"kubeconfig {settings.kubeconfig or '(default)'}, context {settings.context or '(current)'}"
            )
        )
        raise ConfigurationError(f"cluster {name!r}: cannot load {where}: {exc}") from None
