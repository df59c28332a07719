"""The Python interface of a task or workflow: named, typed inputs (with defaults) and outputs."""

from __future__ import annotations

import ast
import collections
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import interface_pb2

from roost import _typing
from roost.errors import WorkflowDefinitionError
from roost.nodes import Node

_EMPTY = inspect.Parameter.empty


def output_names(count: int) -> list[str]:
    """Flyte's default output names: ``o0``, ``o1``, ..."""
    return [f"o{i}" for i in range(count)]


def _is_named_tuple(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, tuple) and hasattr(annotation, "_fields")


@dataclass(frozen=True)
class Interface:
    """Inputs and outputs by name, in declaration order, with Python types."""

    inputs: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    output_tuple: type[tuple[Any, ...]] | None = None
    """The NamedTuple type the outputs come back as, if the function declared one."""

    @classmethod
    def of(cls, fn: Callable[..., Any], *, what: str) -> Interface:
        """The interface declared by a function's signature and annotations.

        Every parameter needs a type annotation; the return annotation gives the outputs (a NamedTuple names
        them, ``tuple[A, B]`` and ``(A, B)`` make ``o0, o1, ...``, ``None`` means no outputs).
        """
        hints = _type_hints(fn, what)
        signature = inspect.signature(fn)
        inputs: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        for name, parameter in signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise WorkflowDefinitionError(f"{what}: *args and **kwargs are not supported ({name!r})")
            if name not in hints:
                raise WorkflowDefinitionError(f"{what}: input {name!r} has no type annotation")
            inputs[name] = hints[name]
            if parameter.default is not _EMPTY:
                defaults[name] = parameter.default
        returns = hints.get("return", None)
        if "return" not in hints and signature.return_annotation is _EMPTY:
            returns = None
        outputs, tuple_type = _outputs_of(returns, what)
        return cls(inputs, defaults, outputs, tuple_type)

    @property
    def required_inputs(self) -> list[str]:
        """Inputs without a default."""
        return [name for name in self.inputs if name not in self.defaults]

    def typed(self) -> interface_pb2.TypedInterface:
        """The flyteidl interface (types through the type engine)."""

        def variables(types: dict[str, Any]) -> interface_pb2.VariableMap:
            return interface_pb2.VariableMap(
                variables={
                    name: interface_pb2.Variable(type=_typing.literal_type(t), description=name)
                    for name, t in types.items()
                }
            )

        return interface_pb2.TypedInterface(inputs=variables(self.inputs), outputs=variables(self.outputs))

    def pack_outputs(self, values: dict[str, Any]) -> Any:
        """Outputs by name → what a Python caller gets: None, the one value, or a (named) tuple."""
        if not self.outputs:
            return None
        ordered = [values[name] for name in self.outputs]
        if self.output_tuple is not None:
            return self.output_tuple(*ordered)
        if len(ordered) == 1:
            return ordered[0]
        return tuple(ordered)

    def unpack_outputs(self, result: Any, *, what: str) -> dict[str, Any]:
        """What a function returned → outputs by name; raises naming the mismatch.

        With no outputs, returning a call to an entity without outputs is the same as returning None; a
        one-field NamedTuple accepts the bare value as well as the tuple.
        """
        names = list(self.outputs)
        if not names:
            if result is not None and not isinstance(result, Node):
                raise TypeError(
                    f"{what} returned {result!r} but declares no outputs (annotate its return type)"
                )
            return {}
        if len(names) == 1:
            return {names[0]: self._single_output(result)}
        if not isinstance(result, tuple) or len(result) != len(names):
            raise TypeError(f"{what} must return {len(names)} values ({', '.join(names)}), got {result!r}")
        return dict(zip(names, result, strict=True))

    def _single_output(self, result: Any) -> Any:
        if self.output_tuple is None:
            return result
        if isinstance(result, self.output_tuple):
            return result[0]
        (declared,) = self.outputs.values()
        declares_tuple = typing.get_origin(declared) is tuple or _is_named_tuple(declared)
        if isinstance(result, tuple) and len(result) == 1 and not declares_tuple:
            return result[0]
        return result


def _type_hints(fn: Callable[..., Any], what: str) -> dict[str, Any]:
    """The resolved annotations of ``fn``; a return annotation written as a tuple, ``-> (A, B)``, stays a tuple
    of resolved types (``typing.get_type_hints`` refuses it when annotations are strings)."""
    annotations = dict(getattr(fn, "__annotations__", {}))
    returns = annotations.pop("return", inspect.Parameter.empty)
    hints = _resolve(annotations, fn, what)
    if returns is inspect.Parameter.empty:
        return hints
    if isinstance(returns, str) and isinstance(_parsed(returns), ast.Tuple):
        node = _parsed(returns)
        assert isinstance(node, ast.Tuple)
        returns = tuple(ast.unparse(element) for element in node.elts)
    if isinstance(returns, tuple):
        parts = _resolve({f"{i}": part for i, part in enumerate(returns)}, fn, what)
        hints["return"] = tuple(parts.values())
    else:
        hints["return"] = _resolve({"return": returns}, fn, what)["return"]
    return hints


def _parsed(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        return None


def _resolve(annotations: dict[str, Any], fn: Callable[..., Any], what: str) -> dict[str, Any]:
    holder = types.SimpleNamespace(__annotations__=annotations)
    try:
        globalns = getattr(inspect.unwrap(fn), "__globals__", None)
        return typing.get_type_hints(holder, globalns=globalns, include_extras=True)
    except (NameError, TypeError, SyntaxError) as exc:
        raise WorkflowDefinitionError(f"{what}: cannot resolve a type annotation: {exc}") from None


def _outputs_of(returns: Any, what: str) -> tuple[dict[str, Any], type[tuple[Any, ...]] | None]:
    if returns is None or returns is type(None):
        return {}, None
    if isinstance(returns, tuple):
        # flytekit's `-> (A, B)`: one output per element, as for tuple[A, B].
        if len(returns) < 2:
            raise WorkflowDefinitionError(
                f"{what}: the return annotation {returns!r} is a tuple of {len(returns)} type(s); "
                "a tuple annotation declares several outputs (for one output, annotate its type alone)"
            )
        return dict(zip(output_names(len(returns)), returns, strict=True)), None
    if _is_named_tuple(returns):
        hints = typing.get_type_hints(returns, include_extras=True)
        return collections.OrderedDict((name, hints[name]) for name in returns._fields), returns
    origin = typing.get_origin(returns)
    if origin is tuple:
        args = typing.get_args(returns)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"o0": returns}, None
        return dict(zip(output_names(len(args)), args, strict=True)), None
    return {"o0": returns}, None
