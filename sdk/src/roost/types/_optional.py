"""Optional libraries (dataframes, numpy, pydantic), imported on first use with an error that says how to
install them."""

from __future__ import annotations

import importlib
from typing import Any

_EXTRAS = {
    "pandas": "dataframes",
    "pyarrow": "dataframes",
    "polars": "polars",
    "numpy": "numpy",
    "pydantic": "pydantic",
}


def load(module: str) -> Any:
    """Import ``module``; a missing library is an ``ImportError`` naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.partition(".")[0]
        extra = _EXTRAS.get(package)
        hint = f"pip install 'roost[{extra}]'" if extra else f"pip install {package}"
        raise ImportError(f"{package} is needed for this conversion but is not installed: {hint}") from exc
