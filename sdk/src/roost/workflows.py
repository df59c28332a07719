"""Workflows: ``@workflow`` compiles a function into a DAG by calling it once with promises."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from flyteidl.core import identifier_pb2, literals_pb2, workflow_pb2

from roost import _typing
from roost.entity import Entity, binding_for
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.nodes import CompilationState, Node, Promise, compiling, current_compilation

if TYPE_CHECKING:
    from roost.serialize import SerializationSettings, Serializer

F = TypeVar("F", bound=Callable[..., Any])


class FailurePolicy(enum.Enum):
    """What a workflow does when a node fails."""

    FAIL_IMMEDIATELY = workflow_pb2.WorkflowMetadata.FAIL_IMMEDIATELY
    """Abort running nodes and fail at once (the default)."""
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = workflow_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    """Let nodes that do not depend on the failure finish, then fail."""


class Workflow(Entity):
    """A DAG of tasks, sub-workflows, branches, maps and gates, built from a function."""

    kind = "workflow"

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        failure_policy: FailurePolicy = FailurePolicy.FAIL_IMMEDIATELY,
        on_failure: Entity | None = None,
    ) -> None:
        from roost.tasks import _module_of

        super().__init__(
            f"{_module_of(fn)}.{fn.__name__}", Interface.of(fn, what=f"workflow {fn.__name__!r}")
        )
        self.fn = fn
        self.failure_policy = failure_policy
        self.on_failure = on_failure
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self._compiled: tuple[list[Node], dict[str, literals_pb2.BindingData], Node | None] | None = None

    @property
    def label(self) -> str:
        """``workflow 'train_wf'``."""
        return f"workflow {self.short_name!r}"

    def input_promises(self) -> dict[str, Promise]:
        """The promises that stand for the workflow's inputs while it compiles."""
        return {
            name: Promise("", name, _typing.literal_type(t), t, label=name)
            for name, t in self.interface.inputs.items()
        }

    def compile(self) -> tuple[list[Node], dict[str, literals_pb2.BindingData], Node | None]:
        """Call the function with promises (once) and return its nodes, output bindings and failure node."""
        if self._compiled is None:
            outer = current_compilation()
            if outer is not None and outer.function_code is self.fn.__code__:
                raise WorkflowDefinitionError(f"{self.label} calls itself")
            state = CompilationState(self.short_name, self.fn.__code__)
            with compiling(state):
                result = self.fn(**self.input_promises())
                failure = self._failure_node(state)
            try:
                values = self.interface.unpack_outputs(result, what=self.label)
            except TypeError as exc:
                raise WorkflowDefinitionError(str(exc)) from None
            outputs = {
                name: binding_for(values[name], t, where=f"{self.label} output {name!r}")
                for name, t in self.interface.outputs.items()
            }
            if not state.nodes:
                raise WorkflowDefinitionError(f"{self.label} calls no task, workflow or gate")
            self._compiled = (state.nodes, outputs, failure)
        return self._compiled

    def _failure_node(self, state: CompilationState) -> Node | None:
        """The ``on_failure`` entity as the failure node, bound to the workflow's inputs of the same name."""
        if self.on_failure is None:
            return None
        entity = self.on_failure
        promises = self.input_promises()
        values = {name: promises[name] for name in entity.interface.inputs if name in promises}
        try:
            bindings = entity.bind_inputs(state, values)
        except WorkflowDefinitionError as exc:
            raise WorkflowDefinitionError(
                f"{self.label}: on_failure handler {entity.label} takes the workflow's inputs of the same "
                f"name, and optional 'err: Optional[FlyteError]'; {exc}"
            ) from None
        return Node("fn0", entity, bindings, workflow=self.short_name)

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the workflow locally on the core engine and return its outputs."""
        from roost.local.runner import run_entity

        return run_entity(self, self.bind_arguments(args, kwargs))

    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """A sub-workflow node."""
        proto.workflow_node.sub_workflow_ref.CopyFrom(serializer.workflow(self).id)

    def identifier(self, settings: SerializationSettings) -> identifier_pb2.Identifier:
        """The workflow's identifier under ``settings``."""
        return identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=settings.project,
            domain=settings.domain,
            name=self.name,
            version=settings.version,
        )


@overload
def workflow(fn: F) -> F: ...


@overload
def workflow(
    fn: None = None, *, failure_policy: FailurePolicy = ..., on_failure: Entity | None = ...
) -> Callable[[F], F]: ...


def workflow(
    fn: Callable[..., Any] | None = None,
    *,
    failure_policy: FailurePolicy = FailurePolicy.FAIL_IMMEDIATELY,
    on_failure: Entity | None = None,
) -> Any:
    """Make a workflow of a function whose body calls tasks, workflows, maps, conditionals and gates.

    The body runs once, when the workflow is first used, with promises for its inputs; Python control flow
    on those promises is an error (use ``conditional`` and ``map_task``).
    """

    def decorate(function: Callable[..., Any]) -> Workflow:
        return Workflow(function, failure_policy=failure_policy, on_failure=on_failure)

    return decorate if fn is None else decorate(fn)
