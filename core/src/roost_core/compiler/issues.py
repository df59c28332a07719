"""What the compiler reports: issue codes (Flyte's strings), issues, and the error carrying them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from roost_core.errors import RoostError


class IssueCode(enum.StrEnum):
    """Codes of compile issues: each value is the string flytepropeller uses for that problem."""

    CYCLE_DETECTED = "CycleDetected"
    UNREACHABLE_NODES = "UnreachableNodes"
    TASK_REFERENCE_NOT_FOUND = "TaskReferenceNotFound"
    WORKFLOW_REFERENCE_NOT_FOUND = "WorkflowReferenceNotFound"
    PARAMETER_NOT_BOUND = "ParameterNotBound"
    PARAMETER_BOUND_MORE_THAN_ONCE = "ParameterBoundMoreThanOnce"
    NODE_REFERENCE_NOT_FOUND = "NodeReferenceNotFound"
    VARIABLE_NAME_NOT_FOUND = "VariableNameNotFound"
    FIELD_NOT_FOUND = "FieldNotFound"
    DUPLICATE_ID = "DuplicateId"
    MISMATCHING_TYPES = "MismatchingTypes"
    MISMATCHING_BINDINGS = "MismatchingBindings"
    MISMATCHING_INTERFACES = "MismatchingInterfaces"
    BRANCH_NODE_HAS_NO_DEFAULT = "BranchNodeHasNoDefault"
    BRANCH_NODE_HAS_NO_CONDITION = "BranchNodeHasNoCondition"
    BRANCH_NODE_ID_NOT_FOUND = "BranchNodeIdNotFound"
    VALUE_REQUIRED = "ValueRequired"
    INVALID_VALUE = "InvalidValue"
    UNRECOGNIZED_VALUE = "UnrecognizedValue"
    NO_NODES_FOUND = "NoNodesFound"
    NO_CONDITION_FOUND = "NoConditionFound"
    ILLEGAL_ENUM_VALUE = "IllegalEnumValue"
    AMBIGUOUS_BINDING_UNION_VALUE = "AmbiguousBindingUnionValue"
    INCOMPATIBLE_BINDING_UNION_VALUE = "IncompatibleBindingUnionValue"
    INVALID_LITERAL_TYPE = "InvalidLiteralType"


@dataclass(frozen=True, slots=True)
class CompileIssue:
    """One problem found in a workflow: its code, the node at fault (empty for the workflow
    itself) and a message naming the workflow, node and variable."""

    code: str
    node_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class CompileError(RoostError):
    """A workflow did not compile: ``errors`` holds every issue, ``str()`` lists them one a line."""

    def __init__(self, errors: Iterable[CompileIssue]) -> None:
        self.errors: list[CompileIssue] = list(errors)
        super().__init__("\n".join(str(issue) for issue in self.errors))


class IssueLog:
    """Collects a compile's issues, each message prefixed with the workflow it was found in."""

    def __init__(self) -> None:
        self.issues: list[CompileIssue] = []

    def add(self, workflow: str, code: IssueCode, node_id: str, message: str) -> None:
        """Record an issue found in ``workflow`` (its name) at ``node_id``."""
        self.issues.append(CompileIssue(code.value, node_id, f"workflow '{workflow}': {message}"))

    def add_plain(self, code: IssueCode, node_id: str, message: str) -> None:
        """Record an issue that belongs to no workflow (a malformed task passed in, say)."""
        self.issues.append(CompileIssue(code.value, node_id, message))
