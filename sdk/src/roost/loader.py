"""Loading user code from files: the module name a file has, and importing it under that name.

A file's module name comes from its place in its package: walking up while folders hold an ``__init__.py``
(``proj/pkg/flows.py`` with ``proj/pkg/__init__.py`` is ``pkg.flows`` with source root ``proj``). Tasks get
that name, so ``roost-execute`` in a container (with the source root on ``PYTHONPATH``) imports them again.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from roost.errors import WorkflowDefinitionError


def module_name_for_file(file: str | Path) -> tuple[str, Path]:
    """(dotted module name, source root) of a Python file."""
    path = Path(file).resolve()
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


class ModuleLoadError(WorkflowDefinitionError):
    """Importing a file of user code failed; the message names the file and says why, in one line."""

    def __init__(self, file: str | Path, reason: str) -> None:
        super().__init__(f"cannot load {file}: {reason}")
        self.file = str(file)
        self.reason = reason


def load_file(file: str | Path) -> ModuleType:
    """Import a Python file under its module name, with its source root on ``sys.path``.

    Whatever the import raises (a missing package, a syntax error, a workflow defined wrongly) becomes a
    :class:`ModuleLoadError` naming the file, the error and the line of user code it came from.
    """
    path = Path(file)
    if not path.is_file():
        raise ModuleLoadError(file, "it is not a file")
    name, root = module_name_for_file(path)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path.resolve():
        return existing
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ModuleLoadError(file, _reason(exc, root)) from exc


def _reason(exc: BaseException, root: Path) -> str:
    """``exc`` in one line, with the place in the user's code (under ``root``) where it was raised."""
    text = str(exc) if isinstance(exc, WorkflowDefinitionError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{type(exc).__name__}: {exc.msg} ({_shown(exc.filename, root)}, line {exc.lineno})"
    user_frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if _within(frame.filename, root) and "site-packages" not in frame.filename
    ]
    if user_frames:
        frame = user_frames[-1]
        text += f" ({_shown(frame.filename, root)}, line {frame.lineno})"
    return text


def _within(filename: str, root: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _shown(filename: str, root: Path) -> str:
    path = Path(filename).resolve()
    return str(path.relative_to(root.resolve())) if _within(filename, root) else str(path)


def find_entity(module: ModuleType, name: str, *, kinds: tuple[type, ...]) -> Any:
    """The entity ``name`` in ``module``, or an error listing the ones there are."""
    found = getattr(module, name, None)
    if isinstance(found, kinds):
        return found
    available = sorted(k for k, v in vars(module).items() if isinstance(v, kinds))
    what = " or ".join(k.__name__.lower() for k in kinds)
    listed = ", ".join(available) or "none"
    raise WorkflowDefinitionError(f"{module.__name__} has no {what} named {name!r}; it has: {listed}")


def entities_in(module: ModuleType, kinds: tuple[type, ...]) -> dict[str, Any]:
    """Every entity of the given kinds defined at the top of ``module``, by attribute name."""
    return {k: v for k, v in vars(module).items() if isinstance(v, kinds)}
