"""Launch-plan nodes in the admin: each child is a real execution, created like CreateExecution creates one,
through the executions service (:meth:`roost_admin.services.executions.Executions.launch_child`, which says
what a child inherits from its parent).

The child's name comes from the engine (deterministic per parent, node and attempt), so launching twice (after
a restart) finds the child created the first time. Its status is read from its row; when it ends, the event
sink wakes the parent (through the node execution that launched it), in this process or another.
"""

from __future__ import annotations

from roost_admin.services.executions import Executions
from roost_core.engine import ChildRequest, ChildStatus


class AdminChildLauncher:
    """The engine's :class:`~roost_core.engine.ChildLauncher`, creating child executions in the database."""

    def __init__(self, executions: Executions) -> None:
        self._executions = executions

    def launch(self, request: ChildRequest) -> str:
        """Create the child execution (once per name) and queue it; returns ``project/domain/name``."""
        return self._executions.launch_child(request)

    def status(self, child: str) -> ChildStatus:
        """The child's phase, with its outputs or error once it ended."""
        return self._executions.child_status(child)

    def abort(self, child: str, cause: str) -> None:
        """Terminate the child, if it is still running."""
        self._executions.abort_child(child, cause)
