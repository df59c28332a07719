"""What a function's docstring says about it: its description and the text of each parameter, in the reST
(``:param x:``), Google (``Args:``) and NumPy styles, as flytekit reads them (with ``docstring_parser``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Docstring:
    """A parsed docstring: the description (summary and body, without the parameter sections) and each
    parameter's text by name, on one line."""

    description: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def parse_docstring(text: str | None) -> Docstring:
    """The description and parameter texts of ``text``; an empty :class:`Docstring` for no text."""
    if not text or not text.strip():
        return Docstring()
    import docstring_parser

    try:
        parsed = docstring_parser.parse(text)
    except docstring_parser.ParseError:
        return Docstring(description=inspect.cleandoc(text))
    parts = [part for part in (parsed.short_description, parsed.long_description) if part]
    parameters = {
        param.arg_name: " ".join(param.description.split()) for param in parsed.params if param.description
    }
    return Docstring("\n\n".join(parts), parameters)
