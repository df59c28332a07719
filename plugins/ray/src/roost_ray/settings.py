"""The settings of the Ray handlers."""

from __future__ import annotations

from pathlib import Path

from roost_core.extend import LocalProcessSettings, WarmSettings
from roost_core.settings import Seconds

__all__ = ["RayLocalSettings"]


class RayLocalSettings(LocalProcessSettings):
    """``engine.handlers.ray-local``: local-process's settings (image environments, task environment, work and
    log folders, kill grace period) plus how local Ray runtimes are sized and shared."""

    warm: WarmSettings = WarmSettings(enabled=False)
    """Warm task processes (see ``local-process``): off by default here, as a task connects to its Ray runtime that has not been
    verified from a forked warm interpreter."""
    reuse_runtime: bool = True
    """Attempts whose runtimes have the same shape share one; false gives each attempt its own."""
    idle_timeout: Seconds = 60
    """Seconds a shared runtime lives after its last attempt ended (0: it stops at once)."""
    start_timeout: Seconds = 120
    """How long ``ray start --head`` may take before the attempt fails (a retryable system error)."""
    default_cpus: int | None = None
    """CPUs of a runtime for a task that names none (default: this machine's)."""
    max_cpus: int | None = None
    """The most CPUs a local runtime gets, whatever a task asks."""
    default_object_store_memory: int = 256 * 1024**2
    """Object-store bytes of a runtime for a task that names no memory."""
    object_store_fraction: float = 0.3
    """The share of a task's memory that its runtime's object store gets (at least Ray's 75 MiB)."""
    include_dashboard: bool = False
    """Start the Ray dashboard (on 127.0.0.1, a free port) and link it from the task's logs."""
    ray_temp_dir: Path | None = None
    """Where runtimes keep their session folders (default: the system's temporary folder); keep it short,
    as Ray's socket paths live under it."""
