"""Workflows built step by step in code instead of from a function: flytekit's imperative ``Workflow``.

::

    from roost import Workflow

    wb = Workflow(name="pipeline")
    x = wb.add_workflow_input("x", int)
    doubled = wb.add_entity(double, x=x)
    wb.add_workflow_output("y", doubled.outputs["o0"])
    wb(x=3)  # runs locally, like any workflow

The result is a workflow like any other: it runs locally, is called from other workflows, registers and
gets launch plans.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roost import _typing
from roost.entity import Entity, binding_for
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.nodes import CompilationState, Node, Promise, compiling, current_compilation, node_of
from roost.workflows import FailurePolicy, Workflow

if TYPE_CHECKING:
    from flyteidl.core import literals_pb2


def kwtypes(**names_and_types: Any) -> OrderedDict[str, Any]:
    """Names and Python types, in order: ``kwtypes(path=File, count=int)`` (flytekit's helper)."""
    return OrderedDict(names_and_types)


class ImperativeWorkflow(Workflow):
    """A workflow whose inputs, nodes and outputs are added by calls; exported as ``roost.Workflow``."""

    def __init__(self, name: str, failure_policy: FailurePolicy | None = None) -> None:
        if not name:
            raise WorkflowDefinitionError("an imperative Workflow needs a name")
        Entity.__init__(self, name, Interface())
        self.failure_policy = failure_policy or FailurePolicy.FAIL_IMMEDIATELY
        self.on_failure: Entity | None = None
        self.fn = _stand_in(self.short_name, sys._getframe(1).f_globals.get("__name__", "__main__"))
        self._compiled = None
        self._state = CompilationState(self.short_name, None)
        self._inputs: dict[str, Promise] = {}
        self._unbound: set[str] = set()
        self._outputs: dict[str, literals_pb2.BindingData] = {}

    # building

    @property
    def inputs(self) -> dict[str, Promise]:
        """The workflow's inputs so far, by name, to pass to :meth:`add_entity`."""
        return dict(self._inputs)

    @property
    def nodes(self) -> list[Node]:
        """The nodes added so far, in order."""
        return list(self._state.nodes)

    def add_workflow_input(self, input_name: str, python_type: Any) -> Promise:
        """Declare an input; returns its promise."""
        if input_name in self._inputs:
            raise WorkflowDefinitionError(f"{self.label} already has an input {input_name!r}")
        _typing.literal_type(python_type)  # an unsupported type fails here, naming itself
        self.interface = Interface(
            {**self.interface.inputs, input_name: python_type},
            dict(self.interface.defaults),
            self.interface.outputs,
        )
        promise = Promise("", input_name, _typing.literal_type(python_type), python_type, label=input_name)
        self._inputs[input_name] = promise
        self._unbound.add(input_name)
        return promise

    def add_entity(self, entity: Entity, **kwargs: Any) -> Node:
        """Add a node calling ``entity`` (task, workflow, launch plan, ...) with ``kwargs`` bound to its inputs.

        Arguments are promises (the workflow's inputs, other nodes' outputs) or plain values.
        """
        if not isinstance(entity, Entity):
            raise WorkflowDefinitionError(
                f"{self.label}: add_entity takes a task, workflow or launch plan, not {entity!r}"
            )
        if current_compilation() is not None:
            raise WorkflowDefinitionError(
                f"{self.label}: add_entity cannot be called while a workflow compiles"
            )
        with compiling(self._state):
            result = entity(**kwargs)
        self._unbound -= _input_names(kwargs.values())
        return node_of(result)

    add_task = add_entity
    add_launch_plan = add_entity
    add_subwf = add_entity

    def add_workflow_output(
        self, output_name: str, p: Promise | list[Promise] | dict[str, Promise], python_type: Any = None
    ) -> None:
        """Declare an output bound to a node's output (or a list or dict of them, with ``python_type``)."""
        if output_name in self.interface.outputs:
            raise WorkflowDefinitionError(f"{self.label} already has an output {output_name!r}")
        if python_type is None:
            if not isinstance(p, Promise):
                raise WorkflowDefinitionError(
                    f"{self.label} output {output_name!r}: give python_type (e.g. list[int]) for a list or dict "
                    "of promises"
                )
            python_type = p.python_type
        self._outputs[output_name] = binding_for(p, python_type, where=f"{self.label} output {output_name!r}")
        self.interface = Interface(
            self.interface.inputs,
            dict(self.interface.defaults),
            {**self.interface.outputs, output_name: python_type},
        )

    def add_on_failure_handler(self, entity: Entity) -> None:
        """Run ``entity`` when the workflow fails (its inputs: the workflow's, and optionally ``err``)."""
        self.on_failure = entity

    def ready(self) -> bool:
        """Whether the workflow can run: it has a node and every input is used."""
        return bool(self._state.nodes) and not self._unbound

    # what a Workflow offers

    def input_promises(self) -> dict[str, Promise]:
        """The workflow's input promises."""
        return self.inputs

    def compile(self) -> tuple[list[Node], dict[str, literals_pb2.BindingData], Node | None]:
        """The nodes, output bindings and failure node added so far."""
        if not self._state.nodes:
            raise WorkflowDefinitionError(f"{self.label} has no nodes; add some with add_entity")
        unused = sorted(self._unbound)
        if unused:
            raise WorkflowDefinitionError(
                f"{self.label}: input(s) {', '.join(map(repr, unused))} are never used"
            )
        return list(self._state.nodes), dict(self._outputs), self._failure_node(self._state)


def _stand_in(name: str, module: str) -> Callable[..., Any]:
    """A function standing for the builder where a workflow's function is asked for (its module, its name)."""

    def built_step_by_step(**_: Any) -> None:
        raise WorkflowDefinitionError(
            f"workflow {name!r} is built with add_entity; it has no function to call"
        )

    built_step_by_step.__module__ = module
    built_step_by_step.__name__ = built_step_by_step.__qualname__ = name
    return built_step_by_step


def _input_names(values: Any) -> set[str]:
    """The workflow inputs among argument values (promises, possibly inside lists and dicts)."""
    names: set[str] = set()
    for value in values:
        if isinstance(value, Promise) and not value.node_id:
            names.add(value.var)
        elif isinstance(value, (list, tuple)):
            names |= _input_names(value)
        elif isinstance(value, dict):
            names |= _input_names(value.values())
    return names
