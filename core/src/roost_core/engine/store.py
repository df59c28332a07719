"""State stores: where the engine saves an execution's state after every round.

The admin keeps states in its database; the stores here keep them in memory or in a folder. Both store the
serialized form, so what is loaded is exactly what a new process would see.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from roost_core.engine.state import ExecutionState
from roost_core.errors import RoostError


class StateStoreError(RoostError):
    """A state could not be saved or loaded; the message names the execution."""


class StateStore(Protocol):
    """Saves and loads execution states by ``project/domain/name``.

    A store may say, with a class attribute ``outlives_process = False``, that its states never outlive the
    process (:class:`ObjectStateStore`): the engine then keeps data only this process reads in memory rather
    than writing it (see :attr:`Engine.state_outlives_process <roost_core.engine.Engine.state_outlives_process>`).
    Stores without the attribute are taken to outlive it.
    """

    def save(self, state: ExecutionState) -> None:
        """Persist the state, replacing the previous one. All or nothing."""
        ...

    def load(self, key: str) -> ExecutionState | None:
        """The last saved state of the execution, or None if there is none."""
        ...


def _encode(state: ExecutionState) -> bytes:
    return json.dumps(state.to_dict(), separators=(",", ":")).encode("utf-8")


def _decode(key: str, data: bytes) -> ExecutionState:
    try:
        return ExecutionState.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateStoreError(f"saved state of execution {key!r} cannot be read: {exc}") from exc


class MemoryStateStore:
    """Keeps serialized states in a dict, for tests and in-process runs."""

    def __init__(self) -> None:
        self._states: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.saves = 0

    def save(self, state: ExecutionState) -> None:
        """Serialize and keep the state."""
        data = _encode(state)
        with self._lock:
            self._states[state.key] = data
            self.saves += 1

    def load(self, key: str) -> ExecutionState | None:
        """The last saved state, deserialized afresh."""
        data = self._states.get(key)
        return None if data is None else _decode(key, data)


class ObjectStateStore:
    """Keeps the state objects themselves, unserialized: for runs inside one process that never resume in
    another (local SDK runs), where encoding the state every round would be wasted work."""

    outlives_process = False
    """No engine of another process resumes from these states: see :class:`StateStore`."""

    def __init__(self) -> None:
        self._states: dict[str, ExecutionState] = {}

    def save(self, state: ExecutionState) -> None:
        """Remember the state object."""
        self._states[state.key] = state

    def load(self, key: str) -> ExecutionState | None:
        """The state object last saved under ``key``."""
        return self._states.get(key)


class FileStateStore:
    """One JSON file per execution under a folder, replaced atomically on every save."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / (key.replace("/", "__") + ".json")

    def save(self, state: ExecutionState) -> None:
        """Write to a temporary file, then rename over the old one."""
        path = self._path(state.key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(_encode(state))
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StateStoreError(f"cannot save state of execution {state.key!r} to {path}: {exc}") from exc

    def load(self, key: str) -> ExecutionState | None:
        """The state saved under ``key``, or None."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateStoreError(f"cannot read state of execution {key!r} from {path}: {exc}") from exc
        return _decode(key, data)
