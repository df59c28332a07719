"""The execution page's pictures, drawn on the server as SVG: the workflow graph (nodes in layers by their
longest path from the start, left to right, each coloured by its phase and linking to its node panel) and the
timeline of node durations. Phases are classes (``phase-RUNNING``) the stylesheet colours and the live script
changes."""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from flyteidl.core import compiler_pb2, workflow_pb2

NODE_WIDTH = 168
NODE_HEIGHT = 44
COLUMN_GAP = 64
ROW_GAP = 20
_MARGIN = 8


@dataclass(frozen=True)
class GraphNode:
    """One node of the drawn graph."""

    node_id: str
    label: str
    kind: str
    """``task``, ``workflow`` (a sub-workflow or a launch plan), ``branch``, ``gate``, ``array``, or ``start``/``end``."""
    column: int
    row: int


def _kind(node: workflow_pb2.Node) -> str:
    node_id = str(node.id)
    if node_id in ("start-node", "end-node"):
        return node_id.removesuffix("-node")
    target = node.WhichOneof("target")
    return {
        "task_node": "task",
        "workflow_node": "workflow",
        "branch_node": "branch",
        "gate_node": "gate",
        "array_node": "array",
    }.get(target or "", "task")


def _label(node: workflow_pb2.Node) -> str:
    node_id = str(node.id)
    if node_id in ("start-node", "end-node"):
        return node_id.removesuffix("-node")
    name = str(node.metadata.name or node_id)
    return name.rsplit(".", 1)[-1]


def layout(workflow: compiler_pb2.CompiledWorkflow) -> tuple[list[GraphNode], list[tuple[str, str]]]:
    """The nodes of ``workflow`` placed in columns (longest path from a source) and the edges between them."""
    template = workflow.template
    nodes = {node.id: node for node in template.nodes}
    for special in ("start-node", "end-node"):
        nodes.setdefault(special, workflow_pb2.Node(id=special))
    edges = [
        (source, target)
        for source, targets in workflow.connections.downstream.items()
        for target in targets.ids
        if source in nodes and target in nodes
    ]
    column = _columns(nodes, edges)
    rows: dict[int, int] = {}
    placed: list[GraphNode] = []
    order = {node_id: index for index, node_id in enumerate(nodes)}
    for node_id in sorted(nodes, key=lambda n: (column[n], order[n])):
        row = rows.get(column[node_id], 0)
        rows[column[node_id]] = row + 1
        node = nodes[node_id]
        placed.append(GraphNode(node_id, _label(node), _kind(node), column[node_id], row))
    return placed, edges


