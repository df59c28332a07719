"""Node interfaces as the compiler sees them, and the checks of declared variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flyteidl.core import interface_pb2, types_pb2

_NONE = types_pb2.SimpleType.NONE


@dataclass(frozen=True, slots=True)
class NodeInterface:
    """What a node takes and gives, and where that comes from (for messages)."""

    source: str
    """What declares the interface, as messages name it: ``task 'pkg.t@v1'``."""
    inputs: Mapping[str, types_pb2.LiteralType] | None
    """Inputs a node may bind, by name; None when any name goes (branch and approve-gate nodes
    take whatever their bindings give)."""
    outputs: Mapping[str, types_pb2.LiteralType]
    required: frozenset[str] = frozenset()
    """Inputs that must be bound."""
    fixed: frozenset[str] = frozenset()
    """Launch plan inputs with fixed values, which a node cannot bind."""


def is_optional(literal_type: types_pb2.LiteralType) -> bool:
    """A union with a ``NONE`` variant: such an input may be left unbound (Flyte's rule)."""
    if literal_type.WhichOneof("type") != "union_type":
        return False
    return any(
        v.WhichOneof("type") == "simple" and v.simple == _NONE for v in literal_type.union_type.variants
    )


def type_is_valid(literal_type: types_pb2.LiteralType) -> bool:
    """Whether every level of a type (through containers and unions) has its kind set."""
    kind = literal_type.WhichOneof("type")
    if kind is None:
        return False
    if kind == "collection_type":
        return type_is_valid(literal_type.collection_type)
    if kind == "map_value_type":
        return type_is_valid(literal_type.map_value_type)
    if kind == "union_type":
        return all(type_is_valid(v) for v in literal_type.union_type.variants)
    return True


def variable_problems(variables: Mapping[str, interface_pb2.Variable]) -> list[tuple[str, str]]:
    """(variable name, problem) for variables without a type or with an invalid one; problem is
    ``"missing"`` or ``"invalid"``."""
    problems: list[tuple[str, str]] = []
    for name, variable in variables.items():
        if not variable.HasField("type"):
            problems.append((name, "missing"))
        elif not type_is_valid(variable.type):
            problems.append((name, "invalid"))
    return problems


def types_of(variables: Mapping[str, interface_pb2.Variable]) -> dict[str, types_pb2.LiteralType]:
    """Variable types by name."""
    return {name: variable.type for name, variable in variables.items()}


def required_inputs(inputs: Mapping[str, types_pb2.LiteralType]) -> frozenset[str]:
    """Inputs a node must bind: all but the optional ones."""
    return frozenset(name for name, literal_type in inputs.items() if not is_optional(literal_type))
