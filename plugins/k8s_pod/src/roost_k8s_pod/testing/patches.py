"""The three patch formats of the API server: JSON merge patch, strategic merge patch, JSON patch."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from roost_k8s_pod.testing.store import ApiError

__all__ = ["json_patch", "merge_patch", "strategic_merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


SchemaLookup = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def strategic_merge_patch(
    target: Any, patch: Any, schema: Mapping[str, Any] | None, resolve: SchemaLookup
) -> Any:
    """Kubernetes' strategic merge: like a merge patch, but lists whose schema declares
    ``x-kubernetes-patch-strategy: merge`` merge their items by ``x-kubernetes-patch-merge-key``.

    ``resolve`` folds ``$ref``/``allOf`` of a schema. ``$patch: delete`` on a list item removes it;
    other directives (``$retainKeys``, ``$setElementOrder``) are ignored.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    schema = resolve(schema) if schema is not None else {}
    properties: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = properties.get(key) if key in properties else (extra if isinstance(extra, Mapping) else None)
        child = resolve(child) if child is not None else None
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and child is not None and _merges_by_key(child):
            result[key] = _merge_list(result.get(key) or [], value, child, resolve)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, child, resolve)
    return result


def _merges_by_key(schema: Mapping[str, Any]) -> bool:
    strategy = str(schema.get("x-kubernetes-patch-strategy", ""))
    return "merge" in strategy.split(",") and bool(schema.get("x-kubernetes-patch-merge-key"))


def _merge_list(
    current: list[Any], patch: list[Any], schema: Mapping[str, Any], resolve: SchemaLookup
) -> list[Any]:
    key = schema["x-kubernetes-patch-merge-key"]
    items = schema.get("items")
    result = [copy.deepcopy(item) for item in current]
    for item in patch:
        if not isinstance(item, dict):
            result.append(copy.deepcopy(item))
            continue
        index = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item.get(key)),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append({k: v for k, v in item.items() if not k.startswith("$")})
        else:
            result[index] = strategic_merge_patch(result[index], item, items, resolve)
    return result


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test), with the API server's error on a bad patch."""
    if not isinstance(operations, list):
        raise ApiError(
            400,
            "BadRequest",
            f"json: cannot unmarshal {type(operations).__name__} into Go value of type jsonpatch.Patch",
        )
    document = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {operation!r}",
            )
        op, path = operation["op"], _pointer(str(operation["path"]))
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            _remove(document, path)
        elif op == "replace":
            _remove(document, path)
            document = _add(document, path, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            source = _pointer(str(operation.get("from", "")))
            value = copy.deepcopy(_get(document, source))
            if op == "move":
                _remove(document, source)
            document = _add(document, path, value)
        elif op == "test":
            if _get(document, path) != operation.get("value"):
                raise ApiError(422, "Invalid", f"testing value {operation['path']} failed")
        else:
            raise ApiError(422, "Invalid", f"Unexpected kind: {op}")
    return document


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, path: list[str]) -> Any:
    current = document
    for part in path[:-1]:
        current = (
            current[int(part)]
            if isinstance(current, list)
            else current.get(part)
            if isinstance(current, dict)
            else None
        )
        if current is None:
            raise ApiError(422, "Invalid", f"doc is missing path: /{'/'.join(path)}")
    return current


def _get(document: Any, path: list[str]) -> Any:
    current = document
    for part in path:
        try:
            current = current[int(part)] if isinstance(current, list) else current[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", f"doc is missing path: /{'/'.join(path)}") from None
    return current


def _add(document: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _parent(document, path)
    last = path[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(int(last), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", f"doc is missing path: /{'/'.join(path)}")
    return document


def _remove(document: Any, path: list[str]) -> None:
    parent = _parent(document, path)
    last = path[-1]
    try:
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ApiError(422, "Invalid", f"doc is missing path: /{'/'.join(path)}") from None
