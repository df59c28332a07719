"""A SparkApplication's ``status.applicationState`` as the attempt's phase.

The spark-operator (v1beta2) moves an application through these states: ``""`` (new, not yet seen by the
operator) → ``SUBMITTED`` (spark-submit ran; the driver pod exists) → ``RUNNING`` (the driver runs) →
``SUCCEEDING`` or ``FAILING`` (the driver ended; executors are being cleaned up) → ``COMPLETED`` or
``FAILED``. spark-submit failing gives ``SUBMISSION_FAILED``; a changed spec gives ``INVALIDATING`` then
``PENDING_RERUN``; a driver pod the operator lost track of gives ``UNKNOWN``. ``errorMessage`` says why for
the failures. Only ``COMPLETED``, ``FAILED`` and ``SUBMISSION_FAILED`` are final (with ``restartPolicy:
Never``, which this handler sets).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AppPhase", "AppStatus", "read_status"]


class AppPhase(enum.Enum):
    """What an application state means for the attempt."""

    QUEUED = "queued"
    """Created, not yet submitted by the operator."""
    INITIALIZING = "initializing"
    """Submitted (or to be submitted again); the driver is not running yet."""
    RUNNING = "running"
    COMPLETED = "completed"
    """The driver exited 0: the task's outputs (or its error document) are in place."""
    FAILED = "failed"
    """The driver failed."""
    SUBMISSION_FAILED = "submission_failed"
    """The operator could not submit the application."""


_STATES = {
    "": AppPhase.QUEUED,
    "SUBMITTED": AppPhase.INITIALIZING,
    "PENDING_RERUN": AppPhase.INITIALIZING,
    "INVALIDATING": AppPhase.INITIALIZING,
    "RUNNING": AppPhase.RUNNING,
    "SUCCEEDING": AppPhase.RUNNING,
    "FAILING": AppPhase.RUNNING,
    "UNKNOWN": AppPhase.RUNNING,
    "COMPLETED": AppPhase.COMPLETED,
    "FAILED": AppPhase.FAILED,
    "SUBMISSION_FAILED": AppPhase.SUBMISSION_FAILED,
}


@dataclass(frozen=True)
class AppStatus:
    """The parts of a SparkApplication's status the handler reads."""

    phase: AppPhase
    state: str
    """The operator's state, as it wrote it."""
    error_message: str
    driver_pod: str
    ui_address: str
    """The Spark UI: the ingress address when the operator made one, else the in-cluster service address."""

    def describe(self) -> str:
        """``state SUBMITTED (driver pod x-driver)``, for reasons and messages."""
        text = f"state {self.state or 'NEW'}"
        return f"{text} (driver pod {self.driver_pod})" if self.driver_pod else text


def read_status(obj: Mapping[str, Any]) -> AppStatus:
    """The application's status; a state this handler does not know counts as running (the operator
    has states of its own between the known ones)."""
    status = obj.get("status") or {}
    app_state = status.get("applicationState") or {}
    state = str(app_state.get("state", ""))
    driver = status.get("driverInfo") or {}
    return AppStatus(
        _STATES.get(state, AppPhase.RUNNING),
        state,
        str(app_state.get("errorMessage", "")),
        str(driver.get("podName", "")),
        str(driver.get("webUIIngressAddress") or driver.get("webUIAddress") or ""),
    )
