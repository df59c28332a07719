"""A Kubernetes API test server: a test double for plugin tests, spoken to over real HTTP.

    with KubeTestServer(kubelet=True) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        ...  # the real `kubernetes` client or `kubectl` against it

It validates every write against the real schemas (see :mod:`roost_k8s_pod.testing.schemas`), keeps
resource versions and a watch history, serves discovery, tables for ``kubectl get`` and pod logs, and
with ``kubelet=True`` runs pods' primary containers as local processes. What it implements and what it
does not is listed in the package README.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roost_k8s_pod.testing.api import CONFIGMAPS, CRDS, NAMESPACES, PODS, SECRETS, KubeApi
from roost_k8s_pod.testing.kubelet import Kubelet, KubeletOptions
from roost_k8s_pod.testing.schemas import (
    SCHEMAS_ENV,
    SchemasNotFoundError,
    crd_path,
    load_crd,
    schemas_folder,
)
from roost_k8s_pod.testing.server import HttpFront, RecordedRequest
from roost_k8s_pod.testing.store import ApiError, ResourceType, Store

__all__ = [
    "SCHEMAS_ENV",
    "ApiError",
    "KubeTestServer",
    "Kubelet",
    "KubeletOptions",
    "RecordedRequest",
    "SchemasNotFoundError",
    "crd_path",
    "kubeconfig",
    "load_crd",
    "schemas_folder",
    "unreachable_kubeconfig",
    "write_kubeconfig",
]

_KINDS = {"pods": PODS, "secrets": SECRETS, "configmaps": CONFIGMAPS, "namespaces": NAMESPACES}


class KubeTestServer:
    """The API server on ``127.0.0.1`` in a background thread; a context manager.

    ``kubelet`` (True or :class:`KubeletOptions`) adds the node that runs pods. ``bookmark_interval`` is
    how often a watch that allows bookmarks gets one; ``watch_timeout`` how long a watch without
    ``timeoutSeconds`` lasts. ``strict`` rejects unknown fields unless a request asks otherwise.
    """

    def __init__(
        self,
        *,
        kubelet: bool | KubeletOptions = False,
        bookmark_interval: float = 1.0,
        watch_timeout: float = 1800.0,
        strict: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = Store()
        self.api = KubeApi(self.store, strict_by_default=strict)
        self._kubelet_options = (
            kubelet if isinstance(kubelet, KubeletOptions) else KubeletOptions() if kubelet else None
        )
        self.kubelet: Kubelet | None = None
        self._front = HttpFront(self.api, None, bookmark_interval, watch_timeout)
        self._host = host
        self._httpd = self._front.make_server(host, port)
        self._front.address = f"{host}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> KubeTestServer:
        """Start serving (and the kubelet, if asked for)."""
        if self._kubelet_options is not None and self.kubelet is None:
            self.kubelet = Kubelet(self.api, self._kubelet_options, server_address=self._front.address)
            self._front.kubelet = self.kubelet
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="roost-k8s-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: watches end, the kubelet kills its processes."""
        self._front.stopping.set()
        self.store.close_watches()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(10)
        self._httpd.server_close()
        if self.kubelet is not None:
            self.kubelet.close()

    def __enter__(self) -> KubeTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # configuration for clients

    def kubeconfig(self, *, context: str = "roost-test", namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig (as a dict) with one context pointing at this server."""
        return kubeconfig({context: self}, namespace=namespace)

    def write_kubeconfig(
        self, path: Path, *, context: str = "roost-test", namespace: str = "default"
    ) -> Path:
        """Write :meth:`kubeconfig` to ``path``; returns it."""
        return write_kubeconfig(path, {context: self}, namespace=namespace)

    # conveniences for tests

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._front.requests_lock:
            return list(self._front.requests)

    def created(self, plural: str) -> int:
        """How many objects of the resource ``plural`` (``pods``, ``rayjobs``) requests created: what a
        conformance subject counts as submissions."""
        suffix = f"/{plural}"
        return sum(
            1
            for request in self.requests
            if request.method == "POST" and request.path.endswith(suffix) and request.status == 201
        )

    def live_pods(self, namespace: str) -> int:
        """How many pods of ``namespace`` are pending or running: what must come to none after an abort."""
        return sum(
            1
            for pod in self.list_objects("pods", namespace)
            if pod.get("status", {}).get("phase") in (None, "Pending", "Running")
        )

    def create_namespace(self, name: str) -> None:
        """Create a namespace (an existing one is fine)."""
        if self.store.get(NAMESPACES, "", name) is None:
            self.api.write("create", NAMESPACES, "v1", "", {"metadata": {"name": name}})

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create a core object (Pod, Secret, ConfigMap, Namespace) or custom resource; returns it stored."""
        rtype = self._type_of(obj)
        namespace = str((obj.get("metadata") or {}).get("namespace", "default")) if rtype.namespaced else ""
        return self.api.write("create", rtype, rtype.version, namespace, dict(obj)).obj

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """An object of a core kind (``pods``, ``secrets``, ...) or registered CRD plural; None if absent."""
        return self.store.get(self._type_named(plural), namespace, name)

    def list_objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of a kind."""
        return self.store.list_objects(self._type_named(plural), namespace)[0]

    def set_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Replace an object's status, as its controller would (drives CRD phases in tests)."""
        return self.api.set_status(self._type_named(plural), namespace, name, status)

    def register_crd(self, crd: Mapping[str, Any]) -> ResourceType:
        """Serve a CustomResourceDefinition's resource."""
        return self.api.register_crd(crd)

    def register_crd_file(self, relative: str) -> ResourceType:
        """Serve a CRD from the schema folder (``spark-operator/...yaml``); raises SchemasNotFoundError
        (whose message says the CRD checks are skipped) when it is absent."""
        return self.api.register_crd(load_crd(relative))

    def validate(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Admit ``obj`` as a create would, without storing it; raises :class:`ApiError` if it is refused."""
        return self.api.validate(obj)

    def compact(self) -> None:
        """Forget the change history: watches resuming from older resource versions get 410 Gone."""
        self.store.compact()

    def close_watches(self) -> None:
        """End every open watch stream, as an API server restart or a load balancer would."""
        self.store.close_watches()

    def _type_of(self, obj: Mapping[str, Any]) -> ResourceType:
        group, _, _ = str(obj.get("apiVersion", "v1")).rpartition("/")
        for rtype in self.api.types():
            if rtype.group == group and rtype.kind == obj.get("kind"):
                return rtype
        raise ApiError(404, "NotFound", f"no kind {obj.get('kind')!r} in {obj.get('apiVersion')!r}")

    def _type_named(self, plural: str) -> ResourceType:
        if plural in _KINDS:
            return _KINDS[plural]
        for rtype in self.api.types():
            if plural in (rtype.plural, rtype.qualified_plural):
                return rtype
        if plural == CRDS.plural:
            return CRDS
        raise KeyError(f"no kind {plural!r} is served")


def kubeconfig(
    servers: Mapping[str, KubeTestServer], *, namespace: str = "default", current: str = ""
) -> dict[str, Any]:
    """A kubeconfig with one context (and cluster and user) per server, named by the mapping's keys."""
    names: Sequence[str] = list(servers)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server.url}} for name, server in servers.items()],
        "users": [{"name": name, "user": {"token": f"roost-test-{name}"}} for name in names],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
            for name in names
        ],
        "current-context": current or names[0],
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, servers: Mapping[str, KubeTestServer], *, namespace: str = "default", current: str = ""
) -> Path:
    """Write :func:`kubeconfig` as YAML (JSON is valid YAML) to ``path``; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kubeconfig(servers, namespace=namespace, current=current), indent=2))
    path.chmod(0o600)
    return path


def unreachable_kubeconfig(path: Path) -> Path:
    """Write to ``path`` a kubeconfig whose only cluster listens nowhere (a closed port on this machine): a
    handler given it meets an unreachable API server. Returns ``path``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: gone}}]\n"
        "users: [{name: gone, user: {}}]\n"
    )
    return path
