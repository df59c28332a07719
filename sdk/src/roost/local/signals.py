"""Answers to gates in local runs: ``--approve NAME`` / ``--signal NAME=VALUE``, else a prompt on a terminal."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from roost import _typing
from roost.errors import WorkflowDefinitionError
from roost_core.engine import SignalUnavailableError


class LocalSignals:
    """A signal source for local runs.

    Approvals named in ``approvals`` are granted at once and values in ``values`` are delivered; anything
    else is asked for on the terminal (one question at a time), or fails the gate when there is no terminal.
    """

    def __init__(
        self,
        approvals: set[str] | None = None,
        values: Mapping[str, str] | None = None,
        *,
        interactive: bool | None = None,
    ) -> None:
        self._approvals = set(approvals or ())
        self._given = dict(values or {})
        self._interactive = sys.stdin.isatty() if interactive is None else interactive
        self._values: dict[tuple[str, str], literals_pb2.Literal] = {}
        self._asking = threading.Lock()
        self._asked: set[tuple[str, str]] = set()

    def ensure(
        self, execution: str, signal_id: str, literal_type: types_pb2.LiteralType, on_set: Callable[[], None]
    ) -> None:
        """Answer from the given approvals and values, or start asking."""
        key = (execution, signal_id)
        if key in self._values or key in self._asked:
            return
        is_approval = literal_type.simple == types_pb2.BOOLEAN and signal_id not in self._given
        if is_approval and signal_id in self._approvals:
            self._values[key] = _parse("true", literal_type, signal_id)
            return
        if signal_id in self._given:
            self._values[key] = _parse(self._given[signal_id], literal_type, signal_id)
            return
        if not self._interactive:
            option = f"--approve {signal_id}" if is_approval else f"--signal {signal_id}=VALUE"
            raise SignalUnavailableError(
                f"{'approval' if is_approval else 'signal'} {signal_id!r} needs an answer: run on a terminal, "
                f"or pass {option}"
            )
        self._asked.add(key)

        def ask_now() -> None:
            with self._asking:
                answer = input(
                    f"{'approve' if is_approval else 'value for'} {signal_id!r}"
                    f"{' [y/N]' if is_approval else ''}: "
                )
            text = ("true" if answer.strip().lower() in ("y", "yes") else "false") if is_approval else answer
            self._values[key] = _parse(text, literal_type, signal_id)
            on_set()

        threading.Thread(target=ask_now, name=f"ask-{signal_id}", daemon=True).start()

    def get(self, execution: str, signal_id: str) -> literals_pb2.Literal | None:
        """The answer, once there is one."""
        return self._values.get((execution, signal_id))


def _parse(text: str, literal_type: types_pb2.LiteralType, signal_id: str) -> literals_pb2.Literal:
    from roost.cli.params import parse_value

    python_type = _typing.guess_python_type(literal_type)
    value = parse_value(text, python_type, what=f"signal {signal_id!r}")
    return _typing.to_literal(value, python_type, where=f"signal {signal_id!r}")


def ask(name: str, python_type: Any, *, prompt: str = "") -> Any:
    """Ask for a gate's answer on the terminal (gates called outside a workflow)."""
    from roost.cli.params import parse_value

    if not sys.stdin.isatty():
        raise WorkflowDefinitionError(f"gate {name!r} needs an answer, but there is no terminal to ask on")
    answer = input(f"{prompt or f'value for {name!r}'} ")
    if python_type is bool:
        return answer.strip().lower() in ("y", "yes", "true")
    return parse_value(answer, python_type, what=f"gate {name!r}")
