"""Admission for the test server: objects checked against the real schemas, as the API server does.

Three kinds of problems, reported the way the API server reports them:

* unknown fields (a field the schema does not declare): with ``fieldValidation=Strict`` (this server's
  default, and what ``kubectl --validate=strict`` asks for) a 400 ``BadRequest``
  ``strict decoding error: unknown field "spec.foo"``; with ``Warn`` or ``Ignore`` the field is dropped;
* values of the wrong JSON type: for core types a 400 decoding error (the Go decoder fails), for custom
  resources a 422 ``Invalid`` (``must be of type string``);
* invalid values (required fields missing, enums, bounds, names, quantities): a 422 ``Invalid`` whose
  causes name each field, as ``Pod "x" is invalid: spec.containers[0].image: Required value``.

The schema walker understands what the Kubernetes schemas use: ``$ref``, ``allOf``, ``properties``,
``additionalProperties``, ``required``, ``items``, ``enum``, ``oneOf`` / ``anyOf``, numeric and length
bounds, ``pattern``, ``x-kubernetes-int-or-string``, ``x-kubernetes-preserve-unknown-fields`` and
``x-kubernetes-list-type: map`` (duplicate keys). CEL rules (``x-kubernetes-validations``) are not
evaluated. On top of the schema, :func:`pod_problems` and friends check what the API server's
hand-written validation checks and the schema cannot say (names, label syntax, quantities, requests
within limits, extended resources, volume references, enumerations).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from roost_k8s_pod._quantity import QuantityError, parse_quantity

__all__ = [
    "Problem",
    "SchemaWalker",
    "configmap_problems",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "metadata_problems",
    "namespace_problems",
    "pod_problems",
    "qualified_name_problem",
    "secret_problems",
]

UNKNOWN = "unknown"
DECODE = "decode"
INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an object: its category (unknown, decode, invalid), field path and message."""

    category: str
    field: str
    reason: str
    """The StatusCause reason: ``FieldValueRequired``, ``FieldValueInvalid``, ..."""
    message: str

    def describe(self) -> str:
        """``spec.x: Required value`` as the API server prints it."""
        return f"{self.field}: {self.message}" if self.field else self.message


def required(field: str) -> Problem:
    """A missing required field."""
    return Problem(INVALID, field, "FieldValueRequired", "Required value")


