"""The workflow compiler: checks a flyteidl workflow and builds the CompiledWorkflowClosure the
engine runs.

It follows flytepropeller's compiler: the same checks, the same issue codes, and the same output
shape (``start-node`` and ``end-node`` nodes, connections in both directions, branch cases renamed
``<branch>-<case>``), reporting every issue it finds at once.
"""

from __future__ import annotations

from roost_core.compiler.closure import compile_workflow
from roost_core.compiler.issues import CompileError, CompileIssue, IssueCode
from roost_core.compiler.nodes import END_NODE, START_NODE

__all__ = [
    "END_NODE",
    "START_NODE",
    "CompileError",
    "CompileIssue",
    "IssueCode",
    "compile_workflow",
]
