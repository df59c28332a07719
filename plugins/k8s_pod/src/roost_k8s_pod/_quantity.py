"""Kubernetes resource quantities: the core's parser (the admin's attribute checks use it too)."""

from __future__ import annotations

from roost_core.quantity import QuantityError, format_quantity, parse_quantity

__all__ = ["QuantityError", "format_quantity", "parse_quantity"]
