"""Execution credentials: how a task process (an eager workflow, FlyteRemote inside a task, the ``roost`` CLI)
calls the admin when auth is on, without the operator's or the launching user's token.

Each execution has a client id ``execution/{project}/{domain}/{name}`` and a secret derived from it with an
HMAC key of the server (``execution.key``), so nothing is stored and a restarted engine hands re-attached
processes the same credential. A task process gets both as ``FLYTE_CREDENTIALS_*`` variables (flytekit's
``ClientSecret`` mode) and ``ROOST_CLIENT_*`` variables; the token endpoint accepts them while the execution has
not ended, and its tokens hold the launcher role on the execution's project and domain only (read, run,
terminate, relaunch, approve: what a workflow that launches or watches other executions needs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flyteidl.core import identifier_pb2

from roost_admin.auth.directory import EXECUTION_CLIENT_PREFIX


class ExecutionCredentials:
    """Derives and checks execution credentials."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def client_id(execution: identifier_pb2.WorkflowExecutionIdentifier) -> str:
        """The client id of an execution."""
        return f"{EXECUTION_CLIENT_PREFIX}{execution.project}/{execution.domain}/{execution.name}"

    @staticmethod
    def execution_of(client_id: str) -> tuple[str, str, str] | None:
        """(project, domain, name) of an execution client id, or None if it is not one."""
        if not client_id.startswith(EXECUTION_CLIENT_PREFIX):
            return None
        parts = client_id[len(EXECUTION_CLIENT_PREFIX) :].split("/")
        if len(parts) != 3 or not all(parts):
            return None
        return parts[0], parts[1], parts[2]

    def secret(self, client_id: str) -> str:
        """The secret of an execution client id."""
        mac = hmac.new(self._key, client_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def check(self, client_id: str, secret: str) -> bool:
        """Whether ``secret`` is the execution client's (constant time)."""
        return hmac.compare_digest(self.secret(client_id).encode(), secret.encode())

    def environment(self, execution: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, str]:
        """The variables a task process of ``execution`` gets."""
        client_id = self.client_id(execution)
        secret = self.secret(client_id)
        return {
            "FLYTE_CREDENTIALS_AUTH_MODE": "ClientSecret",
            "FLYTE_CREDENTIALS_CLIENT_ID": client_id,
            "FLYTE_CREDENTIALS_CLIENT_SECRET": secret,
            "ROOST_CLIENT_ID": client_id,
            "ROOST_CLIENT_SECRET": secret,
        }
