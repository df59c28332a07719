"""Stable names for task attempts, for remote systems to deduplicate submissions by."""

from __future__ import annotations

import hashlib
import re

from flyteidl.core import identifier_pb2

__all__ = ["attempt_job_id"]

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
_DIGEST_LENGTH = 12


def attempt_job_id(task_execution_id: identifier_pb2.TaskExecutionIdentifier, *, max_length: int = 63) -> str:
    """A name that is the same every time for one task attempt and differs between attempts.

    It is lowercase letters, digits and ``-``, at most ``max_length`` characters: a readable part
    (execution, node, retry attempt) and a hash of the attempt's full identity, so that two attempts
    whose readable parts look alike after trimming still get different names. Pass it to the remote
    system as the job's name or request id, so that a second ``create`` for the same attempt finds
    the first job instead of starting another one.
    """
    if max_length < _DIGEST_LENGTH + 8:
        raise ValueError(f"max_length must be at least {_DIGEST_LENGTH + 8}, got {max_length}")
    node = task_execution_id.node_execution_id
    execution = node.execution_id
    task = task_execution_id.task_id
    identity = "\x1f".join(
        [
            execution.org,
            execution.project,
            execution.domain,
            execution.name,
            node.node_id,
            task.project,
            task.domain,
            task.name,
            task.version,
            str(task_execution_id.retry_attempt),
        ]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_DIGEST_LENGTH]
    readable = _NOT_ALLOWED.sub(
        "-", f"{execution.name}-{node.node_id}-{task_execution_id.retry_attempt}".lower()
    ).strip("-")
    readable = readable[: max_length - _DIGEST_LENGTH - 1].rstrip("-")
    return f"{readable}-{digest}" if readable else digest
