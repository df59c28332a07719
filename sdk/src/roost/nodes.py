"""What a workflow function builds while it runs with promises: nodes, the promises of their outputs, and
the compilation state that records them.

Calling a task inside ``@workflow`` does not run it: it adds a :class:`Node` to the workflow being compiled
and returns :class:`Promise`\\ s of the task's outputs, which later calls take as inputs.
"""

from __future__ import annotations

import contextvars
import datetime
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyteidl.core import condition_pb2, literals_pb2, types_pb2

from roost import _typing
from roost.errors import WorkflowDefinitionError

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.options import Resources


@dataclass
class Overrides:
    """Per-node settings from ``with_overrides``; None means "as the entity says"."""

    name: str | None = None
    retries: int | None = None
    timeout: datetime.timedelta | None = None
    interruptible: bool | None = None
    cache: Any = None
    requests: Resources | None = None
    limits: Resources | None = None
    container_image: str | None = None
    pod_template: Any = None
    task_config: Any = None


_OVERRIDES = set(Overrides.__dataclass_fields__)


@dataclass
class Node:
    """One node of a workflow under construction."""

    id: str
    entity: Entity
    bindings: dict[str, literals_pb2.BindingData]
    upstream: list[str] = field(default_factory=list)
    overrides: Overrides = field(default_factory=Overrides)
    workflow: str = ""

    def with_overrides(self, **settings: Any) -> Node:
        """Change this node's settings: name, retries, timeout, interruptible, cache, requests, limits,
        container_image, pod_template, task_config."""
        unknown = sorted(set(settings) - _OVERRIDES)
        if unknown:
            raise WorkflowDefinitionError(
                f"workflow {self.workflow!r}: with_overrides on node {self.id!r} got unknown setting(s) "
                f"{', '.join(unknown)}; known: {', '.join(sorted(_OVERRIDES))}"
            )
        for name, value in settings.items():
            setattr(self.overrides, name, value)
        return self

    @property
    def outputs(self) -> dict[str, Promise]:
        """The promises of this node's outputs by name (``node.outputs["o0"]``, or ``node.o0``)."""
        return {
            var: Promise(
                self.id, var, _typing.literal_type(t), t, label=f"{self.entity.short_name}.{var}", node=self
            )
            for var, t in self.entity.interface.outputs.items()
        }

    def __getattr__(self, name: str) -> Promise:
        # Only reached for names that are not attributes: a node's outputs by name, as flytekit's nodes offer.
        if name.startswith("_") or name not in self.entity.interface.outputs:
            known = ", ".join(self.entity.interface.outputs) or "none"
            raise AttributeError(
                f"node {self.id!r} ({self.entity.label}) has no output {name!r} (outputs: {known})"
            )
        return self.outputs[name]

    def runs_before(self, other: Node) -> None:
        """Make ``other`` wait for this node even without a data dependency."""
        if self.id not in other.upstream:
            other.upstream.append(self.id)

    def __rshift__(self, other: Node | Promise | Outputs) -> Node | Promise | Outputs:
        self.runs_before(node_of(other))
        return other


