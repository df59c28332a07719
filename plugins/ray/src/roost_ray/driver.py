"""Ray inside a running Ray task: this process as the driver of a Ray job.

Where the job runs, first that applies: ``RayJobConfig.address``; ``RAY_ADDRESS`` (set by the engine's Ray
handlers, and by Ray's job submission in a KubeRay cluster); else a local runtime of this process
(:class:`~roost_ray.runtime.RuntimePool`), bounded by the task's resources, started on first use and kept
until the process exits, so the Ray tasks of one ``roost run`` share it.

Ray has one driver connection per process. Tasks running at once in one process (a local run's threads)
share it when they want the same cluster and runtime environment; a task wanting another waits until the
connection is free, then reconnects.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost_ray.config import RayJobConfig
from roost_ray.runtime import RuntimePool, RuntimeShape, shape_for

if TYPE_CHECKING:
    from roost.extend import TaskOptions

__all__ = [
    "DEFAULT_OBJECT_STORE",
    "OBJECT_STORE_FRACTION",
    "check_runtime_env",
    "close_local_runtimes",
    "connect",
    "local_shape",
]

DEFAULT_OBJECT_STORE = 256 * 1024**2
"""The object store of a local runtime for a task that names no memory."""
OBJECT_STORE_FRACTION = 0.3
"""The share of a task's memory given to a local runtime's object store."""


class _Pools:
    """This process's local runtime pool, made on first use."""

    def __init__(self) -> None:
        self.pool: RuntimePool | None = None
        self.lock = threading.Lock()


_pools = _Pools()


class _Connection:
    """This process's driver connection: which cluster and runtime environment, and how many tasks use it."""

    def __init__(self) -> None:
        self.key: tuple[str, str] | None = None
        self.users = 0
        self.changed = threading.Condition()


_connection = _Connection()


def _local_pool() -> RuntimePool:
    with _pools.lock:
        if _pools.pool is None:
            _pools.pool = RuntimePool(reuse=True, idle_timeout=float("inf"))
            # After Ray's own exit handler was registered (at import), so it runs first: the driver leaves,
            # then its cluster stops.
            atexit.register(close_local_runtimes)
        return _pools.pool


def close_local_runtimes() -> None:
    """Disconnect this process's driver and stop its local runtimes (they also stop when the process exits)."""
    with _pools.lock:
        pool, _pools.pool = _pools.pool, None
    if pool is None:
        return
    with _connection.changed:
        if "ray" in sys.modules and not _connection.users:
            import ray  # type: ignore[import-not-found,unused-ignore]

            ray.shutdown()
            _connection.key = None
    pool.close()


def local_shape(options: TaskOptions, head_params: Mapping[str, str] | None = None) -> RuntimeShape:
    """The local runtime a task gets in this process: CPUs and memory from its limits, else its requests."""
    resources: dict[str, str] = {}
    for given in (options.requests, options.limits):  # limits win
        if given is not None:
            if given.cpu is not None:
                resources["cpu"] = str(given.cpu)
            if given.mem is not None:
                resources["memory"] = str(given.mem)
    return shape_for(
        resources,
        default_cpus=os.cpu_count() or 1,
        default_object_store=DEFAULT_OBJECT_STORE,
        object_store_fraction=OBJECT_STORE_FRACTION,
        ray=str(Path(sys.executable).parent / "ray"),
        head_params=head_params,
    )


def connect(
    label: str, config: RayJobConfig, options: TaskOptions, fn: Callable[..., Any]
) -> Callable[[], None]:
    """Make this process a driver of the task's Ray job; returns what releases it."""
    import ray  # type: ignore[import-not-found,unused-ignore]

    address = config.address or os.environ.get("RAY_ADDRESS", "")
    lease: str | None = None
    if not address:
        head = config.head_node_config.ray_start_params if config.head_node_config else None
        shape = local_shape(options, head)
        lease = f"{label} in thread {threading.get_ident()}"
        runtime = _local_pool().acquire(shape, lease)
        runtime.ready.wait()
        if runtime.error is not None:
            _local_pool().release(lease)
            raise RuntimeError(
                f"{label}: could not start a local Ray runtime ({shape.describe()}): {runtime.error}"
            )
        address = runtime.address
    runtime_env = dict(config.runtime_env or {})
    key = (address, json.dumps(runtime_env, sort_keys=True))
    with _connection.changed:
        while _connection.users and _connection.key != key:
            _connection.changed.wait()
        if _connection.key != key or not ray.is_initialized():
            if ray.is_initialized():
                ray.shutdown()
            _connection.key = None
            ray.init(
                address=address,
                runtime_env=runtime_env or None,
                job_config=ray.job_config.JobConfig(code_search_path=_code_paths(fn)),
                logging_level=logging.WARNING,
                configure_logging=False,
            )
            _connection.key = key
        _connection.users += 1

    def release() -> None:
        with _connection.changed:
            _connection.users -= 1
            _connection.changed.notify_all()
        if lease is not None:
            _local_pool().release(lease)

    return release


def _code_paths(fn: Callable[..., Any]) -> list[str]:
    """Where Ray workers import the task's code from: the root of its module, and the working directory."""
    paths = [os.getcwd()]
    module = sys.modules.get(fn.__module__)
    file = getattr(module, "__file__", None)
    if file:
        root = Path(file).resolve().parent
        for _ in range(fn.__module__.count(".")):
            root = root.parent
        paths.insert(0, str(root))
    return list(dict.fromkeys(paths))


def check_runtime_env(label: str, runtime_env: Mapping[str, Any]) -> None:
    """Install the job's runtime environment now, so that its failure names the task and the field."""
    import ray  # type: ignore[import-not-found,unused-ignore]
    from ray.exceptions import RuntimeEnvSetupError  # type: ignore[import-not-found,unused-ignore]

    from roost_ray.task import RuntimeEnvError

    ready = ray.remote(num_cpus=0)(_ready)
    try:
        ray.get(ready.remote())
    except RuntimeEnvSetupError as exc:
        raise RuntimeEnvError(
            f"{label}: RayJobConfig.runtime_env {json.dumps(dict(runtime_env))} failed to install; fix the "
            f"packages or paths it names. Ray said: {_gist(str(exc))}"
        ) from None


def _ready() -> bool:
    """A remote call that needs nothing but the job's runtime environment."""
    return True


def _gist(text: str, tail: int = 3) -> str:
    """The first line of Ray's report and its last ones (the error itself), without the traceback between."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) <= tail + 1:
        return "\n".join(lines)
    return "\n".join([lines[0], "...", *lines[-tail:]])
