"""``create_node``: call an entity inside a workflow and get its node, not its outputs (flytekit's helper).

::

    @workflow
    def wf() -> int:
        first = create_node(setup)
        second = create_node(train, epochs=3)
        first >> second          # order without a data dependency
        return second.o0         # outputs by name, also second.outputs["o0"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.errors import WorkflowDefinitionError
from roost.nodes import current_compilation, node_of

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.nodes import Node


def create_node(entity: Entity, *args: Any, **kwargs: Any) -> Node:
    """Add a node calling ``entity`` to the workflow being defined and return the node itself.

    The node gives its outputs by name (``node.o0``, ``node.outputs["o0"]``), orders with ``>>`` and takes
    ``with_overrides``.
    """
    from roost.entity import Entity

    if not isinstance(entity, Entity):
        raise WorkflowDefinitionError(f"create_node takes a task, workflow or launch plan, not {entity!r}")
    if current_compilation() is None:
        raise WorkflowDefinitionError(
            f"create_node({entity.label}) is only used inside a workflow; call {entity.short_name!r} directly "
            "to run it now"
        )
    return node_of(entity(*args, **kwargs))
