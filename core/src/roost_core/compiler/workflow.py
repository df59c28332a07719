"""Compiling one workflow template: its nodes, their bindings, its outputs, and its graph."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from flyteidl.core import compiler_pb2, interface_pb2, literals_pb2, types_pb2, workflow_pb2

from roost_core.compiler.bindings import BindingChecker, Missing, Outputs
from roost_core.compiler.branches import check_conditions
from roost_core.compiler.graph import Graph, build_graph, find_cycles, unreachable
from roost_core.compiler.interfaces import (
    NodeInterface,
    required_inputs,
    types_of,
    variable_problems,
)
from roost_core.compiler.issues import IssueCode
from roost_core.compiler.nodes import END_NODE, START_NODE, NodeRecord, Resolution
from roost_core.compiler.targets import resolve_target

if TYPE_CHECKING:
    from roost_core.compiler.closure import Session


class WorkflowCompiler:
    """Compiles one workflow into ``target``, a CompiledWorkflow it fills in place.

    The template is copied into ``target`` first and every rewrite (promise node ids, branch case
    ids, ``upstream_node_ids``, the start and end nodes) happens on that copy.
    """

    def __init__(
        self,
        session: Session,
        template: workflow_pb2.WorkflowTemplate,
        target: compiler_pb2.CompiledWorkflow,
    ) -> None:
        self.session = session
        self.target = target
        target.template.CopyFrom(template)
        self.template: workflow_pb2.WorkflowTemplate = target.template
        self.name: str = template.id.name or "<unnamed>"
        self.records: dict[str, NodeRecord] = {}
        self.inputs: dict[str, types_pb2.LiteralType] = {}
        self.bindings = BindingChecker(self._outputs_of)

    def report(self, code: IssueCode, record: NodeRecord | None, message: str) -> None:
        """Record an issue at ``record`` (None: the workflow itself)."""
        self.session.log.add(self.name, code, record.node_id if record is not None else "", message)

    def compile(self) -> None:
        """Check the workflow, reporting issues to the session's log; fill ``target`` if none."""
        issues_before = len(self.session.log.issues)
        if not self.template.HasField("id") or not self.template.id.name:
            self.report(IssueCode.VALUE_REQUIRED, None, "the workflow template has no id")
        interface = self.template.interface
        self._check_variables(interface.inputs.variables, "input")
        self._check_variables(interface.outputs.variables, "output")
        self.inputs = types_of(interface.inputs.variables)
        if not self.template.nodes:
            self.report(IssueCode.NO_NODES_FOUND, None, "the workflow has no nodes")
            return
        order = self._index_nodes()
        for record in order:
            self.resolve(record)
        for record in order:
            self._check_record(record)
            self._check_explicit_upstream(record)
        if self.template.HasField("failure_node"):
            self._check_failure_node(self.template.failure_node)
        output_sources = self._check_outputs()
        node_ids = [record.node_id for record in order]
        graph = build_graph(node_ids, {r.node_id: r.upstream for r in order}, output_sources)
        self._check_graph(graph, node_ids)
        if len(self.session.log.issues) == issues_before:
            self._write_output(graph, order)

    # ---------------------------------------------------------------------------------------------
    # Nodes and their interfaces

    def _check_variables(self, variables: Mapping[str, interface_pb2.Variable], noun: str) -> None:
        for name, problem in variable_problems(variables):
            if problem == "missing":
                self.report(IssueCode.VALUE_REQUIRED, None, f"{noun} '{name}' has no type")
            else:
                self.report(
                    IssueCode.INVALID_LITERAL_TYPE,
                    None,
                    f"{noun} '{name}' has an empty or unknown literal type",
                )

    def _index_nodes(self) -> list[NodeRecord]:
        order: list[NodeRecord] = []
        duplicates: set[str] = set()
        for position, node in enumerate(self.template.nodes, start=1):
            node_id = node.id
            if not node_id:
                self.report(IssueCode.VALUE_REQUIRED, None, f"node #{position} has no id")
                continue
            if node_id in (START_NODE, END_NODE):
                self.report(
                    IssueCode.DUPLICATE_ID,
                    NodeRecord(node, node_id),
                    f"node id '{node_id}' is reserved for the node the compiler adds",
                )
                continue
            if node_id in self.records:
                if node_id not in duplicates:
                    duplicates.add(node_id)
                    self.report(
                        IssueCode.DUPLICATE_ID,
                        self.records[node_id],
                        f"node id '{node_id}' is used by more than one node",
                    )
                continue
            record = NodeRecord(node, node_id)
            self.records[node_id] = record
            order.append(record)
        return order

    def resolve(self, record: NodeRecord) -> None:
        """Work out the node's interface and effective outputs (once)."""
        if record.resolution is not Resolution.PENDING:
            return
        record.resolution = Resolution.RUNNING
        interface = resolve_target(self, record)
        record.interface = interface
        if interface is not None:
            record.outputs = self._aliased_outputs(record, interface)
        record.resolution = Resolution.DONE

    def _aliased_outputs(
        self, record: NodeRecord, interface: NodeInterface
    ) -> Mapping[str, types_pb2.LiteralType]:
        if not record.node.output_aliases:
            return interface.outputs
        outputs = dict(interface.outputs)
        for alias in record.node.output_aliases:
            if alias.var not in interface.outputs:
                self.report(
                    IssueCode.VARIABLE_NAME_NOT_FOUND,
                    record,
                    f"{record.label} aliases output '{alias.var}', which it does not have",
                )
                continue
            outputs.pop(alias.var, None)
            outputs[alias.alias] = interface.outputs[alias.var]
        return outputs

    def _outputs_of(self, node_id: str) -> Outputs | Missing | None:
        if node_id == START_NODE:
            return self.inputs
        record = self.records.get(node_id)
        if record is None:
            return Missing.NODE
        if record.resolution is Resolution.PENDING:
            # Approve gates read their upstream's outputs while being resolved themselves.
            self.resolve(record)
        return record.outputs

    # ---------------------------------------------------------------------------------------------
    # Bindings and edges

    def _check_record(self, record: NodeRecord) -> set[str]:
        """Check the node's bindings (and a branch's cases and conditions); its upstream nodes."""
        interface = record.interface or NodeInterface("its target", None, {})
        result = self.bindings.check(
            record.node.inputs,
            interface,
            subject=record.label,
            noun="input",
            report=lambda code, message: self.report(code, record, message),
        )
        upstream = result.upstream
        for case in record.cases:
            upstream |= self._check_record(case)
        if record.target == "branch_node":
            check_conditions(self, record, result.types)
        if record.sub_node is not None:
            _name_workflow_inputs(record.sub_node.node.inputs)
        record.upstream = upstream
        return upstream

    def _check_explicit_upstream(self, record: NodeRecord) -> None:
        for upstream_id in record.node.upstream_node_ids:
            if upstream_id == START_NODE or upstream_id in self.records:
                record.upstream.add(upstream_id)
            else:
                self.report(
                    IssueCode.NODE_REFERENCE_NOT_FOUND,
                    record,
                    f"{record.label} lists upstream node '{upstream_id}', which does not exist",
                )

    def _check_failure_node(self, node: workflow_pb2.Node) -> None:
        """The failure node runs outside the graph, but its target and bindings must be sound."""
        node_id = node.id or "failure-node"
        record = NodeRecord(node, node_id, display=f"failure node '{node_id}'")
        self.resolve(record)
        self._check_record(record)

    def _check_outputs(self) -> set[str]:
        outputs = types_of(self.template.interface.outputs.variables)
        interface = NodeInterface("its interface", outputs, {}, required_inputs(outputs))
        end = NodeRecord(workflow_pb2.Node(id=END_NODE), END_NODE)
        result = self.bindings.check(
            self.template.outputs,
            interface,
            subject="",
            noun="output",
            report=lambda code, message: self.report(code, end, message),
        )
        return result.upstream

    def _check_graph(self, graph: Graph, node_ids: list[str]) -> None:
        cycles = find_cycles(graph, node_ids)
        on_cycles: set[str] = set()
        for cycle in cycles:
            on_cycles.update(cycle)
            self.report(
                IssueCode.CYCLE_DETECTED,
                self.records.get(cycle[0]),
                f"cycle detected: {' -> '.join(cycle)}",
            )
        lost = [node_id for node_id in unreachable(graph, node_ids) if node_id not in on_cycles]
        if lost:
            self.report(
                IssueCode.UNREACHABLE_NODES,
                None,
                f"nodes not reachable from {START_NODE}: {', '.join(lost)}",
            )

    # ---------------------------------------------------------------------------------------------
    # Output

    def _write_output(self, graph: Graph, order: list[NodeRecord]) -> None:
        for record in order:
            upstream_ids = record.node.upstream_node_ids
            del upstream_ids[:]
            upstream_ids.extend(sorted(graph.upstream[record.node_id] - {START_NODE}))
        end = workflow_pb2.Node(
            id=END_NODE,
            inputs=self.template.outputs,
            upstream_node_ids=sorted(graph.upstream[END_NODE] - {START_NODE}),
        )
        self.template.nodes.insert(0, end)
        self.template.nodes.insert(0, workflow_pb2.Node(id=START_NODE))
        graph.fill(self.target.connections)


def _name_workflow_inputs(bindings: Iterable[literals_pb2.Binding]) -> None:
    """Point promises with an empty node id at ``start-node``, in bindings that are not checked."""
    for binding in bindings:
        _name_in_data(binding.binding)


def _name_in_data(data: literals_pb2.BindingData) -> None:
    kind = data.WhichOneof("value")
    if kind == "promise":
        if not data.promise.node_id:
            data.promise.node_id = START_NODE
    elif kind == "collection":
        for item in data.collection.bindings:
            _name_in_data(item)
    elif kind == "map":
        for item in data.map.bindings.values():
            _name_in_data(item)
