"""Finding local Ray runtimes that other processes (`roost start`, `roost run`) started, by their folders' prefix."""

from __future__ import annotations

import os
from pathlib import Path

from roost_ray.runtime import started_sessions


def foreign_runtime_sessions() -> set[int]:
    """Sessions of live local Ray runtimes (their folders' prefix) that this process did not start."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
                session = os.getsid(int(entry.name))
            except (OSError, ProcessLookupError):
                continue
            if b"roost-ray-" in command and session not in started_sessions():
                found.add(session)
    return found
