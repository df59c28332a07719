"""What tasks, workflows, launch plans and gates share: being called inside a workflow adds a node.

Outside a workflow, calling an entity runs it locally; inside one, its arguments (promises or Python
values) are checked against its interface and bound, and the promises of its outputs come back.
"""

from __future__ import annotations

import abc
import typing
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2, workflow_pb2

from roost import _typing
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.nodes import CompilationState, Node, Outputs, Promise, current_compilation

if TYPE_CHECKING:
    from roost.serialize import Serializer


class Entity(abc.ABC):
    """Something a workflow can call: a task, a workflow, a launch plan, a gate, a map task."""

    kind: str = "entity"
    """``task``, ``workflow``, ... for messages."""

    def __init__(self, name: str, interface: Interface) -> None:
        self.name = name
        self.interface = interface

    @property
    def short_name(self) -> str:
        """The last part of the name (``train`` for ``my.module.train``)."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def label(self) -> str:
        """``task 'train'`` for messages."""
        return f"{self.kind} {self.short_name!r}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        state = current_compilation()
        if state is None:
            from roost.eager_workflows import current_controller

            controller = current_controller()
            if controller is not None:  # inside an eager workflow: a child execution, awaited
                return controller.submit(self, self.bind_arguments(args, kwargs))
            return self.local_call(*args, **kwargs)
        return self.add_node(state, self.bind_arguments(args, kwargs))

    @abc.abstractmethod
    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the entity now, outside any workflow."""

    @abc.abstractmethod
    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """Fill the node's target (task, workflow, branch, gate or array node) in ``proto``."""

    def add_node(self, state: CompilationState, values: dict[str, Any]) -> Any:
        """Add this entity as a node of the workflow being compiled; returns its output promises."""
        node = Node(state.next_id(), self, self.bind_inputs(state, values))
        state.add(node)
        return self.output_promises(node)

    def bind_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Positional and keyword arguments → values by input name (defaults not filled in)."""
        names = list(self.interface.inputs)
        if len(args) > len(names):
            raise WorkflowDefinitionError(
                f"{self.label} takes {len(names)} input(s) but got {len(args)} positional"
            )
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in self.interface.inputs:
                known = ", ".join(names) or "none"
                raise WorkflowDefinitionError(f"{self.label} has no input {name!r} (inputs: {known})")
            if name in values:
                raise WorkflowDefinitionError(f"{self.label} got input {name!r} twice")
            values[name] = value
        return values

    def bind_inputs(
        self, state: CompilationState, values: dict[str, Any]
    ) -> dict[str, literals_pb2.BindingData]:
        """Check every argument against the interface and turn it into a binding."""
        where = f"workflow {state.workflow!r}: {self.label}"
        bindings: dict[str, literals_pb2.BindingData] = {}
        for name, python_type in self.interface.inputs.items():
            if name in values:
                value = values[name]
            elif name in self.interface.defaults:
                value = self.interface.defaults[name]
            elif _typing.is_optional(python_type):
                value = None
            else:
                raise WorkflowDefinitionError(f"{where} input {name!r} is missing")
            bindings[name] = binding_for(value, python_type, where=f"{where} input {name!r}")
        return bindings

    def output_promises(self, node: Node) -> Any:
        """The promises a call returns: one, a tuple of several, or the node itself when there are none."""
        promises = node.outputs
        if not promises:
            return node
        if len(promises) == 1 and self.interface.output_tuple is None:
            return next(iter(promises.values()))
        return Outputs(promises, node)


def binding_for(value: Any, python_type: Any, *, where: str) -> literals_pb2.BindingData:
    """The binding of one input: a promise (type-checked), Python values (converted), or a mix in lists/dicts."""
    expected = _typing.literal_type(python_type)
    if isinstance(value, Outputs):
        raise WorkflowDefinitionError(
            f"{where} got all {len(value)} outputs of a node; pass one of them (e.g. result.o0 or result[0])"
        )
    if isinstance(value, Node):
        raise WorkflowDefinitionError(f"{where} got node {value.id!r}, which has no outputs")
    if isinstance(value, Promise):
        return _promise_binding(value, expected, where)
    origin = typing.get_origin(python_type)
    if isinstance(value, (list, tuple)) and origin is list and _holds_promise(value):
        (element,) = typing.get_args(python_type)
        items = [binding_for(v, element, where=f"{where}[{i}]") for i, v in enumerate(value)]
        return literals_pb2.BindingData(collection=literals_pb2.BindingDataCollection(bindings=items))
    if isinstance(value, dict) and origin is dict and _holds_promise(value):
        _, element = typing.get_args(python_type)
        entries = {k: binding_for(v, element, where=f"{where}[{k!r}]") for k, v in value.items()}
        return literals_pb2.BindingData(map=literals_pb2.BindingDataMap(bindings=entries))
    literal = _typing.to_literal(value, python_type, where=where)
    return _literal_binding(literal)


def _holds_promise(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(
        isinstance(v, Promise) or (isinstance(v, (list, tuple, dict)) and _holds_promise(v)) for v in items
    )


def _promise_binding(
    promise: Promise, expected: types_pb2.LiteralType, where: str
) -> literals_pb2.BindingData:
    from roost_core import literal_types

    binding = promise.binding()
    if literal_types.can_cast(promise.literal_type, expected):
        if expected.HasField("union_type") and not promise.literal_type.HasField("union_type"):
            variant = next(
                v for v in expected.union_type.variants if literal_types.can_cast(promise.literal_type, v)
            )
            binding.union.targetType.CopyFrom(variant)
        return binding
    raise WorkflowDefinitionError(
        f"{where} expects {literal_types.describe(expected)} but {promise.label!r} is "
        f"{literal_types.describe(promise.literal_type)}"
    )


def _literal_binding(literal: literals_pb2.Literal) -> literals_pb2.BindingData:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        items = [_literal_binding(item) for item in literal.collection.literals]
        return literals_pb2.BindingData(collection=literals_pb2.BindingDataCollection(bindings=items))
    if kind == "map":
        entries = {k: _literal_binding(v) for k, v in literal.map.literals.items()}
        return literals_pb2.BindingData(map=literals_pb2.BindingDataMap(bindings=entries))
    if kind == "offloaded_metadata":
        return literals_pb2.BindingData(offloaded_metadata=literal.offloaded_metadata)
    return literals_pb2.BindingData(scalar=literal.scalar)