def node_of(value: Node | Promise | Outputs) -> Node:
    """The node behind a promise, a group of outputs, or a node."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (Promise, Outputs)) and value.node is not None:
        return value.node
    raise WorkflowDefinitionError(f"{value!r} is not the output of a node, so it cannot be ordered with >>")


class Promise:
    """A value that a node (or the workflow's input) will produce when the workflow runs.

    Promises can be passed to other tasks, compared in ``conditional``\\ s, indexed (``p.field``,
    ``p[0]``, ``p["key"]``) and ordered (``a >> b``); anything else (arithmetic, ``if p:``, iteration) is an
    error, since the value does not exist yet when the workflow is defined.
    """

    def __init__(
        self,
        node_id: str,
        var: str,
        literal_type: types_pb2.LiteralType,
        python_type: Any,
        *,
        label: str,
        node: Node | None = None,
        attr_path: tuple[str | int, ...] = (),
    ) -> None:
        self.node_id = node_id
        self.var = var
        self.literal_type = literal_type
        self.python_type = python_type
        self.label = label
        self.node = node
        self.attr_path = attr_path

    def __repr__(self) -> str:
        return f"Promise({self.label})"

    # the data reference

    def binding(self) -> literals_pb2.BindingData:
        """The BindingData that refers to this value."""
        path = [
            types_pb2.PromiseAttribute(int_value=a)
            if isinstance(a, int)
            else types_pb2.PromiseAttribute(string_value=a)
            for a in self.attr_path
        ]
        return literals_pb2.BindingData(
            promise=types_pb2.OutputReference(node_id=self.node_id, var=self.var, attr_path=path)
        )

    # attribute access into dataclass, list and dict outputs

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._attribute(name)

    def __getitem__(self, key: str | int) -> Promise:
        return self._attribute(key)

    def _attribute(self, key: str | int) -> Promise:
        element = _element_type(self.python_type, key, self.label)
        suffix = (
            f"[{key!r}]"
            if not isinstance(key, str) or typing.get_origin(self.python_type) is dict
            else f".{key}"
        )
        return Promise(
            self.node_id,
            self.var,
            _typing.literal_type(element),
            element,
            label=f"{self.label}{suffix}",
            node=self.node,
            attr_path=(*self.attr_path, key),
        )

    # ordering and overrides

    def __rshift__(self, other: Node | Promise | Outputs) -> Node | Promise | Outputs:
        node_of(self).runs_before(node_of(other))
        return other

    def with_overrides(self, **settings: Any) -> Promise:
        """Override settings of the node that produces this value."""
        node_of(self).with_overrides(**settings)
        return self

    # conditions

    def _compare(self, op: int, other: Any) -> Condition:
        return Condition.comparison(op, self, other)

    def __eq__(self, other: object) -> Condition:  # type: ignore[override]
        return self._compare(condition_pb2.ComparisonExpression.EQ, other)

    def __ne__(self, other: object) -> Condition:  # type: ignore[override]
        return self._compare(condition_pb2.ComparisonExpression.NEQ, other)

    def __gt__(self, other: Any) -> Condition:
        return self._compare(condition_pb2.ComparisonExpression.GT, other)

    def __ge__(self, other: Any) -> Condition:
        return self._compare(condition_pb2.ComparisonExpression.GTE, other)

    def __lt__(self, other: Any) -> Condition:
        return self._compare(condition_pb2.ComparisonExpression.LT, other)

    def __le__(self, other: Any) -> Condition:
        return self._compare(condition_pb2.ComparisonExpression.LTE, other)

    def is_true(self) -> Condition:
        """The condition ``value == True``."""
        return self._compare(condition_pb2.ComparisonExpression.EQ, True)

    def is_false(self) -> Condition:
        """The condition ``value == False``."""
        return self._compare(condition_pb2.ComparisonExpression.EQ, False)

    def is_none(self) -> Condition:
        """The condition ``value is None``."""
        return self._compare(condition_pb2.ComparisonExpression.EQ, None)

    __hash__ = object.__hash__

    # everything else would need the value now

    def _misuse(self, action: str) -> typing.NoReturn:
        raise WorkflowDefinitionError(_misuse_message(self, action))

    def __bool__(self) -> bool:  # noqa: PLE0304 - always raises
        self._misuse("used as a condition (use roost.conditional)")

    def __iter__(self) -> Iterator[Any]:
        self._misuse("iterated over (map a task over it with roost.map_task)")

    def __len__(self) -> int:  # noqa: PLE0303 - always raises
        self._misuse("measured with len()")

    def _arithmetic(symbol: str) -> Any:  # type: ignore[misc]
        def operator(self: Promise, other: Any) -> Any:
            self._misuse(f"used in arithmetic ({symbol})")

        return operator

    __add__ = __radd__ = _arithmetic("+")
    __sub__ = __rsub__ = _arithmetic("-")
    __mul__ = __rmul__ = _arithmetic("*")
    __truediv__ = __rtruediv__ = _arithmetic("/")
    __floordiv__ = __rfloordiv__ = _arithmetic("//")
    __mod__ = __rmod__ = _arithmetic("%")
    __pow__ = __rpow__ = _arithmetic("**")
    del _arithmetic

    def __str__(self) -> str:  # noqa: PLE0307 - always raises
        self._misuse("turned into a string")

    def __format__(self, spec: str) -> str:
        self._misuse("formatted into a string")

    def __float__(self) -> float:
        self._misuse("converted with float()")

    def __int__(self) -> int:
        self._misuse("converted with int()")


def _misuse_message(promise: Promise, action: str) -> str:
    state = current_compilation()
    where = f"workflow {state.workflow!r}: " if state is not None else ""
    caller = sys._getframe(3).f_code  # the user code that touched the promise
    if state is not None and caller is not state.function_code:
        return (
            f"{where}{caller.co_name!r} is not a task or workflow, but it received {promise.label!r}, "
            f"the future output of a node, and {action}; decorate {caller.co_name!r} with @task"
        )
    return (
        f"{where}{promise.label!r} is the future output of a node and cannot be {action} while the "
        "workflow is defined; pass it to a task instead"
    )


def _element_type(python_type: Any, key: str | int, label: str) -> Any:
    """The type of ``value[key]`` / ``value.key`` for a dataclass, pydantic model, list or dict type."""
    origin = typing.get_origin(python_type)
    args = typing.get_args(python_type)
    if origin is list and isinstance(key, int):
        return args[0]
    if origin is dict and isinstance(key, str):
        return args[1]
    if isinstance(key, str) and isinstance(python_type, type):
        hints = typing.get_type_hints(python_type, include_extras=True)
        if key in hints:
            return hints[key]
    raise PromiseAttributeError(
        f"{label!r} of type {_type_name(python_type)} has no attribute or item {key!r}"
    )


class PromiseAttributeError(WorkflowDefinitionError, AttributeError):
    """A promise has no such attribute or item; an ``AttributeError`` too, so ``hasattr(promise, name)`` is
    False as for any Python object."""


def _type_name(python_type: Any) -> str:
    return getattr(python_type, "__name__", None) or repr(python_type)


class Outputs(tuple):  # type: ignore[type-arg]
    """The promises of a node with several outputs: a tuple that also offers them by name."""

    node: Node | None
    _names: tuple[str, ...]

    def __new__(cls, promises: dict[str, Promise], node: Node | None) -> Outputs:
        self = super().__new__(cls, promises.values())
        self.node = node
        self._names = tuple(promises)
        return self

    def __getattr__(self, name: str) -> Promise:
        try:
            index = object.__getattribute__(self, "_names").index(name)
        except ValueError:
            raise AttributeError(f"the node has no output {name!r}") from None
        value: Promise = self[index]
        return value

    def with_overrides(self, **settings: Any) -> Outputs:
        """Override settings of the node that produces these values."""
        node_of(self).with_overrides(**settings)
        return self

    def __rshift__(self, other: Node | Promise | Outputs) -> Node | Promise | Outputs:
        node_of(self).runs_before(node_of(other))
        return other


class Condition:
    """A boolean expression over promises, built by comparing them (``x > 5``) and combining with ``&``, ``|``."""

    def __init__(self, expression: condition_pb2.BooleanExpression, promises: list[Promise]) -> None:
        self.expression = expression
        self.promises = promises

    @classmethod
    def comparison(cls, op: int, left: Any, right: Any) -> Condition:
        """``left <op> right`` where each side is a promise or a Python primitive."""
        promises: list[Promise] = []
        expression = condition_pb2.ComparisonExpression(
            operator=op, left_value=_operand(left, promises), right_value=_operand(right, promises)
        )
        return cls(condition_pb2.BooleanExpression(comparison=expression), promises)

    def _join(self, op: int, other: Condition) -> Condition:
        if not isinstance(other, Condition):
            raise WorkflowDefinitionError(
                f"cannot combine a condition with {other!r}; compare promises first"
            )
        conjunction = condition_pb2.ConjunctionExpression(
            operator=op, left_expression=self.expression, right_expression=other.expression
        )
        return Condition(
            condition_pb2.BooleanExpression(conjunction=conjunction), self.promises + other.promises
        )

    def __and__(self, other: Condition) -> Condition:
        return self._join(condition_pb2.ConjunctionExpression.AND, other)

    def __or__(self, other: Condition) -> Condition:
        return self._join(condition_pb2.ConjunctionExpression.OR, other)

    def __bool__(self) -> bool:
        raise WorkflowDefinitionError(
            "a comparison of promises cannot be used with Python's if/and/or/not inside a workflow; "
            "use roost.conditional(...).if_(...) and combine conditions with & and |"
        )


def condition_var(promise: Promise) -> str:
    """The branch node input name a promise gets in a condition: ``<node id>.<var>`` (``.x`` for inputs)."""
    path = "".join(f"[{a}]" if isinstance(a, int) else f".{a}" for a in promise.attr_path)
    return f"{promise.node_id}.{promise.var}{path}"


def _operand(value: Any, promises: list[Promise]) -> condition_pb2.Operand:
    if isinstance(value, Promise):
        promises.append(value)
        return condition_pb2.Operand(var=condition_var(value))
    if value is None:
        return condition_pb2.Operand(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
    primitive = literals_pb2.Primitive()
    if isinstance(value, bool):
        primitive.boolean = value
    elif isinstance(value, int):
        primitive.integer = value
    elif isinstance(value, float):
        primitive.float_value = value
    elif isinstance(value, str):
        primitive.string_value = value
    elif isinstance(value, datetime.datetime):
        primitive.datetime.FromDatetime(value)
    elif isinstance(value, datetime.timedelta):
        primitive.duration.FromTimedelta(value)
    else:
        raise WorkflowDefinitionError(
            f"a condition can compare promises with int, float, str, bool, datetime, timedelta or None, "
            f"not {type(value).__name__} ({value!r})"
        )
    return condition_pb2.Operand(primitive=primitive)


class CompilationState:
    """The workflow being built: its nodes in call order, and where new nodes go."""

    def __init__(self, workflow: str, function_code: Any, *, prefix: str = "n") -> None:
        self.workflow = workflow
        self.function_code = function_code
        self.nodes: list[Node] = []
        self._prefix = prefix
        self._count = 0
        self.capture: list[Node] | None = None
        """Where new nodes go while a conditional's case is being built (instead of ``nodes``)."""

    def next_id(self) -> str:
        """A fresh node id (``n0``, ``n1``, ...)."""
        node_id = f"{self._prefix}{self._count}"
        self._count += 1
        return node_id

    def add(self, node: Node) -> None:
        """Record a new node, in the open conditional case if one is being built."""
        node.workflow = self.workflow
        (self.capture if self.capture is not None else self.nodes).append(node)


_STATE: contextvars.ContextVar[CompilationState | None] = contextvars.ContextVar(
    "roost_compilation", default=None
)


def current_compilation() -> CompilationState | None:
    """The workflow being compiled in this context, if any."""
    return _STATE.get()


@contextmanager
def compiling(state: CompilationState) -> Iterator[CompilationState]:
    """Make ``state`` the workflow that entity calls add nodes to."""
    token = _STATE.set(state)
    try:
        yield state
    finally:
        _STATE.reset(token)
