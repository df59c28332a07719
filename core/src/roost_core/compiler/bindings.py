"""Checks of the bindings of a node's inputs, or of a workflow's outputs, against their interface.

Promises are followed to the node and output they name, whose type must cast into the declared
type. Scalars, collections and maps of bindings are checked element by element. The nodes that
promises read from are collected: they are the workflow's data edges.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from flyteidl.core import literals_pb2, types_pb2

from roost_core.compiler.interfaces import NodeInterface, type_is_valid
from roost_core.compiler.issues import IssueCode
from roost_core.compiler.nodes import END_NODE, START_NODE
from roost_core.literal_types import can_cast, describe, literal_type_of


class Missing(enum.Enum):
    """What an outputs lookup returns for a node id that does not exist in the scope."""

    NODE = "node"


Outputs = Mapping[str, types_pb2.LiteralType]
"""A node's outputs: their types by name."""

OutputsLookup = Callable[[str], "Outputs | Missing | None"]
"""node id → its outputs; None when the node exists but its interface could not be worked out."""

Report = Callable[[IssueCode, str], None]
"""(code, message) → record an issue at the node being checked."""


@dataclass(slots=True)
class BindingResult:
    """What checking a list of bindings found."""

    upstream: set[str] = field(default_factory=set)
    """Nodes the bindings read from (``start-node`` for workflow inputs)."""
    types: dict[str, types_pb2.LiteralType] = field(default_factory=dict)
    """The type each bound variable receives, where it can be told."""


@dataclass(frozen=True, slots=True)
class _Site:
    """Where a binding is (``node 'n2' input 'x'[0]``), and where its edges and issues go."""

    text: str
    upstream: set[str]
    report: Report

    def element(self, suffix: str) -> _Site:
        return _Site(f"{self.text}{suffix}", self.upstream, self.report)


