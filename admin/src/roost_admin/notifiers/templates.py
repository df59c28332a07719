"""Flyte's ``{{ variable }}`` message templates."""

from __future__ import annotations

import re
from collections.abc import Mapping

_VARIABLE = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}\}")


def render(template: str, variables: Mapping[str, str]) -> str:
    """``template`` with Flyte's ``{{ variable }}`` placeholders filled in (unknown ones are left as they are)."""
    return _VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), template)
