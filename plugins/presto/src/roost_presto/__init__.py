"""Roost query tasks on Presto and Trino.

* :class:`TrinoTask`, :class:`PrestoTask`: a query with typed inputs (bound as query parameters) whose
  result is a structured dataset, task type ``presto``, ``custom`` flyteidl's ``PrestoQuery``;
* the engine's presto handler (:mod:`roost_presto.engine`, settings :class:`TrinoSettings`), on the remote-job
  machinery and the real ``trino`` client;
* :mod:`roost_presto.testing`: a Trino coordinator for tests, on DuckDB.

Names are imported on first use, so ``import roost_presto`` loads nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost_core.lazy import lazy_exports

if TYPE_CHECKING:
    from roost_presto.sdk import PrestoTask, TrinoTask
    from roost_presto.settings import SecretRef, TrinoSettings

_EXPORTS = {
    "PrestoTask": "roost_presto.sdk",
    "TrinoTask": "roost_presto.sdk",
    "SecretRef": "roost_presto.settings",
    "TrinoSettings": "roost_presto.settings",
}

__all__ = ["PrestoTask", "SecretRef", "TrinoSettings", "TrinoTask"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
