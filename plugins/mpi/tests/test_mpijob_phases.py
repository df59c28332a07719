"""MPIJob statuses as the Training Operator writes them, in order, mapped to phases (the latest true condition
wins; a terminal one wins over all)."""

from __future__ import annotations

from typing import Any

import pytest

from roost_mpi.kubernetes import mpijob_phase


def condition(kind: str, reason: str, at: str, status: str = "True", message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
    }


CREATED = condition("Created", "MPIJobCreated", "2026-12-04T10:00:00Z", message="MPIJob ns/j is created.")
RUNNING = condition("Running", "MPIJobRunning", "2026-12-04T10:00:05Z", message="MPIJob ns/j is running.")
SEQUENCES: dict[str, list[tuple[dict[str, Any], tuple[str, str]]]] = {
    "success": [
        ({}, ("queued", "")),
        ({"conditions": [CREATED]}, ("queued", "MPIJobCreated")),
        (
            {"conditions": [CREATED, RUNNING], "replicaStatuses": {"Launcher": {"active": 1}}},
            ("running", "MPIJobRunning"),
        ),
        (
            {
                "conditions": [
                    CREATED,
                    {**RUNNING, "status": "False", "lastTransitionTime": "2026-12-04T10:01:00Z"},
                    condition("Succeeded", "MPIJobSucceeded", "2026-12-04T10:01:00Z"),
                ],
                "replicaStatuses": {"Launcher": {"succeeded": 1}},
            },
            ("succeeded", "MPIJobSucceeded"),
        ),
    ],
    "restart then failure": [
        ({"conditions": [CREATED, RUNNING]}, ("running", "MPIJobRunning")),
        (
            {
                "conditions": [
                    CREATED,
                    {**RUNNING, "status": "False"},
                    condition("Restarting", "MPIJobRestarting", "2026-12-04T10:00:30Z"),
                ]
            },
            ("running", "MPIJobRestarting"),
        ),
        (
            {
                "conditions": [
                    CREATED,
                    condition("Restarting", "MPIJobRestarting", "2026-12-04T10:00:30Z"),
                    condition(
                        "Failed",
                        "MPIJobFailed",
                        "2026-12-04T10:00:40Z",
                        message="MPIJob ns/j has failed because 1 Launcher replica(s) failed.",
                    ),
                ]
            },
            ("failed", "MPIJobFailed"),
        ),
    ],
    "suspended": [
        (
            {"conditions": [CREATED, condition("Suspended", "MPIJobSuspended", "2026-12-04T10:00:02Z")]},
            ("suspended", "MPIJobSuspended"),
        ),
        (
            {
                "conditions": [
                    CREATED,
                    condition("Suspended", "MPIJobResumed", "2026-12-04T10:00:09Z", status="False"),
                ]
            },
            ("queued", "MPIJobCreated"),
        ),
    ],
    "failed while a later condition is still true (same second)": [
        (
            {
                "conditions": [
                    condition("Failed", "BackoffLimitExceeded", "2026-12-04T10:00:00Z", message="backoff"),
                    condition("Running", "MPIJobRunning", "2026-12-04T10:00:00Z"),
                ]
            },
            ("failed", "BackoffLimitExceeded"),
        ),
    ],
}


@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_recorded_status_sequences(sequence: str) -> None:
    for status, (kind, reason) in SEQUENCES[sequence]:
        phase = mpijob_phase({"status": status} if status else {})
        assert (phase.kind, phase.reason) == (kind, reason), status


def test_the_failed_condition_carries_its_message() -> None:
    status = SEQUENCES["restart then failure"][-1][0]
    assert (
        mpijob_phase({"status": status}).message
        == "MPIJob ns/j has failed because 1 Launcher replica(s) failed."
    )
