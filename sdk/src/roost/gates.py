"""Gates: pause a workflow for a while, for an approval, or for a value someone provides.

Inside a workflow each call adds a gate node. Outside one (and in local runs) ``sleep`` sleeps, and
``approve`` / ``wait_for_input`` ask on the terminal or take answers given to ``roost run``.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any

from flyteidl.core import workflow_pb2

from roost import _typing
from roost.entity import Entity
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.nodes import Promise, current_compilation

if TYPE_CHECKING:
    from roost.nodes import Node
    from roost.serialize import Serializer

DEFAULT_TIMEOUT = datetime.timedelta(hours=1)


class Gate(Entity):
    """A gate node: sleep, approve (passes its input through) or signal (outputs the value given)."""

    kind = "gate"

    def __init__(
        self,
        name: str,
        interface: Interface,
        *,
        sleep: datetime.timedelta | None = None,
        signal_type: Any = None,
        timeout: datetime.timedelta = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(name, interface)
        self.sleep_for = sleep
        self.signal_type = signal_type
        self.timeout = timeout

    @property
    def gate_kind(self) -> str:
        """``sleep``, ``signal`` or ``approve``."""
        if self.sleep_for is not None:
            return "sleep"
        return "signal" if self.signal_type is not None else "approve"

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Outside a workflow: sleep, or ask on the terminal."""
        if self.gate_kind == "sleep":
            assert self.sleep_for is not None
            time.sleep(self.sleep_for.total_seconds())
            return None
        from roost.local.signals import ask

        if self.gate_kind == "signal":
            return ask(self.name, self.signal_type)
        value = next(iter(kwargs.values()))
        if not ask(self.name, bool, prompt=f"approve {value!r}?"):
            raise WorkflowDefinitionError(f"approval {self.name!r} was rejected")
        return value

    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """A gate node (with the gate's timeout as the node's)."""
        if self.gate_kind == "sleep":
            assert self.sleep_for is not None
            proto.gate_node.sleep.duration.FromTimedelta(self.sleep_for)
            return
        proto.metadata.timeout.FromTimedelta(self.timeout)
        if self.gate_kind == "signal":
            proto.gate_node.signal.CopyFrom(
                workflow_pb2.SignalCondition(
                    signal_id=self.name,
                    type=_typing.literal_type(self.signal_type),
                    output_variable_name="o0",
                )
            )
        else:
            proto.gate_node.approve.signal_id = self.name


def sleep(duration: datetime.timedelta) -> Any:
    """Pause the workflow for ``duration``; order it with ``>>``."""
    return Gate("sleep", Interface(), sleep=duration)()


def wait_for_input(name: str, timeout: datetime.timedelta = DEFAULT_TIMEOUT, expected_type: Any = str) -> Any:
    """Pause until someone sets signal ``name`` to a value of ``expected_type``; returns that value."""
    return Gate(name, Interface(outputs={"o0": expected_type}), signal_type=expected_type, timeout=timeout)()


def approve(upstream: Promise, name: str, timeout: datetime.timedelta = DEFAULT_TIMEOUT) -> Any:
    """Pause until someone approves ``upstream`` (one output of a node) under ``name``; returns it unchanged."""
    state = current_compilation()
    if state is None:
        return Gate(name, Interface({"o0": type(upstream)}, outputs={"o0": type(upstream)}))(o0=upstream)
    if not isinstance(upstream, Promise) or not upstream.node_id:
        raise WorkflowDefinitionError(
            f"workflow {state.workflow!r}: approve({name!r}) needs one output of a node, not {upstream!r}"
        )
    var = upstream.var
    interface = Interface({var: upstream.python_type}, outputs={var: upstream.python_type})
    return Gate(name, interface, timeout=timeout)(**{var: upstream})