def _columns(nodes: Mapping[str, object], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the length of the longest path to it from a node without inputs (Kahn's order, so
    graphs of any depth are laid out without recursion). Nodes on a cycle (compiled workflows have none) go
    after everything else."""
    downstream: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    waiting = dict.fromkeys(nodes, 0)
    for source, target in edges:
        downstream[source].append(target)
        waiting[target] += 1
    column = dict.fromkeys(nodes, 0)
    ready = deque(node_id for node_id, count in waiting.items() if count == 0)
    done: set[str] = set()
    while ready:
        node_id = ready.popleft()
        done.add(node_id)
        for target in downstream[node_id]:
            column[target] = max(column[target], column[node_id] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    last = max(column.values(), default=0)
    for node_id in nodes:
        if node_id not in done:
            column[node_id] = last + 1
    return column


def _position(node: GraphNode) -> tuple[int, int]:
    return (
        _MARGIN + node.column * (NODE_WIDTH + COLUMN_GAP),
        _MARGIN + node.row * (NODE_HEIGHT + ROW_GAP),
    )


def graph_svg(
    workflow: compiler_pb2.CompiledWorkflow, phases: Mapping[str, str], link: str, selected: str = ""
) -> str:
    """The graph as an SVG element; each node links to ``link`` with its id (``?node=``) and carries its phase
    (``phases``: node id to phase name; nodes not run yet are ``phase-UNDEFINED``)."""
    nodes, edges = layout(workflow)
    where = {node.node_id: _position(node) for node in nodes}
    width = max(x for x, _ in where.values()) + NODE_WIDTH + _MARGIN
    height = max(y for _, y in where.values()) + NODE_HEIGHT + _MARGIN
    parts = [
        f'<svg class="graph" role="img" aria-label="workflow graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrow"/></marker></defs>',
    ]
    for source, target in edges:
        x1, y1 = where[source]
        x2, y2 = where[target]
        x1, y1, y2 = x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2, y2 + NODE_HEIGHT // 2
        middle = (x1 + x2) // 2
        parts.append(
            f'<path class="edge" d="M {x1} {y1} C {middle} {y1}, {middle} {y2}, {x2} {y2}" marker-end="url(#arrow)"/>'
        )
    for node in nodes:
        x, y = where[node.node_id]
        phase = phases.get(node.node_id, "UNDEFINED")
        chosen = " selected" if node.node_id == selected else ""
        title = f"{node.node_id} ({node.kind}): {phase}"
        parts.append(
            f'<a href="{escape(link)}?node={escape(node.node_id)}" class="node-link" '
            f'aria-label="{escape(title)}" data-node="{escape(node.node_id)}">'
            f'<rect class="node kind-{node.kind} phase-{phase}{chosen}" x="{x}" y="{y}" rx="6" '
            f'width="{NODE_WIDTH}" height="{NODE_HEIGHT}"><title>{escape(title)}</title></rect>'
            f'<text x="{x + 10}" y="{y + 18}" class="label">{escape(node.label[:22])}</text>'
            f'<text x="{x + 10}" y="{y + 34}" class="sub" data-phase-text="{escape(node.node_id)}">'
            f"{escape(node.node_id)} · {escape(phase.lower())}</text></a>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Bar:
    """One row of the timeline."""

    node_id: str
    label: str
    phase: str
    started: datetime.datetime | None
    seconds: float


def timeline_svg(bars: Sequence[Bar], start: datetime.datetime | None, link: str, width: int = 720) -> str:
    """The timeline (Gantt) of ``bars`` from ``start``: one row per node, its bar from when it started for as
    long as it ran, coloured by phase."""
    started = [bar for bar in bars if bar.started is not None]
    if start is None or not started:
        return '<p class="muted">Nothing has run yet.</p>'
    offsets = {bar.node_id: max(0.0, (bar.started - start).total_seconds()) for bar in started if bar.started}
    total = max(*(offsets[b.node_id] + b.seconds for b in started), 0.001)
    label_width, row = 180, 24
    scale = (width - label_width - _MARGIN) / total
    height = row * len(started) + 24
    parts = [
        f'<svg class="timeline" role="img" aria-label="timeline of node durations" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, bar in enumerate(sorted(started, key=lambda b: offsets[b.node_id])):
        y = index * row
        x = label_width + offsets[bar.node_id] * scale
        length = max(bar.seconds * scale, 2)
        title = f"{bar.node_id}: {bar.phase.lower()}, {bar.seconds:.2f}s from +{offsets[bar.node_id]:.2f}s"
        parts.append(
            f'<a href="{escape(link)}?node={escape(bar.node_id)}"><text x="0" y="{y + 16}" class="label">'
            f"{escape(bar.label[:24])}</text>"
            f'<rect class="bar phase-{bar.phase}" data-node="{escape(bar.node_id)}" x="{x:.1f}" y="{y + 4}" '
            f'width="{length:.1f}" height="{row - 8}" rx="3"><title>{escape(title)}</title></rect></a>'
        )
    parts.append(
        f'<text x="{label_width}" y="{height - 4}" class="sub">0s</text>'
        f'<text x="{width - _MARGIN}" y="{height - 4}" class="sub" text-anchor="end">{total:.2f}s</text></svg>'
    )
    return "".join(parts)
