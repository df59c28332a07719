"""What the test server does with a request, independent of HTTP: admission, defaults, quota, storage.

:class:`KubeApi` serves the built-in kinds (Pods, Secrets, ConfigMaps, Namespaces, ResourceQuotas, and
CustomResourceDefinitions) and every registered CRD. Each write goes through the API server's steps in
its order: decoding (unknown fields, wrong types: 400), defaults, validation (422), quota (403), then
storage with a new resource version.
"""

from __future__ import annotations

import base64
import copy
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from roost_k8s_pod._quantity import QuantityError, format_quantity, parse_quantity
from roost_k8s_pod.testing import validation
from roost_k8s_pod.testing.patches import json_patch, merge_patch, strategic_merge_patch
from roost_k8s_pod.testing.schemas import CoreSchemas, SchemasNotFoundError, core_schemas
from roost_k8s_pod.testing.store import ApiError, ResourceType, Selector, Store, Watcher, now_rfc3339
from roost_k8s_pod.testing.validation import Problem, SchemaWalker

__all__ = ["BUILTIN_TYPES", "KubeApi", "WriteResult"]

PODS = ResourceType(
    "", ("v1",), "Pod", "pods", "pod", True, ("po",), True, "io.k8s.api.core.v1.Pod", categories=("all",)
)
SECRETS = ResourceType(
    "", ("v1",), "Secret", "secrets", "secret", True, (), False, "io.k8s.api.core.v1.Secret"
)
CONFIGMAPS = ResourceType(
    "", ("v1",), "ConfigMap", "configmaps", "configmap", True, ("cm",), False, "io.k8s.api.core.v1.ConfigMap"
)
NAMESPACES = ResourceType(
    "", ("v1",), "Namespace", "namespaces", "namespace", False, ("ns",), True, "io.k8s.api.core.v1.Namespace"
)
RESOURCE_QUOTAS = ResourceType(
    "",
    ("v1",),
    "ResourceQuota",
    "resourcequotas",
    "resourcequota",
    True,
    ("quota",),
    True,
    "io.k8s.api.core.v1.ResourceQuota",
)
CRDS = ResourceType(
    "apiextensions.k8s.io",
    ("v1",),
    "CustomResourceDefinition",
    "customresourcedefinitions",
    "customresourcedefinition",
    False,
    ("crd", "crds"),
    True,
)
BUILTIN_TYPES = (PODS, SECRETS, CONFIGMAPS, NAMESPACES, RESOURCE_QUOTAS, CRDS)
"""The kinds served without registration."""

