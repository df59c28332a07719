"""The plugin state the remote job machinery persists for each task attempt, and its JSON form."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CorruptStateError", "JobPhase", "RemoteJobState"]


class CorruptStateError(ValueError):
    """The persisted state does not have the expected shape; the message names the field."""


class JobPhase(enum.StrEnum):
    """How far the machinery got with one attempt."""

    NOT_STARTED = "not_started"
    """No quota held, no remote job."""
    ALLOCATED = "allocated"
    """Quota held (or none needed); the remote job is not created yet."""
    CREATED = "created"
    """The remote job exists; ``meta`` finds it."""


@dataclass(frozen=True, slots=True)
class RemoteJobState:
    """What survives between rounds and engine restarts. Small and JSON-able."""

    phase: JobPhase = JobPhase.NOT_STARTED
    meta: Mapping[str, Any] | None = None
    """What ``create`` returned: the remote job's id and whatever else finds it again."""
    quota: Mapping[str, int] = field(default_factory=dict)
    """The quota units this attempt holds."""
    system_failures: int = 0
    """Consecutive failures of ``create`` or ``status``; reset by a success."""
    reported: tuple[int, int] = (0, 0)
    """The last unfinished task phase and version ``status`` gave: what the attempt reports again while a
    new status cache (after a restart) has not fetched the job yet, so that its phase never goes back."""

    def to_mapping(self) -> dict[str, Any]:
        """The form stored as ``Transition.state``."""
        data: dict[str, Any] = {
            "phase": self.phase.value,
            "meta": dict(self.meta) if self.meta is not None else None,
            "quota": dict(self.quota),
            "system_failures": self.system_failures,
        }
        if self.reported != (0, 0):
            data["reported"] = list(self.reported)
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RemoteJobState:
        """Parse ``ctx.state``; an empty mapping is a fresh attempt."""
        if not data:
            return cls()
        try:
            phase = JobPhase(str(data.get("phase")))
        except ValueError:
            raise CorruptStateError(f"unknown phase {data.get('phase')!r}") from None
        meta = data.get("meta")
        if meta is not None and not isinstance(meta, Mapping):
            raise CorruptStateError(f"meta must be a mapping, got {meta!r}")
        if phase is JobPhase.CREATED and meta is None:
            raise CorruptStateError("phase 'created' without the remote job's meta")
        quota = data.get("quota", {})
        if not isinstance(quota, Mapping) or not all(
            isinstance(k, str) and type(v) is int for k, v in quota.items()
        ):
            raise CorruptStateError(f"quota must map quota names to whole numbers, got {quota!r}")
        failures = data.get("system_failures", 0)
        if type(failures) is not int or failures < 0:
            raise CorruptStateError(f"system_failures must be a whole number, got {failures!r}")
        reported = data.get("reported", [0, 0])
        if (
            not isinstance(reported, list | tuple)
            or len(reported) != 2
            or not all(type(n) is int and n >= 0 for n in reported)
        ):
            raise CorruptStateError(f"reported must be a task phase and a version, got {reported!r}")
        return cls(phase, meta, dict(quota), failures, (reported[0], reported[1]))


def json_copy(meta: Any) -> dict[str, Any]:
    """``meta`` after a JSON round trip, or ``TypeError`` saying why it cannot make one.

    The machinery hands plugins this copy from the start, so a plugin sees the same shapes (lists,
    not tuples; string keys) before and after an engine restart.
    """
    if not isinstance(meta, Mapping):
        raise TypeError(f"expected a mapping, got {type(meta).__name__}")
    try:
        text = json.dumps(dict(meta), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"it is not JSON-able ({exc})") from None
    copy: dict[str, Any] = json.loads(text)
    return copy
