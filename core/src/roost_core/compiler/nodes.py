"""Per-node compile state, and the fixed node ids the compiler adds."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from flyteidl.core import types_pb2, workflow_pb2

from roost_core.compiler.interfaces import NodeInterface

START_NODE = "start-node"
"""The node whose outputs are the workflow's inputs."""
END_NODE = "end-node"
"""The node whose inputs are the workflow's outputs."""


class Resolution(enum.Enum):
    """How far a node's interface has been worked out."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


_KIND_WORDS = {"branch_node": "branch node", "gate_node": "gate node", "array_node": "array node"}


@dataclass(eq=False, slots=True)
class NodeRecord:
    """One node of a workflow (or a branch case, or an array's sub-node) while it compiles.

    ``node`` is the compiler's own copy: ids of promises and branch cases are rewritten in it.
    """

    node: workflow_pb2.Node
    node_id: str
    interface: NodeInterface | None = None
    outputs: Mapping[str, types_pb2.LiteralType] | None = None
    """Outputs after output aliases; None when the interface could not be worked out."""
    resolution: Resolution = Resolution.PENDING
    cases: list[NodeRecord] = field(default_factory=list)
    """A branch node's then and else nodes."""
    sub_node: NodeRecord | None = None
    """An array node's sub-node."""
    upstream: set[str] = field(default_factory=set)
    """Nodes of the enclosing workflow this node depends on."""
    display: str = ""
    """How messages name the node when its kind and id are not enough (an array node's sub-node)."""

    @property
    def target(self) -> str | None:
        """The node's target field (``task_node``, ``workflow_node``, ...), or None."""
        kind: str | None = self.node.WhichOneof("target")
        return kind

    @property
    def label(self) -> str:
        """How messages name the node: ``node 'n1'``, ``branch node 'n1'``, ``gate node 'n3'``."""
        if self.display:
            return self.display
        word = _KIND_WORDS.get(self.target or "", "node")
        return f"{word} '{self.node_id}'"
