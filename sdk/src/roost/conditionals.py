"""``conditional``: choose which node runs from values known only at run time.

::

    result = (conditional("size")
              .if_(x > 10).then(big(x=x))
              .elif_(x > 5).then(medium(x=x))
              .else_().then(small(x=x)))     # or .else_().fail("x is too small")

Each case's node is built between ``if_``/``elif_``/``else_`` and ``then``; every case must produce the same
outputs, which the conditional returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyteidl.core import types_pb2, workflow_pb2

from roost.entity import Entity
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.nodes import (
    CompilationState,
    Condition,
    Node,
    Outputs,
    Promise,
    condition_var,
    current_compilation,
)

if TYPE_CHECKING:
    from roost.serialize import Serializer


class Branch(Entity):
    """The branch node a conditional becomes."""

    kind = "conditional"

    def __init__(
        self,
        name: str,
        interface: Interface,
        cases: list[tuple[Condition, Node]],
        else_node: Node | None,
        error: str | None,
    ) -> None:
        super().__init__(name, interface)
        self.cases = cases
        self.else_node = else_node
        self.error = error

    @property
    def short_name(self) -> str:
        """The conditional's name."""
        return self.name

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Conditionals exist only inside workflows."""
        raise WorkflowDefinitionError(f"conditional {self.name!r} can only be used inside a workflow")

    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """A branch node with one case per ``if_``/``elif_``."""
        if_else = workflow_pb2.IfElseBlock()
        for index, (condition, then) in enumerate(self.cases):
            block = workflow_pb2.IfBlock(condition=condition.expression, then_node=serializer.node(then))
            if index == 0:
                if_else.case.CopyFrom(block)
            else:
                if_else.other.append(block)
        if self.else_node is not None:
            if_else.else_node.CopyFrom(serializer.node(self.else_node))
        else:
            if_else.error.CopyFrom(types_pb2.Error(failed_node_id=node.id, message=self.error or ""))
        proto.branch_node.if_else.CopyFrom(if_else)


class ConditionalBuilder:
    """The chain of cases of one conditional; see :func:`conditional`."""

    def __init__(self, name: str, state: CompilationState) -> None:
        self.name = name
        self.state = state
        self.cases: list[tuple[Condition, Node]] = []
        self.pending: Condition | None = None
        self.is_else = False
        self.captured: list[Node] = []
        self.outer_capture: list[Node] | None = None

    def _open(self, condition: Condition | None) -> ConditionalBuilder:
        if self.pending is not None or self.is_else:
            raise WorkflowDefinitionError(f"conditional {self.name!r}: call then(...) before the next case")
        if condition is not None and not isinstance(condition, Condition):
            raise WorkflowDefinitionError(
                f"conditional {self.name!r}: if_/elif_ take a comparison of promises (x > 5, a.is_true()), "
                f"not {condition!r}"
            )
        self.pending = condition
        self.is_else = condition is None
        self.outer_capture = self.state.capture
        self.captured = []
        self.state.capture = self.captured
        return self

    def if_(self, condition: Condition) -> ConditionalBuilder:
        """The first case."""
        if self.cases:
            raise WorkflowDefinitionError(f"conditional {self.name!r}: if_ must come first; use elif_")
        return self._open(condition)

    def elif_(self, condition: Condition) -> ConditionalBuilder:
        """Another case, tried when the ones before did not hold."""
        if not self.cases:
            raise WorkflowDefinitionError(f"conditional {self.name!r}: elif_ needs an if_ before it")
        return self._open(condition)

    def else_(self) -> ConditionalBuilder:
        """The case when nothing else held: follow with ``then(...)`` or ``fail(message)``."""
        if not self.cases:
            raise WorkflowDefinitionError(f"conditional {self.name!r}: else_ needs an if_ before it")
        return self._open(None)

    def _close(self) -> list[Node]:
        self.state.capture = self.outer_capture
        return self.captured

    def then(self, result: Any) -> Any:
        """What the case runs: one call of a task, workflow, or a nested conditional."""
        captured = self._close()
        if not isinstance(result, (Promise, Outputs, Node)) or not captured:
            raise WorkflowDefinitionError(
                f"conditional {self.name!r}: then(...) takes the call of a task or workflow, not {result!r}"
            )
        if len(captured) != 1:
            names = ", ".join(n.entity.short_name for n in captured)
            raise WorkflowDefinitionError(
                f"conditional {self.name!r}: each case runs exactly one node, but this one calls {names}; "
                "wrap them in a workflow"
            )
        node = captured[0]
        if self.is_else:
            return self._finish(else_node=node)
        assert self.pending is not None
        self.cases.append((self.pending, node))
        self.pending = None
        return self

    def fail(self, message: str) -> Any:
        """End the chain: when no case held, fail the workflow with ``message``."""
        self._close()
        if not self.is_else:
            raise WorkflowDefinitionError(f"conditional {self.name!r}: fail(...) only follows else_()")
        return self._finish(error=message)

    def _finish(self, else_node: Node | None = None, error: str | None = None) -> Any:
        case_nodes = [n for _, n in self.cases] + ([else_node] if else_node else [])
        outputs = _common_outputs(self.name, case_nodes)
        promises: list[Promise] = [p for condition, _ in self.cases for p in condition.promises]
        bindings = {condition_var(p): p.binding() for p in promises}
        branch = Branch(self.name, Interface(outputs=outputs), self.cases, else_node, error)
        node = Node(self.state.next_id(), branch, bindings)
        self.state.add(node)
        return branch.output_promises(node)


def _common_outputs(name: str, nodes: list[Node]) -> dict[str, Any]:
    first = nodes[0].entity.interface.outputs
    for other in nodes[1:]:
        outputs = other.entity.interface.outputs
        if list(outputs) != list(first) or any(outputs[k] != first[k] for k in first):
            raise WorkflowDefinitionError(
                f"conditional {name!r}: every case must return the same outputs; {nodes[0].entity.label} returns "
                f"{_describe(first)} but {other.entity.label} returns {_describe(outputs)}"
            )
    return dict(first)


def _describe(outputs: dict[str, Any]) -> str:
    if not outputs:
        return "nothing"
    return ", ".join(f"{k}: {getattr(t, '__name__', repr(t))}" for k, t in outputs.items())


def conditional(name: str) -> ConditionalBuilder:
    """Start a conditional named ``name`` inside a workflow."""
    state = current_compilation()
    if state is None:
        raise WorkflowDefinitionError(f"conditional {name!r} can only be used inside a workflow")
    return ConditionalBuilder(name, state)