class BindingChecker:
    """Checks bindings of one workflow scope; ``outputs_of`` looks nodes up in that scope."""

    def __init__(self, outputs_of: OutputsLookup) -> None:
        self._outputs_of = outputs_of

    def check(
        self,
        bindings: Iterable[literals_pb2.Binding],
        interface: NodeInterface,
        *,
        subject: str,
        noun: str,
        report: Report,
    ) -> BindingResult:
        """Check the bindings of ``subject`` (``node 'n1'``, or ``""`` for the workflow's outputs).

        ``noun`` is what a bound variable is called in messages (``input`` or ``output``).
        """
        result = BindingResult()
        binder = subject or "the workflow"
        seen: set[str] = set()
        for binding in bindings:
            name = binding.var
            site = _Site(f"{subject} {noun} '{name}'".lstrip(), result.upstream, report)
            if name in interface.fixed:
                report(
                    IssueCode.VARIABLE_NAME_NOT_FOUND,
                    f"{binder} binds {noun} '{name}', which {interface.source} fixes",
                )
                continue
            expected: types_pb2.LiteralType | None = None
            if interface.inputs is not None:
                expected = interface.inputs.get(name)
                if expected is None:
                    report(
                        IssueCode.VARIABLE_NAME_NOT_FOUND,
                        f"{binder} binds {noun} '{name}', which {interface.source} does not declare",
                    )
                    continue
            if name in seen:
                report(IssueCode.PARAMETER_BOUND_MORE_THAN_ONCE, f"{site.text} is bound more than once")
                continue
            seen.add(name)
            resolved = self._check_data(binding.binding, expected, site)
            if resolved is not None:
                result.types[name] = resolved
        for name in sorted(interface.required - seen):
            report(IssueCode.PARAMETER_NOT_BOUND, f"{subject} {noun} '{name}' is not bound".lstrip())
        return result

    def infer_types(self, bindings: Iterable[literals_pb2.Binding]) -> dict[str, types_pb2.LiteralType]:
        """The types bindings give, reporting nothing (for a gate whose outputs are its inputs)."""
        types: dict[str, types_pb2.LiteralType] = {}
        site = _Site("", set(), _ignore)
        for binding in bindings:
            resolved = self._check_data(binding.binding, None, site)
            if resolved is not None:
                types.setdefault(binding.var, resolved)
        return types

    def _check_data(
        self, data: literals_pb2.BindingData, expected: types_pb2.LiteralType | None, site: _Site
    ) -> types_pb2.LiteralType | None:
        """Check one binding against ``expected`` (None: any); the type it gives, if known."""
        kind = data.WhichOneof("value")
        if kind == "promise":
            return self._check_promise(data.promise, expected, site)
        if kind == "scalar":
            return _check_literal(literals_pb2.Literal(scalar=data.scalar), expected, site)
        if kind == "offloaded_metadata":
            literal = literals_pb2.Literal(offloaded_metadata=data.offloaded_metadata)
            return _check_literal(literal, expected, site)
        if kind == "collection":
            return self._check_collection(data, expected, site)
        if kind == "map":
            return self._check_map(data, expected, site)
        site.report(IssueCode.VALUE_REQUIRED, f"{site.text} has an empty binding")
        return None

    def _check_promise(
        self, ref: types_pb2.OutputReference, expected: types_pb2.LiteralType | None, site: _Site
    ) -> types_pb2.LiteralType | None:
        if not ref.node_id:
            # flytekit leaves the node id of workflow inputs empty; compiled workflows name it.
            ref.node_id = START_NODE
        source_id = ref.node_id
        if source_id == END_NODE:
            site.report(
                IssueCode.NODE_REFERENCE_NOT_FOUND,
                f"{site.text} refers to node '{END_NODE}', which cannot be read",
            )
            return None
        outputs = self._outputs_of(source_id)
        if outputs is Missing.NODE:
            site.report(
                IssueCode.NODE_REFERENCE_NOT_FOUND,
                f"{site.text} refers to node '{source_id}', which does not exist",
            )
            return None
        site.upstream.add(source_id)
        if outputs is None:
            return None
        source_type = outputs.get(ref.var)
        if source_type is None:
            if source_id == START_NODE:
                site.report(
                    IssueCode.VARIABLE_NAME_NOT_FOUND,
                    f"{site.text} refers to workflow input '{ref.var}', which does not exist",
                )
            else:
                site.report(
                    IssueCode.VARIABLE_NAME_NOT_FOUND,
                    f"{site.text} refers to '{source_id}.{ref.var}', "
                    f"but node '{source_id}' has no output '{ref.var}'",
                )
            return None
        source = f"workflow input '{ref.var}'" if source_id == START_NODE else f"'{source_id}.{ref.var}'"
        for attr in ref.attr_path:
            attr_type, found = _attribute_type(source_type, attr)
            if not found:
                site.report(
                    IssueCode.FIELD_NOT_FOUND,
                    f"{site.text} refers to field '{_attr_text(attr)}' of {source}, which has no such field",
                )
                return None
            if attr_type is None:
                # An attribute of an untyped struct: its type is only known at run time.
                return None
            source_type = attr_type
            source = f"{source[:-1]}{_attr_suffix(attr)}'"
        if expected is not None and not _castable(source_type, expected):
            site.report(
                IssueCode.MISMATCHING_TYPES,
                f"{site.text} expects {describe(expected)} but {source} is {describe(source_type)}",
            )
        return source_type

    def _check_collection(
        self, data: literals_pb2.BindingData, expected: types_pb2.LiteralType | None, site: _Site
    ) -> types_pb2.LiteralType | None:
        if expected is not None and expected.WhichOneof("type") != "collection_type":
            return self._check_mismatched_container(data, expected, "list", site)
        element = expected.collection_type if expected is not None else None
        for index, item in enumerate(data.collection.bindings):
            self._check_data(item, element, site.element(f"[{index}]"))
        return types_pb2.LiteralType(collection_type=element) if element is not None else None

    def _check_map(
        self, data: literals_pb2.BindingData, expected: types_pb2.LiteralType | None, site: _Site
    ) -> types_pb2.LiteralType | None:
        if expected is not None and expected.WhichOneof("type") != "map_value_type":
            return self._check_mismatched_container(data, expected, "map", site)
        value = expected.map_value_type if expected is not None else None
        for key in sorted(data.map.bindings):
            self._check_data(data.map.bindings[key], value, site.element(f"['{key}']"))
        return types_pb2.LiteralType(map_value_type=value) if value is not None else None

    def _check_mismatched_container(
        self,
        data: literals_pb2.BindingData,
        expected: types_pb2.LiteralType,
        noun: str,
        site: _Site,
    ) -> types_pb2.LiteralType | None:
        """A list or map of bindings where the type is not a list or map: it may fit one variant
        of a union (Flyte's rule: exactly one), and is wrong otherwise."""
        if expected.WhichOneof("type") != "union_type":
            if type_is_valid(expected):
                site.report(
                    IssueCode.MISMATCHING_BINDINGS,
                    f"{site.text} expects {describe(expected)} but is bound to a {noun}",
                )
            return None
        matching: list[types_pb2.LiteralType] = []
        for variant in expected.union_type.variants:
            trial = _Collector()
            self._check_data(data, variant, _Site(site.text, set(), trial))
            if not trial.codes:
                matching.append(variant)
        if not matching:
            site.report(
                IssueCode.INCOMPATIBLE_BINDING_UNION_VALUE,
                f"{site.text} expects {describe(expected)} but its {noun} binding matches "
                "none of the variants",
            )
            return None
        if len(matching) > 1:
            site.report(
                IssueCode.AMBIGUOUS_BINDING_UNION_VALUE,
                f"{site.text} expects {describe(expected)} but its {noun} binding matches "
                f"more than one variant ({describe(matching[0])} and {describe(matching[1])})",
            )
            return None
        return self._check_data(data, matching[0], site)


