"""Gate nodes: sleep for a while, or wait for an approval or a signal from outside.

Approve and sleep gates pass their inputs through as outputs; a signal gate outputs the signal's value.
"""

from __future__ import annotations

from flyteidl.core import literals_pb2, types_pb2

from roost_core import literal_types
from roost_core.engine.nodes import common
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.signals import SignalUnavailableError
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError


def advance(run: Run, ref: NodeRef, state: NodeState) -> None:
    """Start waiting, or check whether the wait is over."""
    gate = ref.node.gate_node
    kind = gate.WhichOneof("condition")
    if state.phase is NodePhase.NOT_YET_STARTED:
        if common.start(run, ref, state) is None:
            return
        if kind == "sleep":
            state.wake_at = run.now + gate.sleep.duration.ToNanoseconds() / 1e9
        elif kind in ("approve", "signal"):
            signals = run.engine.signals
            if signals is None:
                run.fail(
                    ref,
                    state,
                    ExecutionError(
                        "NoSignalSource",
                        f"{ref.label} waits for a signal, but this engine has no signal source",
                        ErrorKind.SYSTEM,
                    ),
                )
                return
            signal_id, literal_type = _signal(ref)
            try:
                signals.ensure(run.key, signal_id, literal_type, run.wake)
            except SignalUnavailableError as exc:
                run.fail(
                    ref, state, ExecutionError("SignalUnavailable", f"{ref.label}: {exc}", ErrorKind.USER)
                )
                return
        else:
            run.fail(
                ref,
                state,
                ExecutionError("MalformedNode", f"{ref.label}: the gate has no condition", ErrorKind.USER),
            )
            return
        run.set_phase(ref, state, NodePhase.RUNNING)
    if kind == "sleep":
        assert state.wake_at is not None
        if run.now < state.wake_at:
            run.wake_at(state.wake_at)
            return
        _succeed(run, ref, state, run.literal_map(state.inputs_uri))
        return
    signals = run.engine.signals
    assert signals is not None
    signal_id, literal_type = _signal(ref)
    value = signals.get(run.key, signal_id)
    if value is None:
        run.wait_outside()
        return
    if kind == "approve":
        approved = value.scalar.primitive.boolean if value.scalar.primitive.HasField("boolean") else None
        if approved is None:
            run.fail(
                ref,
                state,
                ExecutionError(
                    "BadSignal", f"{ref.label}: approval {signal_id!r} must be true or false", ErrorKind.USER
                ),
            )
        elif approved:
            _succeed(run, ref, state, run.literal_map(state.inputs_uri))
        else:
            run.fail(
                ref,
                state,
                ExecutionError(
                    "ApprovalRejected", f"{ref.label}: approval {signal_id!r} was rejected", ErrorKind.USER
                ),
            )
        return
    if not literal_types.literal_matches(value, literal_type):
        got = literal_types.describe(literal_types.literal_type_of(value))
        run.fail(
            ref,
            state,
            ExecutionError(
                "BadSignal",
                f"{ref.label}: signal {signal_id!r} expects "
                f"{literal_types.describe(literal_type)} but got {got}",
                ErrorKind.USER,
            ),
        )
        return
    outputs = literals_pb2.LiteralMap()
    outputs.literals[ref.node.gate_node.signal.output_variable_name].CopyFrom(value)
    _succeed(run, ref, state, outputs)


def _signal(ref: NodeRef) -> tuple[str, types_pb2.LiteralType]:
    gate = ref.node.gate_node
    if gate.WhichOneof("condition") == "approve":
        return gate.approve.signal_id, types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
    return gate.signal.signal_id, gate.signal.type


def _succeed(run: Run, ref: NodeRef, state: NodeState, outputs: literals_pb2.LiteralMap) -> None:
    state.outputs_uri = run.engine.storage.join(run.data_dir(ref.uid), "outputs.pb")
    run.write_literal_map(state.outputs_uri, outputs)
    run.set_phase(ref, state, NodePhase.SUCCEEDED)


def stop(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Nothing runs while a gate waits."""
