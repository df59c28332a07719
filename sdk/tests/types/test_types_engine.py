"""The registry, lookup order, plugin-style registration, named values, interfaces and error composition."""

from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import interface_pb2, literals_pb2, types_pb2

import roost.types
from roost.types import (
    InvalidLiteralError,
    InvalidValueError,
    TypeContext,
    TypeEngine,
    TypeTransformer,
    UnsupportedTypeError,
    VariableError,
    builtin,
)
from roost.types import (
    engine as engine_module,
)

SIMPLE = types_pb2.SimpleType


class Celsius(float):
    """A float subclass: the float transformer handles it through the MRO."""


class Color(str, enum.Enum):  # noqa: UP042 -- the mixin is what is tested
    """A str-mixin enum: the enum transformer, not str's, must handle it."""

    RED = "red"


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents


class MoneyTransformer(TypeTransformer[Money]):
    """A plugin's transformer: money as an integer number of cents."""

    def __init__(self, python_type: Any = Money) -> None:
        super().__init__("money", python_type)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(simple=SIMPLE.INTEGER)

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        return self.engine.to_literal(ctx, value.cents, int)

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Money:
        return Money(self.engine.to_python_value(ctx, literal, int))


class Broken(TypeTransformer[Any]):
    """A transformer with bugs: the engine must name it and the type instead of crashing oddly."""

    def __init__(self) -> None:
        super().__init__("broken", Money)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        raise KeyError("oops")

    def to_literal(
        self, ctx: TypeContext, value: Any, python_type: Any, expected: Any
    ) -> literals_pb2.Literal:
        raise ZeroDivisionError("division by zero")

    def to_python_value(self, ctx: TypeContext, literal: literals_pb2.Literal, python_type: Any) -> Any:
        raise IndexError("list index out of range")


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def test_lookup_order(engine: TypeEngine) -> None:
    names = {
        int: "int",
        bool: "bool",
        Celsius: "float",
        Color: "DefaultEnumTransformer",
        list[int]: "Typed List",
        typing.Optional[int]: "Typed Union",  # noqa: UP045
        int | None: "Typed Union",
        typing.Annotated[int, "note"]: "int",
        None: "none",
    }
    for python_type, name in names.items():
        assert engine.get_transformer(python_type).name == name, python_type
    assert engine.to_literal_type(Color).enum_type.values == ["red"]


def test_plugin_transformers_register_like_builtins(ctx: TypeContext) -> None:
    engine = TypeEngine()
    builtin.roost_type_transformers(register=engine.register)
    engine.register(MoneyTransformer())
    literal = engine.to_literal(ctx, Money(250), Money)
    assert literal == _int(250)
    assert engine.to_python_value(ctx, literal, Money).cents == 250
    assert (
        engine.to_python_value(ctx, engine.to_literal(ctx, [Money(1)], list[Money]), list[Money])[0].cents
        == 1
    )
    assert engine.transformers[-1].name == "money"


def test_registration_errors(engine: TypeEngine) -> None:
    money = MoneyTransformer()
    engine.register(money)
    with pytest.raises(
        ValueError,
        match=r"^cannot register <MoneyTransformer 'money' for Money>: Money is already handled by "
        r"<MoneyTransformer 'money' for Money>$",
    ):
        engine.register(MoneyTransformer())
    with pytest.raises(
        ValueError,
        match=r"^type transformer 'money' is already registered with another TypeEngine; register a new instance "
        r"instead$",
    ):
        TypeEngine().register(money)
    with pytest.raises(
        ValueError,
        match=r"^<MoneyTransformer 'money' for a predicate> handles nothing: give it a python_type or override "
        r"handles\(\)$",
    ):
        engine.register(MoneyTransformer(None))
    fallback = engine.get_transformer(Money).engine.transformers
    pickle = next(t for t in fallback if t.fallback)
    with pytest.raises(
        ValueError, match=r"^cannot register <PickleTransformer 'FlytePickle' for a predicate> as the "
    ):
        engine.register(type(pickle)())
    with pytest.raises(RuntimeError, match=r"^type transformer 'money' is not registered with a TypeEngine$"):
        _ = MoneyTransformer().engine


