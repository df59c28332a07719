"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2e3``), parsed exactly as fractions: what the Pod
handler, the admin's task resource attributes and the Kubernetes test server compare and format."""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["QuantityError", "format_quantity", "parse_quantity"]

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(text: str | int | float) -> Fraction:
    """The exact value of a quantity; numbers are taken as they are.

    Raises :class:`QuantityError` with the API server's wording for anything else.
    """
    if isinstance(text, bool):
        raise QuantityError(f"quantities must be numbers or strings, got {text!r}")
    if isinstance(text, int | float):
        return Fraction(text)
    match = _QUANTITY.match(text.strip())
    if match is None or match.group(1) in (".", "+.", "-."):
        raise QuantityError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {text!r}"
        )
    number, suffix = match.groups()
    try:
        value = Fraction(number)
    except ValueError:
        raise QuantityError(f"unable to parse quantity's numeric part: {text!r}") from None
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * _DECIMAL[suffix]
    exponent = re.fullmatch(r"[eE]([-+]?[0-9]+)", suffix)
    if exponent is None:
        raise QuantityError(f"unable to parse quantity's suffix: {text!r}")
    return value * Fraction(10) ** int(exponent.group(1))


def format_quantity(value: Fraction) -> str:
    """A short canonical form: whole numbers plain, else milli-units (rounded up, as Kubernetes does)."""
    if value.denominator == 1:
        return str(value.numerator)
    milli = value * 1000
    whole = -(-milli.numerator // milli.denominator)
    return f"{whole}m"