def _check_literal(
    literal: literals_pb2.Literal, expected: types_pb2.LiteralType | None, site: _Site
) -> types_pb2.LiteralType | None:
    literal_type = literal_type_of(literal)
    if literal_type.WhichOneof("type") is None:
        site.report(IssueCode.UNRECOGNIZED_VALUE, f"{site.text} is bound to a literal of unknown type")
        return None
    if expected is None:
        return literal_type
    if not _castable(literal_type, expected):
        site.report(
            IssueCode.MISMATCHING_TYPES,
            f"{site.text} expects {describe(expected)} but is bound to a {describe(literal_type)} literal",
        )
    elif expected.WhichOneof("type") == "enum_type":
        primitive = literal.scalar.primitive
        if primitive.WhichOneof("value") == "string_value" and (
            primitive.string_value not in expected.enum_type.values
        ):
            site.report(
                IssueCode.ILLEGAL_ENUM_VALUE,
                f"{site.text} expects {describe(expected)} but is bound to '{primitive.string_value}'",
            )
    return literal_type


def _castable(source: types_pb2.LiteralType, expected: types_pb2.LiteralType) -> bool:
    """Castability; types missing a kind pass here, being reported where they are declared."""
    return can_cast(source, expected) or not (type_is_valid(source) and type_is_valid(expected))


def _ignore(_code: IssueCode, _message: str) -> None:
    """A report that drops what it is told."""


class _Collector:
    """A report that keeps the codes it is told, to try a binding against a union variant."""

    def __init__(self) -> None:
        self.codes: list[IssueCode] = []

    def __call__(self, code: IssueCode, _message: str) -> None:
        self.codes.append(code)


def _attribute_type(
    source: types_pb2.LiteralType, attr: types_pb2.PromiseAttribute
) -> tuple[types_pb2.LiteralType | None, bool]:
    """(type of ``source[attr]``, whether the attribute exists); the type is None when unknown."""
    kind = source.WhichOneof("type")
    if kind == "collection_type":
        return source.collection_type, True
    if kind == "map_value_type":
        return source.map_value_type, True
    fields = source.structure.dataclass_type
    if kind == "simple" and source.simple == types_pb2.SimpleType.STRUCT and fields:
        name = attr.string_value
        if name not in fields:
            return None, False
        return fields[name], True
    return None, True


def _attr_text(attr: types_pb2.PromiseAttribute) -> str:
    return attr.string_value if attr.WhichOneof("value") == "string_value" else str(attr.int_value)


def _attr_suffix(attr: types_pb2.PromiseAttribute) -> str:
    if attr.WhichOneof("value") == "string_value":
        return f".{attr.string_value}"
    return f"[{attr.int_value}]"