def test_without_a_fallback_unknown_types_are_errors(ctx: TypeContext) -> None:
    engine = TypeEngine()
    with pytest.raises(UnsupportedTypeError, match=r"^no type transformer handles Money$"):
        engine.to_literal_type(Money)


def test_lazy_class_names_do_not_import(
    tmp_path: Path, ctx: TypeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "roost_lazy_probe.py").write_text(
        "class Thing:\n    def __init__(self, cents):\n        self.cents = cents\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = TypeEngine()
    builtin.roost_type_transformers(register=engine.register)
    engine.register(MoneyTransformer("roost_lazy_probe.Thing"))
    assert engine.get_transformer(int).name == "int"
    assert "roost_lazy_probe" not in sys.modules
    import roost_lazy_probe

    try:
        assert engine.get_transformer(roost_lazy_probe.Thing).name == "money"
        assert engine.to_literal(ctx, roost_lazy_probe.Thing(3), roost_lazy_probe.Thing) == _int(3)
    finally:
        del sys.modules["roost_lazy_probe"]


def test_bugs_in_transformers_are_named(ctx: TypeContext) -> None:
    engine = TypeEngine()
    engine.register(Broken())
    with pytest.raises(UnsupportedTypeError, match=r"^Money has no literal type: KeyError: 'oops'$"):
        engine.to_literal_type(Money)
    expected = types_pb2.LiteralType(simple=SIMPLE.INTEGER)
    with pytest.raises(
        InvalidValueError, match=r"^cannot convert Money to Money: ZeroDivisionError: division by zero$"
    ) as caught:
        engine.to_literal(ctx, Money(1), Money, expected)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    with pytest.raises(
        InvalidLiteralError, match=r"^cannot read a literal as Money: IndexError: list index out of range$"
    ):
        engine.to_python_value(ctx, _int(1), Money)


def test_literal_maps(engine: TypeEngine, ctx: TypeContext) -> None:
    types_ = {"n": int, "xs": list[str]}
    literal_map = engine.literal_map_from_kwargs(ctx, {"xs": ["a"], "n": 1}, types_)
    assert set(literal_map.literals) == {"n", "xs"}
    assert engine.kwargs_from_literal_map(ctx, literal_map, types_) == {"n": 1, "xs": ["a"]}
    with pytest.raises(VariableError, match=r"^missing xs; unexpected extra \(declared: n, xs\)$"):
        engine.literal_map_from_kwargs(ctx, {"n": 1, "extra": 2}, types_)
    with pytest.raises(VariableError, match=r"^missing n \(declared: n, xs\)$"):
        engine.kwargs_from_literal_map(
            ctx, literals_pb2.LiteralMap(literals={"xs": literal_map.literals["xs"]}), types_
        )
    with pytest.raises(VariableError, match=r"^unexpected n, xs \(declared: none\)$"):
        engine.kwargs_from_literal_map(ctx, literal_map, {})


def test_errors_compose_with_the_callers_names(engine: TypeEngine, ctx: TypeContext) -> None:
    @dataclasses.dataclass
    class Row:
        score: int

    with pytest.raises(InvalidValueError) as caught:
        engine.literal_map_from_kwargs(ctx, {"rows": [Row(1), Row("2")]}, {"rows": list[Row]})  # type: ignore[arg-type]
    error = caught.value
    assert str(error) == "rows[1].score: expected int but got str ('2')"
    assert error.path == "rows[1].score"
    assert error.reason == "expected int but got str ('2')"
    assert error.python_type is int
    assert error.value == "2"
    error.prefixed("task wf.t1: input")
    assert str(error) == "task wf.t1: input rows[1].score: expected int but got str ('2')"
    bare = InvalidValueError("expected int but got str ('7')", python_type=int, value="7")
    assert str(bare.prefixed("task wf.t1:")) == "task wf.t1: expected int but got str ('7')"
    assert str(bare.prefixed("workflow wf,")) == "workflow wf, task wf.t1: expected int but got str ('7')"
    assert bare.args == (str(bare),)
    literal_map = engine.literal_map_from_kwargs(ctx, {"n": 1}, {"n": int})
    with pytest.raises(InvalidLiteralError, match=r"^n: expected str but got an integer literal \(1\)$"):
        engine.kwargs_from_literal_map(ctx, literal_map, {"n": str})


def test_interface_of(engine: TypeEngine) -> None:
    interface = engine.interface_of({"a": int, "b": list[str]}, {"o0": float}, {"a": "the count"})
    assert interface == interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(
            variables={
                "a": interface_pb2.Variable(
                    type=types_pb2.LiteralType(simple=SIMPLE.INTEGER), description="the count"
                ),
                "b": interface_pb2.Variable(
                    type=types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=SIMPLE.STRING)),
                    description="b",
                ),
            }
        ),
        outputs=interface_pb2.VariableMap(
            variables={
                "o0": interface_pb2.Variable(
                    type=types_pb2.LiteralType(simple=SIMPLE.FLOAT), description="o0"
                )
            }
        ),
    )
    with pytest.raises(UnsupportedTypeError, match=r"^x: a list needs an element type, e\.g\. list\[int\]$"):
        engine.interface_of({"x": list}, {})


