"""Matchable attributes from the client's side: attribute documents (YAML, in the spirit of flytectl's
attribute files) and the requests of the project, project-domain and workflow attribute RPCs.

A document holds the scope (``project``, ``domain``, ``workflow``; options given on the command line win) and
the fields of its kind's message under their protobuf names, e.g. for ``task-resource``::

    project: flytesnacks
    domain: development
    defaults: {cpu: 500m, memory: 1Gi}
    limits: {cpu: "2", memory: 4Gi}

A key the kind's message does not have is an error naming it and the keys it could be; values are checked
by the admin (an invalid quantity is its INVALID_ARGUMENT naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_attributes_pb2 as pa
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.admin import workflow_attributes_pb2 as wa
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

KINDS: dict[str, tuple[int, str]] = {
    "task-resource": (mr.TASK_RESOURCE, "task_resource_attributes"),
    "cluster-resource": (mr.CLUSTER_RESOURCE, "cluster_resource_attributes"),
    "execution-queue": (mr.EXECUTION_QUEUE, "execution_queue_attributes"),
    "execution-cluster-label": (mr.EXECUTION_CLUSTER_LABEL, "execution_cluster_label"),
    "quality-of-service": (mr.QUALITY_OF_SERVICE_SPECIFICATION, "quality_of_service"),
    "plugin-override": (mr.PLUGIN_OVERRIDE, "plugin_overrides"),
    "workflow-execution-config": (mr.WORKFLOW_EXECUTION_CONFIG, "workflow_execution_config"),
    "cluster-assignment": (mr.CLUSTER_ASSIGNMENT, "cluster_assignment"),
}
"""The CLI's name of each kind → its ``MatchableResource`` and ``MatchingAttributes`` field."""

SCOPE_KEYS = ("project", "domain", "workflow")


class AttributeDocumentError(ValueError):
    """A document that does not describe an attribute of its kind."""


@dataclass(frozen=True)
class AttributeScope:
    """A project (no domain), a project and domain, or a workflow in one."""

    project: str
    domain: str = ""
    workflow: str = ""

    def describe(self) -> str:
        """``project 'p'``, ``project 'p' domain 'd'``, ``workflow 'w' in project 'p' domain 'd'``."""
        if self.workflow:
            return f"workflow '{self.workflow}' in project '{self.project}' domain '{self.domain}'"
        if self.domain:
            return f"project '{self.project}' domain '{self.domain}'"
        return f"project '{self.project}'"


def kind_of(name: str) -> tuple[int, str]:
    """The ``MatchableResource`` and field of a kind's CLI name."""
    try:
        return KINDS[name]
    except KeyError:
        raise AttributeDocumentError(f"unknown attribute kind {name!r}; known: {', '.join(KINDS)}") from None


def parse_document(document: Any, kind: str, source: str) -> tuple[dict[str, str], mr.MatchingAttributes]:
    """The scope keys a document gives and the attribute it describes; ``source`` names it in messages."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise AttributeDocumentError(f"{source}: expected a mapping of keys, got {type(document).__name__}")
    _, field_name = kind_of(kind)
    scope = {key: document[key] for key in SCOPE_KEYS if key in document}
    for key, value in scope.items():
        if not isinstance(value, str):
            raise AttributeDocumentError(f"{source}: {key} must be a string, got {value!r}")
    body = {key: value for key, value in document.items() if key not in SCOPE_KEYS}
    target = mr.MatchingAttributes.DESCRIPTOR.fields_by_name[field_name].message_type
    _check_keys(body, target, source, "", extra=SCOPE_KEYS)
    attributes = mr.MatchingAttributes()
    try:
        json_format.ParseDict(body, getattr(attributes, field_name))
    except json_format.ParseError as exc:
        raise AttributeDocumentError(f"{source}: {exc}") from None
    # An empty message is still this kind (the admin is told which kind, not nothing).
    getattr(attributes, field_name).SetInParent()
    return scope, attributes


def _check_keys(
    value: Any, descriptor: Descriptor, source: str, path: str, extra: tuple[str, ...] = ()
) -> None:
    """Every key of ``value`` is a field of ``descriptor`` (by its protobuf or JSON name), recursively."""
    if not isinstance(value, dict):
        return
    if descriptor.GetOptions().map_entry or descriptor.full_name.startswith("google.protobuf."):
        return
    fields = {f.name: f for f in descriptor.fields} | {f.json_name: f for f in descriptor.fields}
    for key, item in value.items():
        field = fields.get(key)
        where = f"{path}.{key}" if path else str(key)
        if field is None:
            known = ", ".join([*extra, *(f.name for f in descriptor.fields)])
            raise AttributeDocumentError(f"{source}: unknown key '{where}'; known keys here: {known}")
        message = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or message is None or message.GetOptions().map_entry:
            continue
        # A list given for a single message is ParseDict's error; its items are checked like a repeated field's.
        items = item if isinstance(item, list) else [item]
        for index, element in enumerate(items):
            at = f"{where}[{index}]" if isinstance(item, list) else where
            _check_keys(element, message, source, at)


def document_of(scope: AttributeScope, attributes: mr.MatchingAttributes) -> dict[str, Any]:
    """The document of a stored attribute (what ``roost get attributes`` prints or writes)."""
    target = attributes.WhichOneof("target")
    body = (
        json_format.MessageToDict(getattr(attributes, target), preserving_proto_field_name=True)
        if target
        else {}
    )
    head: dict[str, Any] = {"project": scope.project}
    if scope.domain:
        head["domain"] = scope.domain
    if scope.workflow:
        head["workflow"] = scope.workflow
    return {**head, **body}


def update_request(scope: AttributeScope, attributes: mr.MatchingAttributes) -> tuple[str, Any]:
    """The RPC name and request setting ``attributes`` at ``scope``."""
    if scope.workflow:
        return "UpdateWorkflowAttributes", wa.WorkflowAttributesUpdateRequest(
            attributes=wa.WorkflowAttributes(
                project=scope.project,
                domain=scope.domain,
                workflow=scope.workflow,
                matching_attributes=attributes,
            )
        )
    if scope.domain:
        return "UpdateProjectDomainAttributes", pda.ProjectDomainAttributesUpdateRequest(
            attributes=pda.ProjectDomainAttributes(
                project=scope.project, domain=scope.domain, matching_attributes=attributes
            )
        )
    return "UpdateProjectAttributes", pa.ProjectAttributesUpdateRequest(
        attributes=pa.ProjectAttributes(project=scope.project, matching_attributes=attributes)
    )


def get_request(scope: AttributeScope, kind: int, action: str = "Get") -> tuple[str, Any]:
    """The RPC name and request reading (``action`` ``Get``) or removing (``Delete``) the attribute of
    ``kind`` at ``scope``."""
    if scope.workflow:
        message = wa.WorkflowAttributesGetRequest if action == "Get" else wa.WorkflowAttributesDeleteRequest
        request = message(
            project=scope.project, domain=scope.domain, workflow=scope.workflow, resource_type=kind
        )
        return f"{action}WorkflowAttributes", request
    if scope.domain:
        message = (
            pda.ProjectDomainAttributesGetRequest
            if action == "Get"
            else pda.ProjectDomainAttributesDeleteRequest
        )
        return f"{action}ProjectDomainAttributes", message(
            project=scope.project, domain=scope.domain, resource_type=kind
        )
    message = pa.ProjectAttributesGetRequest if action == "Get" else pa.ProjectAttributesDeleteRequest
    return f"{action}ProjectAttributes", message(project=scope.project, resource_type=kind)