_EXTRA_CHECKS: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[Problem]]] = {
    PODS.key: validation.pod_problems,
    SECRETS.key: validation.secret_problems,
    CONFIGMAPS.key: validation.configmap_problems,
    NAMESPACES.key: validation.namespace_problems,
}
_TERMINAL_POD_PHASES = ("Succeeded", "Failed")
# What may change in a Pod's spec after creation (the rest is immutable, as in the API server).
_MUTABLE_POD_SPEC = ("activeDeadlineSeconds", "tolerations", "schedulingGates")


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A stored object and the warnings to send back (``Warning`` headers)."""

    obj: dict[str, Any]
    warnings: tuple[str, ...] = ()


class KubeApi:
    """The API's behaviour over a :class:`Store`; thread-safe.

    ``strict_by_default`` rejects unknown fields unless a request asks for ``fieldValidation=Warn`` or
    ``Ignore`` (the real server's default is Warn; a test double should catch mistakes).
    ``graceful_pods`` is consulted on pod deletion: when it returns True for a pod, the pod only gets a
    deletion timestamp and whoever runs it (the kubelet) removes it once its process ended.
    """

    def __init__(self, store: Store, *, strict_by_default: bool = True) -> None:
        self.store = store
        self.strict_by_default = strict_by_default
        self._types: dict[tuple[str, str], ResourceType] = {t.key: t for t in BUILTIN_TYPES}
        self._types_lock = threading.Lock()
        self._schemas: CoreSchemas | None = None
        self.graceful_pods: Callable[[Mapping[str, Any]], bool] = lambda pod: False
        for name in ("default", "kube-system"):
            self.store.put(NAMESPACES, _namespace(name), event="ADDED")

    # types

    @property
    def schemas(self) -> CoreSchemas:
        """The core schemas (loaded on first use)."""
        if self._schemas is None:
            self._schemas = core_schemas()
        return self._schemas

    def types(self) -> list[ResourceType]:
        """Every served kind."""
        with self._types_lock:
            return list(self._types.values())

    def resource_type(self, group: str, version: str, plural: str) -> ResourceType:
        """The kind served at ``group/version/plural``; 404 if there is none."""
        with self._types_lock:
            rtype = self._types.get((group, plural))
        if rtype is None or version not in rtype.versions:
            where = f"{group}/{version}" if group else version
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource ({where} {plural})"
            )
        return rtype

    def register_crd(self, crd: Mapping[str, Any]) -> ResourceType:
        """Serve the custom resource a CustomResourceDefinition describes (stored as an object too)."""
        self.write("create", CRDS, "v1", "", copy.deepcopy(dict(crd)))
        with self._types_lock:
            return self._types[(crd["spec"]["group"], crd["spec"]["names"]["plural"])]

    def _install_crd(self, crd: Mapping[str, Any]) -> None:
        spec = crd["spec"]
        names = spec["names"]
        versions = [v for v in spec["versions"] if v.get("served", True)]
        versions.sort(key=lambda v: not v.get("storage", False))
        rtype = ResourceType(
            group=spec["group"],
            versions=tuple(v["name"] for v in versions),
            kind=names["kind"],
            plural=names["plural"],
            singular=names.get("singular", names["kind"].lower()),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames", ())),
            status_subresource=any("status" in (v.get("subresources") or {}) for v in versions),
            crd_schemas={v["name"]: (v.get("schema") or {}).get("openAPIV3Schema", {}) for v in versions},
            categories=tuple(names.get("categories", ())),
        )
        with self._types_lock:
            self._types[rtype.key] = rtype

    # reads

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        """One object; 404 if absent."""
        obj = self.store.get(rtype, namespace, name)
        if obj is None:
            raise _not_found(rtype, name)
        if rtype.key == RESOURCE_QUOTAS.key:
            self._fill_quota_status(obj)
        return obj

    def list_objects(
        self, rtype: ResourceType, namespace: str | None, labels: str = "", fields: str = ""
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects and the resource version of the list."""
        items, rv = self.store.list_objects(rtype, namespace, Selector(labels), Selector(fields, fields=True))
        if rtype.key == RESOURCE_QUOTAS.key:
            for item in items:
                self._fill_quota_status(item)
        return items, rv

    def watch(
        self, rtype: ResourceType, namespace: str | None, labels: str, fields: str, resource_version: str
    ) -> Watcher:
        """A watch from ``resource_version`` (empty or ``0``: the current state first, as ADDED events)."""
        since = None
        if resource_version not in ("", "0"):
            try:
                since = int(resource_version)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version {resource_version!r}") from None
        return self.store.watch(rtype, namespace, Selector(labels), Selector(fields, fields=True), since)

    # writes

    def write(
        self,
        verb: str,
        rtype: ResourceType,
        version: str,
        namespace: str,
        body: Any,
        *,
        name: str = "",
        subresource: str = "",
        field_validation: str = "",
        dry_run: bool = False,
    ) -> WriteResult:
        """Create (``verb='create'``) or replace an object, or its status subresource."""
        if not isinstance(body, dict):
            raise ApiError(
                400, "BadRequest", f"the body of the request was in an unknown format: {type(body).__name__}"
            )
        self._check_identity(rtype, version, namespace, body, name)
        with self.store.lock:
            old = None
            if verb != "create":
                old = self.store.get(rtype, namespace, name)
                if old is None:
                    raise _not_found(rtype, name)
            warnings = self._admit(rtype, version, body, field_validation)
            if verb == "create":
                if rtype.namespaced and self.store.get(NAMESPACES, "", namespace) is None:
                    raise ApiError(
                        404,
                        "NotFound",
                        f'namespaces "{namespace}" not found',
                        details={"name": namespace, "kind": "namespaces"},
                    )
                obj = self._prepare_create(rtype, body)
            else:
                assert old is not None
                obj = self._prepare_update(rtype, old, body, subresource)
            self._validate_values(rtype, version, obj)
            if verb == "create" and rtype.key == PODS.key:
                self._check_quota(obj)
            if dry_run:
                return WriteResult(obj, warnings)
            if verb == "create" and self.store.get(rtype, namespace, obj["metadata"]["name"]) is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{rtype.qualified_plural} "{obj["metadata"]["name"]}" already exists',
                    details={"name": obj["metadata"]["name"], "group": rtype.group, "kind": rtype.plural},
                )
            return WriteResult(self._store(rtype, obj, old), warnings)

    def patch(
        self,
        rtype: ResourceType,
        version: str,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        subresource: str = "",
        field_validation: str = "",
        dry_run: bool = False,
    ) -> WriteResult:
        """Apply a merge, strategic merge or JSON patch, then write the result as an update."""
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if current is None:
                raise _not_found(rtype, name)
            if content_type == "application/merge-patch+json":
                patched = merge_patch(current, patch)
            elif content_type == "application/json-patch+json":
                patched = json_patch(current, patch)
            elif content_type == "application/strategic-merge-patch+json":
                if not rtype.core_definition:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        f"the body of the request was in an unknown format - accepted media types include: "
                        f"application/json-patch+json, application/merge-patch+json, "
                        f"application/apply-patch+yaml (strategic merge is not supported for {rtype.qualified_kind})",
                    )
                schema = self.schemas.definition(rtype.core_definition)
                walker = SchemaWalker(self.schemas.definitions, kind=rtype.kind)
                patched = strategic_merge_patch(current, patch, schema, walker.flatten)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"application/json-patch+json, application/merge-patch+json, "
                    f"application/strategic-merge-patch+json (got {content_type or 'none'}; server-side apply "
                    "is not implemented by this test server)",
                )
            if isinstance(patched, dict):
                patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self.write(
                "update",
                rtype,
                version,
                namespace,
                patched,
                name=name,
                subresource=subresource,
                field_validation=field_validation,
                dry_run=dry_run,
            )

    def delete(
        self, rtype: ResourceType, namespace: str, name: str, grace_period: int | None = None
    ) -> dict[str, Any]:
        """Delete an object: at once, or (finalizers, running pods) by setting its deletion timestamp."""
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if current is None:
                raise _not_found(rtype, name)
            metadata = current["metadata"]
            if rtype.key == NAMESPACES.key:
                self._delete_namespace_contents(name)
            graceful = rtype.key == PODS.key and grace_period != 0 and self.graceful_pods(current)
            if metadata.get("finalizers") or graceful:
                if "deletionTimestamp" not in metadata:
                    metadata["deletionTimestamp"] = now_rfc3339()
                    metadata["deletionGracePeriodSeconds"] = grace_period if grace_period is not None else 30
                    return self.store.put(rtype, current, event="MODIFIED")
                return current
            removed = self.store.remove(rtype, namespace, name)
            assert removed is not None
            return removed

    def validate(self, obj: Mapping[str, Any], *, version: str = "") -> dict[str, Any]:
        """Admit ``obj`` as a create would, without storing it: the defaulted object, or the ApiError.

        The kind comes from ``apiVersion`` and ``kind``; namespaces and quotas are not consulted.
        """
        body = copy.deepcopy(dict(obj))
        group, _, api_version = str(body.get("apiVersion", "")).rpartition("/")
        with self._types_lock:
            rtype = next(
                (t for t in self._types.values() if t.group == group and t.kind == body.get("kind")), None
            )
        if rtype is None:
            raise ApiError(
                404,
                "NotFound",
                f"no kind {body.get('kind')!r} is registered for version {body.get('apiVersion')!r}",
            )
        version = version or api_version
        namespace = (
            str((body.get("metadata") or {}).get("namespace") or "default") if rtype.namespaced else ""
        )
        self._check_identity(rtype, version, namespace, body, "")
        self._admit(rtype, version, body, "Strict")
        prepared = self._prepare_create(rtype, body)
        self._validate_values(rtype, version, prepared)
        return prepared

    def finish_deletion(self, rtype: ResourceType, namespace: str, name: str) -> None:
        """Remove an object marked for deletion once nothing (finalizers) holds it any more."""
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if current is not None and not current["metadata"].get("finalizers"):
                self.store.remove(rtype, namespace, name)

    def set_status(
        self, rtype: ResourceType, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Replace an object's status without admission (what controllers and the kubelet do); None if gone."""
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if current is None:
                return None
            current["status"] = copy.deepcopy(dict(status))
            return self.store.put(rtype, current, event="MODIFIED")

    def update_object(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an already admitted object as it is (controllers' spec changes, such as a node binding)."""
        return self.store.put(rtype, obj, event="MODIFIED")

    # steps of a write

    def _check_identity(
        self, rtype: ResourceType, version: str, namespace: str, body: dict[str, Any], name: str
    ) -> None:
        expected = rtype.api_version(version)
        api_version = body.get("apiVersion")
        if api_version and api_version != expected:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected API version ({expected})",
            )
        kind = body.get("kind")
        if kind and kind != rtype.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})",
            )
        body["apiVersion"], body["kind"] = expected, rtype.kind
        metadata = body.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if rtype.namespaced:
            given = metadata.get("namespace")
            if given and given != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            metadata["namespace"] = namespace
        if name and metadata.get("name") and metadata["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        if name:
            metadata["name"] = name

    def _admit(
        self, rtype: ResourceType, version: str, body: dict[str, Any], field_validation: str
    ) -> tuple[str, ...]:
        """Decoding: unknown fields and wrong JSON types (400), pruning unknown fields when not strict."""
        mode = field_validation or ("Strict" if self.strict_by_default else "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise ApiError(
                400,
                "BadRequest",
                f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got {mode!r}',
            )
        problems = self._schema_problems(rtype, version, body, prune=mode != "Strict")
        unknown = [p for p in problems if p.category == validation.UNKNOWN]
        decode = [p for p in problems if p.category == validation.DECODE]
        prefix = f'{rtype.kind} in version "{version}" cannot be handled as a {rtype.kind}'
        if decode:
            raise ApiError(400, "BadRequest", f"{prefix}: {decode[0].message}")
        if unknown and mode == "Strict":
            raise ApiError(
                400,
                "BadRequest",
                f"{prefix}: strict decoding error: " + ", ".join(p.message for p in unknown),
            )
        return tuple(p.message for p in unknown) if mode == "Warn" else ()

    def _schema_problems(
        self, rtype: ResourceType, version: str, body: dict[str, Any], *, prune: bool
    ) -> list[Problem]:
        if rtype.core_definition:
            walker = SchemaWalker(self.schemas.definitions, kind=rtype.kind)
            return walker.check(body, self.schemas.definition(rtype.core_definition), prune=prune)
        if rtype.crd_schemas:
            schema = rtype.crd_schemas.get(version, {})
            definitions = self._definitions_or_empty()
            walker = SchemaWalker(definitions, custom=True, kind=rtype.kind)
            # CRD schemas may constrain only name and generateName; the rest of metadata is ObjectMeta's.
            meta = body.get("metadata") or {}
            body["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
            problems = walker.check(body, schema, prune=prune)
            body["metadata"] = meta
            if definitions:
                meta_schema = {"$ref": "#/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
                problems += _prefixed(
                    "metadata",
                    SchemaWalker(definitions, kind=rtype.kind).check(meta, meta_schema, prune=prune),
                )
            return problems
        return []

    def _definitions_or_empty(self) -> Mapping[str, Any]:
        try:
            return self.schemas.definitions
        except SchemasNotFoundError:
            return {}

    def _validate_values(self, rtype: ResourceType, version: str, obj: dict[str, Any]) -> None:
        problems = [
            p
            for p in self._schema_problems(rtype, version, copy.deepcopy(obj), prune=True)
            if p.category == validation.INVALID
        ]
        check = _EXTRA_CHECKS.get(rtype.key)
        if check is not None:
            found = check(obj)
            decode = [p for p in found if p.category == validation.DECODE]
            if decode:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'{rtype.kind} in version "{version}" cannot be handled as a {rtype.kind}: {decode[0].message}',
                )
            problems += found
        elif not rtype.core_definition:
            problems += validation.metadata_problems(obj.get("metadata") or {}, namespaced=rtype.namespaced)
        if problems:
            name = obj["metadata"].get("name", "")
            described = [p.describe() for p in problems]
            summary = described[0] if len(described) == 1 else "[" + ", ".join(described) + "]"
            raise ApiError(
                422,
                "Invalid",
                f'{rtype.qualified_kind} "{name}" is invalid: {summary}',
                details={
                    "name": name,
                    "group": rtype.group,
                    "kind": rtype.kind,
                    "causes": [
                        {"reason": p.reason, "message": p.message, "field": p.field} for p in problems
                    ],
                },
            )

    def _prepare_create(self, rtype: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        metadata = obj["metadata"]
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation"):
            metadata.pop(key, None)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
        metadata["generation"] = 1
        if rtype.key == PODS.key:
            _default_pod(obj)
        elif rtype.key == NAMESPACES.key:
            obj["spec"] = obj.get("spec") or {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif rtype.key == SECRETS.key:
            _fold_string_data(obj)
            obj.setdefault("type", "Opaque")
        elif rtype.status_subresource:
            obj.pop("status", None)
        return obj

    def _prepare_update(
        self, rtype: ResourceType, old: dict[str, Any], body: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        given_rv = body["metadata"].get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rtype.qualified_plural} "{old["metadata"]["name"]}": the object '
                "has been modified; please apply your changes to the latest version and try again",
                details={"name": old["metadata"]["name"], "group": rtype.group, "kind": rtype.plural},
            )
        if subresource == "status":
            obj = copy.deepcopy(old)
            obj["status"] = copy.deepcopy(body.get("status") or {})
            return obj
        obj = copy.deepcopy(body)
        metadata = obj["metadata"]
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old["metadata"]:
                metadata[key] = old["metadata"][key]
            else:
                metadata.pop(key, None)
        if rtype.status_subresource:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        if rtype.key == PODS.key:
            self._check_pod_spec_change(old, obj)
        if rtype.key == SECRETS.key:
            _fold_string_data(obj)
        if _without(obj, ("metadata", "status")) != _without(old, ("metadata", "status")):
            metadata["generation"] = int(old["metadata"].get("generation", 1)) + 1
        return obj

    def _check_pod_spec_change(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        old_spec, new_spec = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(new.get("spec") or {})
        _default_pod_spec(new_spec)
        for spec in (old_spec, new_spec):
            for key in _MUTABLE_POD_SPEC:
                spec.pop(key, None)
            for container in (*spec.get("containers", ()), *spec.get("initContainers", ())):
                container.pop("image", None)
        if old_spec != new_spec:
            raise ApiError(
                422,
                "Invalid",
                f'Pod "{old["metadata"]["name"]}" is invalid: spec: Forbidden: pod updates may not change fields '
                "other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),`spec.schedulingGates`",
                details={
                    "name": old["metadata"]["name"],
                    "kind": "Pod",
                    "causes": [
                        {
                            "reason": "FieldValueForbidden",
                            "field": "spec",
                            "message": "Forbidden: pod updates may not change fields other than ...",
                        }
                    ],
                },
            )

    def _store(self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        if old is None:
            stored = self.store.put(rtype, obj, event="ADDED")
            if rtype.key == CRDS.key:
                self._install_crd(stored)
            return stored
        if (
            "deletionTimestamp" in obj["metadata"]
            and not obj["metadata"].get("finalizers")
            and not (rtype.key == PODS.key and self.graceful_pods(obj))
        ):
            stored = self.store.put(rtype, obj, event="MODIFIED")
            self.store.remove(rtype, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            return stored
        return self.store.put(rtype, obj, event="MODIFIED")

    def _delete_namespace_contents(self, namespace: str) -> None:
        for rtype in self.types():
            if not rtype.namespaced:
                continue
            items, _ = self.store.list_objects(rtype, namespace)
            for item in items:
                self.store.remove(rtype, namespace, item["metadata"]["name"])

    # quota

    def _check_quota(self, pod: Mapping[str, Any]) -> None:
        namespace = pod["metadata"]["namespace"]
        quotas, _ = self.store.list_objects(RESOURCE_QUOTAS, namespace)
        if not quotas:
            return
        requested = pod_usage(pod)
        used = self._namespace_usage(namespace)
        for quota in quotas:
            hard = _parsed(quota.get("spec", {}).get("hard") or {})
            missing = sorted(r for r in hard if r.startswith(("limits.", "requests.")) and r not in requested)
            if missing:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'pods "{pod["metadata"]["name"]}" is forbidden: failed quota: {quota["metadata"]["name"]}: '
                    f"must specify {','.join(missing)}",
                    details={"name": pod["metadata"]["name"], "kind": "pods"},
                )
            exceeded = sorted(
                r
                for r, limit in hard.items()
                if requested.get(r, Fraction(0)) + used.get(r, Fraction(0)) > limit
            )
            if exceeded:

                def listing(values: Mapping[str, Fraction], names: list[str] = exceeded) -> str:
                    return ",".join(f"{r}={format_quantity(values.get(r, Fraction(0)))}" for r in names)

                raise ApiError(
                    403,
                    "Forbidden",
                    f'pods "{pod["metadata"]["name"]}" is forbidden: exceeded quota: {quota["metadata"]["name"]}, '
                    f"requested: {listing(requested)}, used: {listing(used)}, limited: {listing(hard)}",
                    details={"name": pod["metadata"]["name"], "kind": "pods"},
                )

    def _namespace_usage(self, namespace: str) -> dict[str, Fraction]:
        total: dict[str, Fraction] = {}
        pods, _ = self.store.list_objects(PODS, namespace)
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in _TERMINAL_POD_PHASES:
                continue
            for resource, amount in pod_usage(pod).items():
                total[resource] = total.get(resource, Fraction(0)) + amount
        return total

    def _fill_quota_status(self, quota: dict[str, Any]) -> None:
        hard = quota.get("spec", {}).get("hard") or {}
        used = self._namespace_usage(quota["metadata"]["namespace"])
        quota["status"] = {
            "hard": dict(hard),
            "used": {r: format_quantity(used.get(r, Fraction(0))) for r in hard},
        }


def pod_usage(pod: Mapping[str, Any]) -> dict[str, Fraction]:
    """What a pod counts against a ResourceQuota: pods, and requests and limits per resource."""
    usage: dict[str, Fraction] = {"pods": Fraction(1), "count/pods": Fraction(1)}
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or ():
        resources = container.get("resources") or {}
        for part, prefix in (("requests", "requests."), ("limits", "limits.")):
            for name, raw in (resources.get(part) or {}).items():
                try:
                    value = parse_quantity(raw)
                except QuantityError:
                    continue
                usage[prefix + name] = usage.get(prefix + name, Fraction(0)) + value
                if part == "requests" and name in ("cpu", "memory"):
                    usage[name] = usage.get(name, Fraction(0)) + value
    return usage


def _parsed(hard: Mapping[str, Any]) -> dict[str, Fraction]:
    result = {}
    for name, raw in hard.items():
        try:
            result[name] = parse_quantity(raw)
        except QuantityError:
            continue
    return result


def _not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{rtype.qualified_plural} "{name}" not found',
        details={"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def _prefixed(prefix: str, problems: list[Problem]) -> list[Problem]:
    return [
        Problem(
            p.category,
            f"{prefix}.{p.field}" if p.field else prefix,
            p.reason,
            p.message.replace('unknown field "', f'unknown field "{prefix}.'),
        )
        for p in problems
    ]


def _without(obj: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def _namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "generation": 1},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _fold_string_data(secret: dict[str, Any]) -> None:
    string_data = secret.pop("stringData", None) or {}
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_pod(pod: dict[str, Any]) -> None:
    """The API server's defaults for a new Pod, and its initial status."""
    _default_pod_spec(pod.setdefault("spec", {}))
    pod["status"] = {"phase": "Pending", "qosClass": _qos_class(pod["spec"])}


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    for container in (*spec.get("initContainers", ()), *spec.get("containers", ())):
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest and "@" not in image else "IfNotPresent")
        container.setdefault("resources", {})


def _qos_class(spec: Mapping[str, Any]) -> str:
    containers = list(spec.get("containers") or ())
    requests_seen = limits_seen = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        requests_seen |= bool(requests)
        limits_seen |= bool(limits)
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits.get(name)) != limits.get(name):
                guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