def invalid(field: str, value: Any, detail: str) -> Problem:
    """A value the API server refuses, with its reason."""
    return Problem(INVALID, field, "FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_JSON_TYPES = {
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
    list: "array",
    dict: "object",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


class SchemaWalker:
    """Checks (and, when asked, prunes) a value against an OpenAPI schema with Kubernetes extensions.

    ``definitions`` resolves ``$ref`` by the last segment of the reference. ``custom`` selects the custom
    resource rules: type mismatches are ``Invalid`` there, decoding errors for core types. ``kind`` names
    the Go struct in decoding messages.
    """

    def __init__(self, definitions: Mapping[str, Any], *, custom: bool = False, kind: str = "") -> None:
        self._definitions = definitions
        self._custom = custom
        self._kind = kind

    def check(self, value: Any, schema: Mapping[str, Any], *, prune: bool = False) -> list[Problem]:
        """Every problem with ``value``; with ``prune`` unknown fields are removed from it in place."""
        problems: list[Problem] = []
        self._walk(value, schema, "", problems, prune)
        return problems

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            target = self._definitions[name]
            schema = {**target, **extra} if extra else target
        return schema

    def flatten(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """The schema with ``$ref`` and ``allOf`` folded in (Kubernetes uses allOf as a ref wrapper)."""
        schema = self._resolve(schema)
        if "allOf" not in schema:
            return dict(schema)
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            for key, value in self.flatten(part).items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    def _walk(
        self, value: Any, schema: Mapping[str, Any], path: str, problems: list[Problem], prune: bool
    ) -> None:
        schema = self.flatten(schema)
        if value is None:
            return  # JSON null decodes to the zero value; required-ness is checked by the parent
        if not self._type_ok(value, schema, path, problems):
            return
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                self._alternatives(value, schema[keyword], keyword, path, problems)
        if "enum" in schema and value not in schema["enum"]:
            supported = ", ".join(_show(v) for v in schema["enum"])
            problems.append(
                Problem(
                    INVALID,
                    path,
                    "FieldValueNotSupported",
                    f"Unsupported value: {_show(value)}: supported values: {supported}",
                )
            )
        if isinstance(value, dict):
            self._object(value, schema, path, problems, prune)
        elif isinstance(value, list):
            self._array(value, schema, path, problems, prune)
        else:
            self._scalar(value, schema, path, problems)

    def _type_ok(self, value: Any, schema: Mapping[str, Any], path: str, problems: list[Problem]) -> bool:
        if schema.get("x-kubernetes-int-or-string"):
            expected: list[str] = ["integer", "string"]
        else:
            declared = schema.get("type")
            if declared is None:
                return True
            expected = [declared] if isinstance(declared, str) else [t for t in declared if t != "null"]
        if any(_is_type(value, t) for t in expected):
            fmt = schema.get("format")
            if fmt == "int32" and isinstance(value, int) and not -(2**31) <= value < 2**31:
                problems.append(self._type_problem(value, "int32", path))
                return False
            return True
        problems.append(self._type_problem(value, "/".join(expected), path, schema))
        return False

    def _type_problem(
        self, value: Any, expected: str, path: str, schema: Mapping[str, Any] | None = None
    ) -> Problem:
        if self._custom:
            return Problem(
                INVALID,
                path,
                "FieldValueTypeInvalid",
                f"Invalid value: {_show(_json_type(value))}: {path or 'body'} in body must be of type "
                f"{expected}: {_show(_json_type(value))}",
            )
        go_type = _go_type(schema) if schema is not None else expected
        dotted = re.sub(r"\[[^]]*\]", "", path)
        return Problem(
            DECODE,
            path,
            "FieldValueTypeInvalid",
            f"json: cannot unmarshal {_json_type(value)} into Go struct field {self._kind}.{dotted} of type "
            f"{go_type}",
        )

    def _alternatives(
        self,
        value: Any,
        options: Iterable[Mapping[str, Any]],
        keyword: str,
        path: str,
        problems: list[Problem],
    ) -> None:
        matches = 0
        for option in options:
            scratch: list[Problem] = []
            self._walk(copy.deepcopy(value), option, path, scratch, False)
            if not scratch:
                matches += 1
        if matches == 0 or (keyword == "oneOf" and matches > 1):
            word = "none" if matches == 0 else "more than one"
            problems.append(invalid(path, _json_type(value), f"{word} of the {keyword} alternatives match"))

    def _object(
        self,
        value: dict[str, Any],
        schema: Mapping[str, Any],
        path: str,
        problems: list[Problem],
        prune: bool,
    ) -> None:
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        closed = not preserve and (extra is False or (bool(properties) and extra is None))
        for key in list(value):
            child = f"{path}.{key}" if path else key
            if key in properties:
                self._walk(value[key], properties[key], child, problems, prune)
            elif isinstance(extra, Mapping):
                self._walk(value[key], extra, f"{path}[{key}]" if path else key, problems, prune)
            elif closed:
                problems.append(Problem(UNKNOWN, child, "FieldValueInvalid", f'unknown field "{child}"'))
                if prune:
                    del value[key]
        for name in schema.get("required", ()):
            if value.get(name) is None:
                problems.append(required(f"{path}.{name}" if path else name))
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            problems.append(
                Problem(
                    INVALID,
                    path,
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
                )
            )

    def _array(
        self, value: list[Any], schema: Mapping[str, Any], path: str, problems: list[Problem], prune: bool
    ) -> None:
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                self._walk(item, items, f"{path}[{index}]", problems, prune)
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(
                Problem(
                    INVALID,
                    path,
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(invalid(path, len(value), f"must have at least {schema['minItems']} items"))
        keys = schema.get("x-kubernetes-list-map-keys")
        if schema.get("x-kubernetes-list-type") == "map" and keys:
            seen: set[tuple[Any, ...]] = set()
            for index, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                key = tuple(_hashable(item.get(k)) for k in keys)
                if key in seen:
                    shown = ", ".join(f"{k}: {_show(item.get(k))}" for k in keys)
                    problems.append(
                        Problem(
                            INVALID,
                            f"{path}[{index}]",
                            "FieldValueDuplicate",
                            f"Duplicate value: {{{shown}}}",
                        )
                    )
                seen.add(key)

    def _scalar(self, value: Any, schema: Mapping[str, Any], path: str, problems: list[Problem]) -> None:
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                problems.append(
                    Problem(
                        INVALID,
                        path,
                        "FieldValueTooLong",
                        f"Too long: may not be more than {schema['maxLength']} bytes",
                    )
                )
            if "minLength" in schema and len(value) < schema["minLength"]:
                problems.append(
                    invalid(
                        path, value, f"{path} in body should be at least {schema['minLength']} chars long"
                    )
                )
            if "pattern" in schema and re.search(schema["pattern"], value) is None:
                problems.append(invalid(path, value, f"{path} in body should match '{schema['pattern']}'"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                problems.append(
                    invalid(
                        path, value, f"{path} in body should be greater than or equal to {schema['minimum']}"
                    )
                )
            if "maximum" in schema and value > schema["maximum"]:
                problems.append(
                    invalid(
                        path, value, f"{path} in body should be less than or equal to {schema['maximum']}"
                    )
                )


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _is_type(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "array":
        return isinstance(value, list)
    if json_type == "object":
        return isinstance(value, dict)
    return True


def _go_type(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    fmt = schema.get("format", "")
    if declared == "integer":
        return fmt or "int64"
    if declared == "number":
        return "float64"
    if declared == "boolean":
        return "bool"
    if declared == "array":
        return "[]" + (
            _go_type(schema["items"]) if isinstance(schema.get("items"), Mapping) else "interface {}"
        )
    if declared == "object":
        return "map[string]interface {}" if "additionalProperties" in schema else "struct"
    return str(declared or "interface {}")


# Hand-written validation: what the API server checks beyond the schema.

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_ANNOTATIONS_BYTES = 256 * 1024


def is_dns1123_label(name: str) -> bool:
    """A DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters."""
    return len(name) <= 63 and _DNS1123_LABEL.match(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """A DNS-1123 subdomain: labels joined by '.', at most 253 characters."""
    return len(name) <= 253 and _DNS1123_SUBDOMAIN.match(name) is not None


def _label_problem(field: str, value: str) -> Problem:
    return invalid(
        field,
        value,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    )


def _subdomain_problem(field: str, value: str) -> Problem:
    return invalid(
        field,
        value,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
        r"is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    )


def qualified_name_problem(field: str, key: str) -> Problem | None:
    """The problem with a label or annotation key (``prefix/name``), if any."""
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns1123_subdomain(prefix):
        return invalid(field, key, "prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > 63 or _QUALIFIED_NAME.match(name) is None:
        return invalid(
            field,
            key,
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character, and be at most 63 characters",
        )
    return None


def metadata_problems(
    metadata: Mapping[str, Any], *, namespaced: bool, name_check: Callable[[str], bool] = is_dns1123_subdomain
) -> list[Problem]:
    """ObjectMeta checks: name, namespace, labels and annotations."""
    problems: list[Problem] = []
    name = metadata.get("name") or ""
    if not name and not metadata.get("generateName"):
        problems.append(
            Problem(
                INVALID,
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        )
    elif name and not name_check(name):
        problems.append(
            _label_problem("metadata.name", name)
            if name_check is is_dns1123_label
            else _subdomain_problem("metadata.name", name)
        )
    for key, value in (metadata.get("labels") or {}).items():
        problem = qualified_name_problem("metadata.labels", key)
        if problem is not None:
            problems.append(problem)
        if not isinstance(value, str) or len(value) > 63 or _LABEL_VALUE.match(value) is None:
            problems.append(
                invalid(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character, and be at most 63 characters",
                )
            )
    annotations = metadata.get("annotations") or {}
    size = 0
    for key, value in annotations.items():
        problem = qualified_name_problem("metadata.annotations", key)
        if problem is not None:
            problems.append(problem)
        size += len(key) + len(str(value))
    if size > _MAX_ANNOTATIONS_BYTES:
        problems.append(
            Problem(
                INVALID,
                "metadata.annotations",
                "FieldValueTooLong",
                "Too long: must have at most 262144 bytes",
            )
        )
    return problems


_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_TOLERATION_OPERATORS = ("Exists", "Equal")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NATIVE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "storage", "pods")


def _enum(field: str, value: Any, allowed: Iterable[str], problems: list[Problem]) -> None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        supported = ", ".join(f'"{a}"' for a in allowed)
        problems.append(
            Problem(
                INVALID,
                field,
                "FieldValueNotSupported",
                f"Unsupported value: {_show(value)}: supported values: {supported}",
            )
        )


def _is_extended(resource: str) -> bool:
    if resource in _NATIVE_RESOURCES or resource.startswith("hugepages-"):
        return False
    prefix, _, _ = resource.rpartition("/")
    return bool(prefix) and not prefix.endswith("kubernetes.io")


def _resource_problems(field: str, resources: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    parsed: dict[str, dict[str, Any]] = {}
    for part in ("limits", "requests"):
        parsed[part] = {}
        for name, raw in (resources.get(part) or {}).items():
            try:
                value = parse_quantity(raw)
            except QuantityError as exc:
                problems.append(Problem(DECODE, f"{field}.{part}[{name}]", "FieldValueInvalid", str(exc)))
                continue
            if value < 0:
                problems.append(
                    invalid(f"{field}.{part}[{name}]", str(raw), "must be greater than or equal to 0")
                )
            if _is_extended(name) and value.denominator != 1:
                problems.append(invalid(f"{field}.{part}[{name}]", str(raw), "must be an integer"))
            parsed[part][name] = (value, raw)
    for name, (request, raw) in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if _is_extended(name):
            if limit is None:
                problems.append(required(f"{field}.limits[{name}]"))
            elif request != limit[0]:
                problems.append(
                    invalid(
                        f"{field}.requests[{name}]", str(raw), f"must be equal to {name} limit of {limit[1]}"
                    )
                )
        elif limit is not None and request > limit[0]:
            problems.append(
                invalid(
                    f"{field}.requests[{name}]",
                    str(raw),
                    f"must be less than or equal to {name} limit of {limit[1]}",
                )
            )
    return problems


def _container_problems(field: str, container: Mapping[str, Any], volumes: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    name = container.get("name") or ""
    if name and not is_dns1123_label(name):
        problems.append(_label_problem(f"{field}.name", name))
    if not container.get("image"):
        problems.append(required(f"{field}.image"))
    _enum(f"{field}.imagePullPolicy", container.get("imagePullPolicy"), _PULL_POLICIES, problems)
    _enum(
        f"{field}.terminationMessagePolicy",
        container.get("terminationMessagePolicy"),
        _TERMINATION_MESSAGE_POLICIES,
        problems,
    )
    for index, env in enumerate(container.get("env") or ()):
        env_name = env.get("name", "")
        if not env_name or "=" in env_name or not all(32 < ord(ch) < 127 for ch in env_name):
            problems.append(
                invalid(
                    f"{field}.env[{index}].name",
                    env_name,
                    "a valid environment variable name must consist only of printable ASCII characters other "
                    "than '='",
                )
            )
        if env.get("value") and env.get("valueFrom"):
            problems.append(
                invalid(
                    f"{field}.env[{index}].valueFrom", "", "may not be specified when `value` is not empty"
                )
            )
    for index, mount in enumerate(container.get("volumeMounts") or ()):
        if mount.get("name") not in volumes:
            problems.append(
                Problem(
                    INVALID,
                    f"{field}.volumeMounts[{index}].name",
                    "FieldValueNotFound",
                    f"Not found: {_show(mount.get('name'))}",
                )
            )
        if not mount.get("mountPath"):
            problems.append(required(f"{field}.volumeMounts[{index}].mountPath"))
    problems += _resource_problems(f"{field}.resources", container.get("resources") or {})
    return problems


def pod_spec_problems(spec: Mapping[str, Any], field: str = "spec") -> list[Problem]:
    """PodSpec checks beyond the schema."""
    problems: list[Problem] = []
    containers = spec.get("containers") or []
    if not containers:
        problems.append(required(f"{field}.containers"))
    volumes: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or ()):
        name = volume.get("name", "")
        if not is_dns1123_label(name):
            problems.append(_label_problem(f"{field}.volumes[{index}].name", name))
        volumes.add(name)
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or ()):
            name = container.get("name", "")
            if name in names:
                problems.append(
                    Problem(
                        INVALID,
                        f"{field}.{group}[{index}].name",
                        "FieldValueDuplicate",
                        f"Duplicate value: {_show(name)}",
                    )
                )
            names.add(name)
            problems += _container_problems(f"{field}.{group}[{index}]", container, volumes)
    _enum(f"{field}.restartPolicy", spec.get("restartPolicy"), _RESTART_POLICIES, problems)
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        problems.append(
            invalid(f"{field}.activeDeadlineSeconds", deadline, "must be between 1 and 2147483647")
        )
    account = spec.get("serviceAccountName")
    if account and not is_dns1123_subdomain(account):
        problems.append(_subdomain_problem(f"{field}.serviceAccountName", account))
    for key, value in (spec.get("nodeSelector") or {}).items():
        problem = qualified_name_problem(f"{field}.nodeSelector", key)
        if problem is not None:
            problems.append(problem)
        if len(value) > 63 or _LABEL_VALUE.match(value) is None:
            problems.append(
                invalid(
                    f"{field}.nodeSelector",
                    value,
                    "a valid label must be an empty string or "
                    "consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
    for index, toleration in enumerate(spec.get("tolerations") or ()):
        where = f"{field}.tolerations[{index}]"
        _enum(f"{where}.operator", toleration.get("operator"), _TOLERATION_OPERATORS, problems)
        _enum(f"{where}.effect", toleration.get("effect") or None, _TAINT_EFFECTS, problems)
        if toleration.get("operator") == "Exists" and toleration.get("value"):
            problems.append(
                invalid(
                    f"{where}.operator",
                    toleration.get("value"),
                    "value must be empty when `operator` is 'Exists'",
                )
            )
    return problems


def pod_problems(pod: Mapping[str, Any]) -> list[Problem]:
    """Pod checks beyond the schema: metadata and spec."""
    problems = metadata_problems(pod.get("metadata") or {}, namespaced=True)
    return problems + pod_spec_problems(pod.get("spec") or {})


def namespace_problems(namespace: Mapping[str, Any]) -> list[Problem]:
    """Namespace names are DNS-1123 labels."""
    return metadata_problems(namespace.get("metadata") or {}, namespaced=False, name_check=is_dns1123_label)


def _data_keys(field: str, data: Mapping[str, Any]) -> list[Problem]:
    return [
        invalid(
            f"{field}[{key}]",
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        )
        for key in data
        if _CONFIG_KEY.match(key) is None
    ]


def secret_problems(secret: Mapping[str, Any]) -> list[Problem]:
    """Secret checks: keys, and ``data`` values must be base64."""
    problems = metadata_problems(secret.get("metadata") or {}, namespaced=True)
    data = secret.get("data") or {}
    problems += _data_keys("data", data)
    problems += _data_keys("stringData", secret.get("stringData") or {})
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            problems.append(
                Problem(DECODE, f"data[{key}]", "FieldValueInvalid", "illegal base64 data at input byte 0")
            )
    return problems


def configmap_problems(configmap: Mapping[str, Any]) -> list[Problem]:
    """ConfigMap checks: keys."""
    problems = metadata_problems(configmap.get("metadata") or {}, namespaced=True)
    return problems + _data_keys("data", configmap.get("data") or {})
