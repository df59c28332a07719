"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

Pods get kubectl's familiar columns (NAME, READY, STATUS, RESTARTS, AGE, and IP and NODE in wide
output), worked out as the API server's pod printer does; other kinds get NAME and AGE (namespaces add
STATUS, secrets TYPE and DATA, config maps DATA).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from roost_k8s_pod.testing.store import ResourceType

__all__ = ["table"]


def _column(name: str, kind: str = "string", *, priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


_NAME = _column("Name", fmt="name")
_AGE = _column("Age")


def table(
    rtype: ResourceType,
    items: Iterable[Mapping[str, Any]],
    resource_version: int,
    *,
    include_object: str = "PartialObjectMetadata",
    with_columns: bool = True,
) -> dict[str, Any]:
    """A Table of ``items``; rows carry the object as ``include_object`` asks (None, Object, metadata)."""
    columns, cells = _printer(rtype)
    rows = []
    for item in items:
        row: dict[str, Any] = {"cells": cells(item)}
        if include_object == "Object":
            row["object"] = dict(item)
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": columns if with_columns else None,
        "rows": rows,
    }


def _printer(rtype: ResourceType) -> tuple[list[dict[str, Any]], Any]:
    if rtype.group == "" and rtype.plural == "pods":
        columns = [
            _NAME,
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "string"),
            _AGE,
            _column("IP", priority=1),
            _column("Node", priority=1),
        ]
        return columns, _pod_cells
    if rtype.group == "" and rtype.plural == "namespaces":
        return [_NAME, _column("Status"), _AGE], lambda o: [
            _name(o),
            (o.get("status") or {}).get("phase", ""),
            _age(o),
        ]
    if rtype.group == "" and rtype.plural == "secrets":
        return [_NAME, _column("Type"), _column("Data", "integer"), _AGE], lambda o: [
            _name(o),
            o.get("type", ""),
            len(o.get("data") or {}),
            _age(o),
        ]
    if rtype.group == "" and rtype.plural == "configmaps":
        return [_NAME, _column("Data", "integer"), _AGE], lambda o: [
            _name(o),
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _age(o),
        ]
    return [_NAME, _AGE], lambda o: [_name(o), _age(o)]


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _age(obj: Mapping[str, Any]) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _pod_cells(pod: Mapping[str, Any]) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in statuses:
        state = container.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or (
                f"Signal:{terminated['signal']}"
                if terminated.get("signal")
                else f"ExitCode:{terminated.get('exitCode')}"
            )
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [
        _name(pod),
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        str(restarts),
        _age(pod),
        status.get("podIP", "<none>"),
        spec.get("nodeName", "<none>"),
    ]
