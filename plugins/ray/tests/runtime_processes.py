"""Finding local Ray runtimes that other processes (`roost start`, `roost run`) started, by their folders' prefix.

On a pytest-xdist worker, the conftest gives the worker's processes a temporary folder of their own (``TMPDIR``),
so only runtimes under it count: another worker's runtimes are not this worker's tests' to end."""

from __future__ import annotations

import os
from pathlib import Path

from roost_ray.runtime import started_sessions

worker_tmp: str | None = None
"""The worker's ``TMPDIR`` on a pytest-xdist worker (set by the conftest), else None."""


def foreign_runtime_sessions() -> set[int]:
    """Sessions of live local Ray runtimes (their folders' prefix) that this process did not start."""
    marker = f"{worker_tmp}/roost-ray-".encode() if worker_tmp else b"roost-ray-"
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
                session = os.getsid(int(entry.name))
            except (OSError, ProcessLookupError):
                continue
            if marker in command and session not in started_sessions():
                found.add(session)
    return found
