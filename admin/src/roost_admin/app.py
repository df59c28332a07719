"""The admin as one object: it wires the parts together and owns their lifecycle.

At start it builds the services' context once (database, blob store, settings, clock), the services over it,
then the transports over the services (gRPC servicers, the HTTP endpoint, auth's hooks for both) and the engine
workers (which use the services to launch child executions, record events and read signals). ``roost start``
runs all of it in one process; ``roost engine`` runs only workers against the same database and storage.
"""

from __future__ import annotations

import importlib.util
import logging
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from flyteidl.core import identifier_pb2

from roost_admin.blobs import DATA_PATH
from roost_admin.config import Settings
from roost_admin.db.base import Database
from roost_admin.services import ServiceContext, Services
from roost_core.plugins import EnginePlugins
from roost_core.storage import Storage, build_storage

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

    from roost_admin.auth.gate import AuthGate
    from roost_admin.workers import WorkerPool
    from roost_admin.workers.notifier import NotifierThread
    from roost_admin.workers.publisher import PublisherThread
    from roost_admin.workers.scheduler import SchedulerThread

log = logging.getLogger(__name__)

_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")
"""Hosts that mean "every interface" when listening; a task process on this host reaches them locally."""


def grpc_options(settings: Settings) -> list[tuple[str, Any]]:
    """Channel options: message limits, and keepalive pings accepted as flytekit sends them (every 30 s, even
    idle), so the server never answers with GOAWAY too_many_pings."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
    ]


def signing_key(data_dir: Path) -> bytes:
    """The key signing upload and download URLs of the local store, kept in the data folder so URLs stay
    valid across restarts."""
    path = data_dir / "signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


class AdminApp:
    """Everything the admin runs, built from settings; :meth:`start` and :meth:`stop` bring it up and down."""

    def __init__(self, settings: Settings, *, plugins: EnginePlugins | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.plugins = plugins or EnginePlugins()
        self.grpc_server: grpc.Server | None = None
        self.grpc_port = settings.grpc_port
        self.http_port = settings.http_port
        self._services: Services | None = None
        self.workers: WorkerPool | None = None
        self.scheduler: SchedulerThread | None = None
        """The scheduler's thread, when this process runs one."""
        self.notifier: NotifierThread | None = None
        self.publisher: PublisherThread | None = None
        """The thread delivering notifications, when this process serves and a channel is configured."""
        self.auth: AuthGate | None = None
        """Authentication and authorization, when ``auth.enabled`` is set (built when the servers start)."""
        self.task_credentials: (
            Callable[[identifier_pb2.WorkflowExecutionIdentifier], dict[str, str]] | None
        ) = None
        """Execution credentials for task processes, when auth is on (see ``roost_admin.auth``)."""
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None

    def _storage_config(self) -> dict[str, dict[str, Any]]:
        settings = self.settings
        config: dict[str, dict[str, Any]] = {
            "file": {"url_base": self.http_url + DATA_PATH, "signing_key": signing_key(settings.data_dir)}
        }
        for scheme, options in settings.storage_options.items():
            config[scheme] = {**config.get(scheme, {}), **options}
        return config

    def start(self, *, serve: bool = True, workers: int | None = None, scheduler: bool | None = None) -> None:
        """Migrate the database, then start the servers (unless ``serve`` is False), ``workers`` workers and
        the scheduler (by default when serving and ``scheduler.enabled``)."""
        from roost_admin.db.migrate import upgrade

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.db)
        # Signed URLs name the HTTP port, known only once it is bound when the settings ask for any free port (0).
        http_socket = self._bind_http() if serve else None
        try:
            self._services = Services(
                ServiceContext(
                    settings=self.settings,
                    db=self.db,
                    storage=build_storage(self.plugins, self._storage_config()),
                    plugins=self.plugins,
                )
            )
            self._services.projects.ensure_defaults()
            self._services.context.channels()  # channel settings a channel refuses stop the start, naming them
        except BaseException:
            if http_socket is not None:
                http_socket.close()
            raise
        if self.settings.auth.enabled:
            from roost_admin.auth.gate import execution_credentials

            credentials = execution_credentials(self.settings)
            self.task_credentials = credentials.environment if credentials is not None else None
        if http_socket is not None:
            if self.settings.auth.enabled:
                from roost_admin.auth.gate import AuthGate

                self.auth = AuthGate(self.settings, self.db, self.http_url)
                self.auth.announce()
            self._start_grpc()
            self._start_http(http_socket)
        count = self.settings.workers if workers is None else workers
        if count:
            self._report_plugins()
            self.workers = self.worker_pool(count)
            self.workers.start()
        if scheduler is None:
            scheduler = serve and self.settings.scheduler.enabled
        if scheduler:
            from roost_admin.workers.scheduler import SchedulerThread

            self.scheduler = SchedulerThread(self.services)
            self.scheduler.start()
        wanted = self.settings.notifications
        if serve and (wanted.webhooks or wanted.smtp is not None or set(wanted.routes.values()) != {"email"}):
            from roost_admin.workers.notifier import NotifierThread

            self.notifier = NotifierThread(self.services)
            self.notifier.start()
        if serve and self.settings.events.subscribers:
            from roost_admin.workers.publisher import PublisherThread

            self.publisher = PublisherThread(self.services)
            self.publisher.start()

    def _report_plugins(self) -> None:
        """Log, as the engine starts here, what needs attention about the installed plugins (what `roost
        plugins` lists); the plugins that work are used either way."""
        from roost_core.plugins.attention import SdkSides, report_attention

        sdk: Callable[[], SdkSides] | None = None
        # `roost start` runs with the SDK (its command line); an engine host without it says less
        if importlib.util.find_spec("roost") is not None:
            from roost.plugins.attention import sdk_sides

            sdk = sdk_sides
        configured = self.settings.engine.get("default_for_task_types")
        report_attention(self.plugins, sdk, configured if isinstance(configured, Mapping) else None)

    @property
    def services(self) -> Services:
        """The admin's services (built by :meth:`start`)."""
        if self._services is None:
            raise RuntimeError("the admin's services exist once it has started")
        return self._services

    @property
    def storage(self) -> Storage:
        """The blob store (built by :meth:`start`)."""
        return self.services.context.storage

    def worker_pool(self, count: int) -> WorkerPool:
        """A pool of ``count`` engine workers over this admin's services (not started)."""
        from roost_admin.workers import WorkerPool

        return WorkerPool(
            self.services,
            count,
            public_grpc_endpoint=self.public_grpc_endpoint,
            task_credentials=self.task_credentials,
        )

    def _start_grpc(self) -> None:
        from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

        from roost_admin.auth.interceptor import AuthInterceptor
        from roost_admin.server.admin import AdminService
        from roost_admin.server.dataproxy import DataProxyService
        from roost_admin.server.edge import EdgeInterceptor
        from roost_admin.server.roost_service import RoostService, add_roost_service
        from roost_admin.server.signals import SignalService
        from roost_admin.services.request_checks import RequestLimits

        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="roost-grpc"),
            options=grpc_options(self.settings),
            # Requests are parsed and checked by the edge interceptor, then by auth's; an unauthenticated one
            # never reaches a servicer, and auth's refusals carry request ids too.
            interceptors=[
                EdgeInterceptor(RequestLimits.from_settings(self.settings)),
                *([AuthInterceptor(self.auth)] if self.auth else []),
            ],
        )
        admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(self.services), server)
        dataproxy_pb2_grpc.add_DataProxyServiceServicer_to_server(DataProxyService(self.services), server)
        signal_pb2_grpc.add_SignalServiceServicer_to_server(SignalService(self.services), server)
        add_roost_service(RoostService(self.services), server)
        if self.auth is not None:
            from roost_admin.server.auth_services import add_auth_services

            add_auth_services(self.auth, server)
        address = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        tls = self.settings.tls
        if tls.cert_file is not None and tls.key_file is not None:
            credentials = grpc.ssl_server_credentials(
                [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())]
            )
            self.grpc_port = server.add_secure_port(address, credentials)
        else:
            self.grpc_port = server.add_insecure_port(address)
        if not self.grpc_port:
            raise OSError(f"cannot listen for gRPC on {self.settings.grpc_endpoint}")
        server.start()
        self.grpc_server = server
        log.info("gRPC listening on %s:%d", self.settings.grpc_host, self.grpc_port)

    def _bind_http(self) -> socket.socket:
        # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections
        # whose socket says it is TCP, and with it on, a reply written as headers then body on a kept-alive
        # connection waits for the client's delayed ACK (about 40 ms a request).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.settings.http_host, self.settings.http_port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"cannot listen for HTTP on {self.settings.http_host}:{self.settings.http_port}: "
                f"{exc.strerror}"
            ) from None
        # Listening now queues early connections until uvicorn (slower to start with TLS) accepts them.
        sock.listen(128)
        self.http_port = sock.getsockname()[1]
        return sock

    def _start_http(self, sock: socket.socket) -> None:
        import uvicorn

        from roost_admin.http import build_http_app

        asgi: ASGIApp = build_http_app(self.services, self.auth)
        if self.auth is not None:
            from roost_admin.auth.http_policy import guarded

            asgi = guarded(asgi, self.auth)
        tls = self.settings.tls
        config = uvicorn.Config(
            asgi,
            log_level="warning",
            lifespan="off",
            # Open event streams (the API's, the console's) would hold a stop for as long as they last.
            timeout_graceful_shutdown=1,
            ssl_certfile=tls.cert_file,
            ssl_keyfile=tls.key_file,
        )
        self._http = uvicorn.Server(config)
        self._http_thread = threading.Thread(
            target=self._http.run, kwargs={"sockets": [sock]}, name="roost-http", daemon=True
        )
        self._http_thread.start()
        log.info("HTTP listening on %s:%d", self.settings.http_host, self.http_port)

    @property
    def http_url(self) -> str:
        """The HTTP endpoint as clients reach it (with the port actually bound)."""
        if self.settings.public_http_url:
            return self.settings.public_http_url.rstrip("/")
        scheme = "https" if self.settings.tls.enabled else "http"
        return f"{scheme}://{self.settings.http_host}:{self.http_port}"

    @property
    def public_grpc_endpoint(self) -> str:
        """The gRPC endpoint as task processes reach it (``host:port``, with the port actually bound)."""
        if self.settings.public_grpc_endpoint:
            return self.settings.public_grpc_endpoint
        host = self.settings.grpc_host
        if host in _ANY_ADDRESS:
            host = "127.0.0.1"
        return f"{host}:{self.grpc_port}"

    def stop(self, grace: float = 5.0) -> None:
        """Stop the scheduler and workers (releasing their claims), then the servers; safe to call twice."""
        if self.scheduler is not None:
            self.scheduler.stop(grace)
            self.scheduler = None
        if self.notifier is not None:
            self.notifier.stop(grace)
            self.notifier = None
        if self.publisher is not None:
            self.publisher.stop(grace)
            self.publisher = None
        if self.workers is not None:
            self.workers.stop(grace)
            self.workers = None
        if self.grpc_server is not None:
            self.grpc_server.stop(grace).wait()
            self.grpc_server = None
        if self._http is not None:
            self._http.should_exit = True
            if self._http_thread is not None:
                self._http_thread.join(grace)
            self._http = None
        self.db.dispose()
