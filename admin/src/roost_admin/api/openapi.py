"""The OpenAPI 3 document of the HTTP/JSON API, made from the same bindings the gateway serves and from the
flyteidl messages' descriptors (field names as in the ``.proto``, protobuf's JSON mapping for their types), so it
describes exactly what is served."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from roost_admin.api.bindings import Binding, bindings
from roost_admin.api.live import PATH as LIVE_PATH

_STATUS = "googleRpcStatus"
_SCALARS: dict[int, dict[str, str]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64"},
    # 64-bit integers are strings in protobuf's JSON mapping
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "uint64"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "3.5s"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": {}},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": {},
    },
    **{
        f"google.protobuf.{name}Value": schema
        for name, schema in (
            ("String", {"type": "string"}),
            ("Bytes", {"type": "string", "format": "byte"}),
            ("Bool", {"type": "boolean"}),
            ("Double", {"type": "number"}),
            ("Float", {"type": "number"}),
            ("Int32", {"type": "integer"}),
            ("UInt32", {"type": "integer"}),
            ("Int64", {"type": "string", "format": "int64"}),
            ("UInt64", {"type": "string", "format": "uint64"}),
        )
    },
}


class _Schemas:
    """Component schemas of every message and enum reachable from the routes."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def message(self, descriptor: Descriptor) -> dict[str, Any]:
        known = _WELL_KNOWN.get(descriptor.full_name)
        if known is not None:
            return dict(known)
        name = descriptor.full_name
        if name not in self.components:
            self.components[name] = {}  # placed first: recursive messages (Literal) refer to themselves
            self.components[name] = {
                "type": "object",
                "properties": {field.name: self.field(field) for field in descriptor.fields},
            }
        return {"$ref": f"#/components/schemas/{name}"}

    def enum(self, descriptor: EnumDescriptor) -> dict[str, Any]:
        name = descriptor.full_name
        self.components.setdefault(
            name, {"type": "string", "enum": [value.name for value in descriptor.values]}
        )
        return {"$ref": f"#/components/schemas/{name}"}

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self.field(message.fields_by_name["value"])}
        if message is not None:
            single = self.message(message)
        elif field.enum_type is not None:
            single = self.enum(field.enum_type)
        else:
            single = dict(_SCALARS[field.type])
        if field.is_repeated:
            return {"type": "array", "items": single}
        return single


def _query_parameters(
    descriptor: Descriptor, schemas: _Schemas, skip: set[str], prefix: str = "", depth: int = 0
) -> list[dict[str, Any]]:
    """The query parameters of a route without a body: the request's fields outside the path, as dotted paths."""
    found: list[dict[str, Any]] = []
    for field in descriptor.fields:
        path = prefix + field.name
        if path in skip:
            continue
        message = field.message_type
        leaf = message is None or message.full_name in _WELL_KNOWN
        if leaf and not (message is not None and message.GetOptions().map_entry):
            found.append({"name": path, "in": "query", "required": False, "schema": schemas.field(field)})
        elif message is not None and depth < 3 and not field.is_repeated:
            found.extend(_query_parameters(message, schemas, skip, path + ".", depth + 1))
    return found


_ERROR_RESPONSE = {
    "description": "an error, as grpc-gateway answers it",
    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{_STATUS}"}}},
}
"""Every operation's answer to a failure."""


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _operation(binding: Binding, schemas: _Schemas, operation_id: str) -> dict[str, Any]:
    method = binding.method
    parameters: list[dict[str, Any]] = [_path_parameter(name) for name in binding.variables]
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [method.containing_service.name],
        "summary": f"{method.containing_service.name}.{method.name}",
        "responses": {
            "200": {
                "description": f"a {method.output_type.full_name}",
                "content": {"application/json": {"schema": schemas.message(method.output_type)}},
            },
            "default": _ERROR_RESPONSE,
        },
    }
    if binding.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.message(method.input_type)}},
        }
    else:
        parameters.extend(_query_parameters(method.input_type, schemas, set(binding.variables)))
    operation["parameters"] = parameters
    return operation


def document(version: str) -> dict[str, Any]:
    """The OpenAPI document of every route, the live stream's included."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for binding in bindings():
        operation_id = binding.method.name
        while operation_id in used:  # an additional binding of the same RPC
            operation_id += "2"
        used.add(operation_id)
        paths.setdefault(binding.template, {})[binding.verb.lower()] = _operation(
            binding, schemas, operation_id
        )
    paths[LIVE_PATH] = {
        "get": {
            "operationId": "WatchExecution",
            "tags": ["Roost"],
            "summary": "Phase changes of an execution and its nodes, as server-sent events",
            "parameters": [_path_parameter(name) for name in ("project", "domain", "name")],
            "responses": {
                "200": {
                    "description": "events named execution, node and end, each with JSON data",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "default": _ERROR_RESPONSE,
            },
        }
    }
    schemas.components[_STATUS] = {
        "type": "object",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Roost admin",
            "version": version,
            "description": "flyteadmin's HTTP/JSON API (flyteidl's AdminService, SignalService and "
            "DataProxyService), served by Roost.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