def test_guess_python_type(engine: TypeEngine) -> None:
    cases = [
        int,
        float,
        str,
        bool,
        typing.Any,
        type(None),
        list[int],
        dict[str, list[float]],
        typing.Optional[int],  # noqa: UP045
    ]
    for python_type in cases:
        assert engine.guess_python_type(engine.to_literal_type(python_type)) == python_type
    assert (
        engine.guess_python_type(types_pb2.LiteralType(simple=SIMPLE.DATETIME))
        is __import__("datetime").datetime
    )
    assert (
        engine.guess_python_type(engine.to_literal_type(roost.types.StructuredDataset))
        is roost.types.StructuredDataset
    )
    with pytest.raises(UnsupportedTypeError, match=r"^no Python type is known for the literal type binary$"):
        engine.guess_python_type(types_pb2.LiteralType(simple=SIMPLE.BINARY))


def test_offloaded_literals_are_fetched(engine: TypeEngine, ctx: TypeContext, tmp_path: Path) -> None:
    stored = tmp_path / "offloaded.pb"
    stored.write_bytes(engine.to_literal(ctx, [1, 2], list[int]).SerializeToString())
    offloaded = literals_pb2.Literal(
        offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri=f"file://{stored}")
    )
    assert engine.to_python_value(ctx, offloaded, list[int]) == [1, 2]
    missing = literals_pb2.Literal(
        offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri="/no/such.pb")
    )
    with pytest.raises(
        InvalidLiteralError,
        match=r"^cannot read the offloaded literal at '/no/such\.pb': cannot read '/no/such\.pb': No such file or "
        r"directory$",
    ):
        engine.to_python_value(ctx, missing, list[int])


def test_default_engine_and_module_functions(ctx: TypeContext) -> None:
    try:
        assert roost.types.default_engine() is roost.types.default_engine()
        assert roost.types.to_literal_type(int) == types_pb2.LiteralType(simple=SIMPLE.INTEGER)
        literal = roost.types.to_literal(ctx, 5, int)
        assert roost.types.to_python_value(ctx, literal, int) == 5
        values = roost.types.literal_map_from_kwargs(ctx, {"a": 1}, {"a": int})
        assert roost.types.kwargs_from_literal_map(ctx, values, {"a": int}) == {"a": 1}
        assert roost.types.guess_python_type(types_pb2.LiteralType(simple=SIMPLE.STRING)) is str
        assert roost.types.interface_of({}, {"o0": int}).outputs.variables["o0"].description == "o0"
        custom = TypeEngine.with_builtins()
        custom.register(MoneyTransformer())
        roost.types.set_default_engine(custom)
        assert roost.types.to_literal(ctx, Money(9), Money) == _int(9)
    finally:
        roost.types.set_default_engine(None)
    with pytest.warns(roost.types.PickleFallbackWarning):
        assert roost.types.default_engine().get_transformer(Money).fallback


def test_unknown_exports() -> None:
    with pytest.raises(AttributeError, match=r"^module 'roost\.types' has no attribute 'Nope'$"):
        _ = roost.types.Nope
    assert set(roost.types.__all__) >= {"TypeEngine", "File", "Directory", "StructuredDataset", "TypeContext"}
    assert engine_module.default_engine is roost.types.default_engine
