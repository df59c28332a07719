"""Query templates: where ``{{ .inputs.name }}`` appears, a query parameter is bound, never text pasted.

Shared by the SDK side (checking a template when a task is defined) and the engine side (turning the template
into a statement with ``?`` placeholders and the ordered list of inputs to bind). Imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BoundQuery", "TemplateError", "parse_template"]

_TEMPLATE = re.compile(r"\{\{(?P<body>.*?)\}\}", re.S)
_INPUT = re.compile(r"^\s*\.?inputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$", re.I)


class TemplateError(ValueError):
    """A query template that cannot be bound; the message says where and why."""


@dataclass(frozen=True)
class BoundQuery:
    """A template as Trino is sent it: ``statement`` with a ``?`` per reference, ``inputs`` in order."""

    statement: str
    inputs: tuple[str, ...]


def parse_template(template: str, declared: object | None = None) -> BoundQuery:
    """Replace each ``{{ .inputs.name }}`` by ``?`` and list the names in order.

    With ``declared`` (a collection of input names), a reference to anything else is an error. A reference
    inside a quoted string literal is an error too: it is bound as a value, so it must stand where a value
    stands (``WHERE ds = {{ .inputs.ds }}``, not ``'{{ .inputs.ds }}'``). Any other ``{{ ... }}`` is an
    error naming it.
    """
    parts: list[str] = []
    names: list[str] = []
    end = 0
    for match in _TEMPLATE.finditer(template):
        body = match["body"]
        reference = _INPUT.match(body)
        if reference is None:
            raise TemplateError(
                f"{match[0]!r} is not an input reference; write {{{{ .inputs.NAME }}}} for an input"
            )
        name = reference["name"]
        if declared is not None and name not in declared:  # type: ignore[operator]
            known = ", ".join(sorted(declared)) or "none"  # type: ignore[call-overload]
            raise TemplateError(f"{match[0]!r} names input {name!r}, which is not declared (inputs: {known})")
        if _inside_string(template[: match.start()]):
            raise TemplateError(
                f"{match[0]!r} is inside a quoted string; remove the quotes: the input is bound as a query "
                "parameter of its own type, not pasted into the text"
            )
        parts.append(template[end : match.start()])
        parts.append("?")
        names.append(name)
        end = match.end()
    parts.append(template[end:])
    return BoundQuery("".join(parts), tuple(names))


def _inside_string(before: str) -> bool:
    """Whether text ending here leaves a single-quoted SQL string open (``''`` is an escaped quote, so the
    count of quotes decides it); comments are not considered."""
    return before.count("'") % 2 == 1
