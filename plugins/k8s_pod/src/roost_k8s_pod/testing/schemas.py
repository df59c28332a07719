"""Where the test server finds the real Kubernetes schemas it validates against.

Two sources, never copied into the repository:

* the schema folder: ``$ROOST_K8S_SCHEMAS``, by default the ``shared/k8s-schemas`` folder beside the
  checkout (``<repo>/../shared/k8s-schemas``). Its ``kubernetes/api__v1_openapi.json`` is the API
  server's own OpenAPI v3 document for ``/api/v1``; its operator folders hold the CRDs (SparkApplication,
  RayJob, MPIJob, ...);
* the ``kubernetes-validate`` package (the ``testing`` extra), whose strict JSON schemas stand in for the
  core types when the folder is absent. It carries no operator CRDs, so CRD checks then skip.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMAS_ENV",
    "CoreSchemas",
    "SchemasNotFoundError",
    "core_openapi_document",
    "core_schemas",
    "crd_path",
    "load_crd",
    "schemas_folder",
]

SCHEMAS_ENV = "ROOST_K8S_SCHEMAS"
"""The environment variable naming the schema folder."""

_CORE_DOCUMENT = Path("kubernetes") / "api__v1_openapi.json"


class SchemasNotFoundError(LookupError):
    """The schemas a check needs are not on this machine; the message says where they were looked for."""


def _default_folder() -> Path | None:
    # src/roost_k8s_pod/testing/schemas.py: the repository root is five folders up, when this runs
    # from a checkout (editable install); an installed wheel has no such default.
    here = Path(__file__).resolve()
    if len(here.parents) < 6:
        return None
    repo = here.parents[5]
    if not (repo / "plugins" / "k8s_pod").is_dir():
        return None
    return repo.parent / "shared" / "k8s-schemas"


def schemas_folder() -> Path | None:
    """The schema folder: ``$ROOST_K8S_SCHEMAS`` if set, else ``<repo>/../shared/k8s-schemas``."""
    configured = os.environ.get(SCHEMAS_ENV)
    if configured:
        return Path(configured)
    return _default_folder()


def _describe_folder() -> str:
    folder = schemas_folder()
    where = str(folder) if folder is not None else "(no default outside a checkout)"
    return f"{where} (set {SCHEMAS_ENV} to the folder holding kubernetes/ and the operator CRDs)"


@dataclass(frozen=True, slots=True)
class CoreSchemas:
    """The core API types' schemas by definition name (``io.k8s.api.core.v1.Pod``)."""

    definitions: Mapping[str, Any]
    source: str
    """Where they came from, for messages."""

    def definition(self, name: str) -> Mapping[str, Any]:
        """One definition; a KeyError names it."""
        try:
            found: Mapping[str, Any] = self.definitions[name]
        except KeyError:
            raise KeyError(f"no schema {name!r} in {self.source}") from None
        return found


_loaded: dict[str, CoreSchemas] = {}
_documents: dict[str, dict[str, Any]] = {}
_core_lock = threading.Lock()


def core_schemas() -> CoreSchemas:
    """The core types' schemas: the folder's OpenAPI document, else kubernetes-validate's newest.

    Loaded once per process. Raises :class:`SchemasNotFoundError` when neither is available.
    """
    with _core_lock:
        if "core" not in _loaded:
            _loaded["core"] = _load_core()
        return _loaded["core"]


def _load_core() -> CoreSchemas:
    folder = schemas_folder()
    if folder is not None and (folder / _CORE_DOCUMENT).is_file():
        path = folder / _CORE_DOCUMENT
        document = json.loads(path.read_text())
        _documents["document"] = document
        return CoreSchemas(document["components"]["schemas"], str(path))
    try:
        import kubernetes_validate  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise SchemasNotFoundError(
            f"no Kubernetes core schemas: {_CORE_DOCUMENT} is not in the schema folder {_describe_folder()}, "
            "and the kubernetes-validate package is not installed"
        ) from None
    package = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = package / f"v{latest_version()}-local-strict" / "_definitions.json"
    document = json.loads(path.read_text())
    return CoreSchemas(document["$defs"], f"kubernetes-validate ({path})")


def core_openapi_document() -> dict[str, Any] | None:
    """The API server's OpenAPI v3 document for ``/api/v1`` from the schema folder, or None if absent."""
    folder = schemas_folder()
    if folder is None or not (folder / _CORE_DOCUMENT).is_file():
        return None
    with _core_lock:
        if "document" not in _documents:
            _documents["document"] = json.loads((folder / _CORE_DOCUMENT).read_text())
        return _documents["document"]


def crd_path(relative: str) -> Path:
    """The path of a CRD file inside the schema folder (``spark-operator/...yaml``).

    Raises :class:`SchemasNotFoundError` (whose message says the CRD checks are skipped) when the folder
    or the file is absent.
    """
    folder = schemas_folder()
    if folder is None or not (folder / relative).is_file():
        raise SchemasNotFoundError(
            f"operator CRD schema {relative!r} not found in the schema folder {_describe_folder()}: "
            "CRD checks skipped"
        )
    return folder / relative


def load_crd(relative: str) -> dict[str, Any]:
    """A CustomResourceDefinition from the schema folder, as a dict of its own (see :func:`crd_path`)."""
    return copy.deepcopy(_parsed_crd(crd_path(relative)))


@functools.lru_cache(maxsize=32)
def _parsed_crd(path: Path) -> dict[str, Any]:
    # Operators' CRDs run to 10,000+ lines: parsed once per process, with libyaml when PyYAML has it (10x faster).
    import yaml  # type: ignore[import-untyped,unused-ignore]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)
    return document
