"""The execution page's pictures, drawn on the server as SVG: the workflow graph (nodes in layers by their
longest path from the start, left to right, each coloured by its phase and linking to its node panel) and the
timeline of node durations. Phases are classes (``phase-RUNNING``) the stylesheet colours and the live script
changes.

A graph is a :class:`Drawing` of :class:`Box` es. A box drawn open holds a nested drawing: a branch's cases
(always, so the path taken shows), or a sub-workflow's or dynamic node's own nodes when the page's address asks
for it (``?expand=<node id>``, repeatable), so a large execution costs only what is opened."""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote_plus, urlencode

from flyteidl.core import compiler_pb2, workflow_pb2

NODE_WIDTH = 168
NODE_HEIGHT = 44
COUNTS_HEIGHT = 16
"""Extra height of a map node, for its row of counts per phase."""
COLUMN_GAP = 64
ROW_GAP = 20
HEADER = 40
"""Height of an open box's title above its nested drawing."""
PADDING = 12
_MARGIN = 8
_IDLE = ("UNDEFINED", "SKIPPED")
"""Phases of a branch's case that did not run."""


@dataclass
class Box:
    """A node as drawn: its id in the workflow's spec, its node execution's id (``key``: what its link selects and
    live updates find), its phase, and what its kind adds."""

    spec_id: str
    key: str
    label: str
    kind: str
    """``task``, ``workflow``, ``branch``, ``gate``, ``array``, ``start``/``end``, or ``fail`` (a branch's
    failing ``else``)."""
    node: workflow_pb2.Node
    phase: str = "UNDEFINED"
    counts: list[tuple[str, int]] = field(default_factory=list)
    """A map node's subtasks per phase."""
    expandable: bool = False
    """Whether it can be opened (sub-workflows and dynamic nodes)."""
    inner: Drawing | None = None
    """The nested drawing it is drawn open with."""
    child_url: str = ""
    """A launch plan node's child execution."""
    path: str = ""
    """For a branch's case: ``taken`` or ``not-taken`` once the branch has run."""
    live: bool = True
    """Whether live phase updates and its link address it by ``key`` (not a branch's ``else: fail``)."""


@dataclass
class Drawing:
    """Boxes in spec order and the edges between them (by spec id)."""

    boxes: list[Box]
    edges: list[tuple[str, str]]


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


def _graph(
    workflow: compiler_pb2.CompiledWorkflow,
) -> tuple[dict[str, workflow_pb2.Node], list[tuple[str, str]]]:
    """The nodes of ``workflow`` by id, with its start and end, and the edges between them."""
    nodes = {node.id: node for node in workflow.template.nodes}
    for special in ("start-node", "end-node"):
        nodes.setdefault(special, workflow_pb2.Node(id=special))
    edges = [
        (source, target)
        for source, targets in workflow.connections.downstream.items()
        for target in targets.ids
        if source in nodes and target in nodes
    ]
    return nodes, edges


def drawing(workflow: compiler_pb2.CompiledWorkflow, parent: str = "") -> Drawing:
    """The drawing of ``workflow``'s spec, nothing run yet. Inside a node execution ``parent`` its nodes' keys are
    the ids the engine gives them (``{parent}-0-{node}``, first attempt); branches are drawn open."""
    nodes, edges = _graph(workflow)
    return Drawing([_box(node, parent) for node in nodes.values()], edges)


def _box(node: workflow_pb2.Node, parent: str) -> Box:
    key = f"{parent}-0-{node.id}" if parent else str(node.id)
    box = Box(str(node.id), key, _label(node), _kind(node), node)
    if box.kind == "branch":
        box.inner = branch_drawing(node, key)
    return box


def branch_drawing(node: workflow_pb2.Node, key: str) -> Drawing:
    """A branch's cases side by side (one runs, the others are skipped), and its ``else`` when that fails."""
    block = node.branch_node.if_else
    cases = [block.case, *block.other]
    boxes = [_box(case.then_node, key) for case in cases if case.HasField("then_node")]
    if block.HasField("else_node"):
        boxes.append(_box(block.else_node, key))
    elif block.HasField("error"):
        boxes.append(Box(f"{node.id}-else", key, "else: fail", "fail", workflow_pb2.Node(), live=False))
    return Drawing(boxes, [])


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


@dataclass
class _Placed:
    """A drawing laid out: each box at its offset with its size (and its nested drawing's layout)."""

    width: int
    height: int
    boxes: list[tuple[Box, int, int, int, int, _Placed | None]]
    edges: list[tuple[str, str]]


def _place(drawing: Drawing) -> _Placed:
    """Columns by longest path, each as wide as its widest box; boxes stacked in their column. Nesting is as
    deep as the workflow's own (sub-workflows inside sub-workflows), so recursion is bounded by it."""
    by_id = {box.spec_id: box for box in drawing.boxes}
    column = _columns(by_id, drawing.edges)
    sizes: dict[str, tuple[int, int, _Placed | None]] = {}
    for box in drawing.boxes:
        inner = _place(box.inner) if box.inner is not None else None
        if inner is None:
            sizes[box.spec_id] = (NODE_WIDTH, NODE_HEIGHT + (COUNTS_HEIGHT if box.counts else 0), None)
        else:
            sizes[box.spec_id] = (
                max(NODE_WIDTH, inner.width + 2 * PADDING),
                HEADER + inner.height + PADDING,
                inner,
            )
    widths: dict[int, int] = {}
    for box in drawing.boxes:
        widths[column[box.spec_id]] = max(widths.get(column[box.spec_id], 0), sizes[box.spec_id][0])
    lefts: dict[int, int] = {}
    x = 0
    for index in sorted(widths):
        lefts[index] = x
        x += widths[index] + COLUMN_GAP
    tops: dict[int, int] = {}
    placed = []
    for box in sorted(drawing.boxes, key=lambda b: column[b.spec_id]):
        width, height, inner = sizes[box.spec_id]
        top = tops.get(column[box.spec_id], 0)
        tops[column[box.spec_id]] = top + height + ROW_GAP
        placed.append((box, lefts[column[box.spec_id]], top, width, height, inner))
    return _Placed(
        max(x - COLUMN_GAP, 0),
        max((top - ROW_GAP for top in tops.values()), default=0),
        placed,
        drawing.edges,
    )


def address(link: str, node: str = "", expanded: Collection[str] = ()) -> str:
    """The execution page at ``link`` with ``node`` selected and ``expanded`` open."""
    pairs = ([("node", node)] if node else []) + [("expand", key) for key in sorted(expanded)]
    return f"{link}?{urlencode(pairs)}" if pairs else link


def drawing_svg(drawn: Drawing, link: str, selected: str = "", expanded: Collection[str] = ()) -> str:
    """``drawn`` as an SVG element. Each box links to its node panel; an expandable box has a plus (a minus when
    open) that toggles it in the address, a launch plan node a link to its child execution, a map node its
    subtasks' counts per phase. Links keep the selection and what is open."""
    placed = _place(drawn)
    width = placed.width + 2 * _MARGIN
    height = placed.height + 2 * _MARGIN
    parts = [
        f'<svg class="graph" role="img" aria-label="workflow graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrow"/></marker></defs>',
    ]
    _draw(placed, _MARGIN, _MARGIN, parts, link, selected, frozenset(expanded))
    parts.append("</svg>")
    return "".join(parts)


def _draw(
    placed: _Placed,
    left: int,
    top: int,
    parts: list[str],
    link: str,
    selected: str,
    expanded: frozenset[str],
) -> None:
    where = {box.spec_id: (left + x, top + y, w, h) for box, x, y, w, h, _ in placed.boxes}
    for source, target in placed.edges:
        x1, y1, w1, h1 = where[source]
        x2, y2, _, h2 = where[target]
        x1, y1, y2 = x1 + w1, y1 + h1 // 2, y2 + h2 // 2
        middle = (x1 + x2) // 2
        parts.append(
            f'<path class="edge" d="M {x1} {y1} C {middle} {y1}, {middle} {y2}, {x2} {y2}" marker-end="url(#arrow)"/>'
        )
    # a node's link is the page with it selected and the same nodes open: the open part is the same for all
    opened = urlencode([("expand", key) for key in sorted(expanded)])
    before, after = escape(f"{link}?node="), escape(f"&{opened}" if opened else "")
    for box, _, _, width, height, inner in placed.boxes:
        x, y, _, _ = where[box.spec_id]
        key = escape(box.key)
        classes = f"node kind-{box.kind} phase-{box.phase}"
        if box.key == selected and box.live:
            classes += " selected"
        if box.path:
            classes += f" {box.path}"
        if inner is not None:
            classes += " open"
        shown = "taken" if box.path == "taken" else box.phase.lower()
        title = f"{key} ({box.kind}): {box.phase}" + (", the path taken" if box.path == "taken" else "")
        tag = f' data-node="{key}"' if box.live else ""
        text = f' data-phase-text="{key}"' if box.live else ""
        parts.append(
            f'<a href="{before}{escape(quote_plus(box.key))}{after}" class="node-link" aria-label="{title}"{tag}>'
            f'<rect class="{classes}" x="{x}" y="{y}" rx="6" width="{width}" height="{height}">'
            f"<title>{title}</title></rect>"
            f'<text x="{x + 10}" y="{y + 18}" class="label">{escape(box.label[: 19 if box.expandable else 22])}</text>'
            f'<text x="{x + 10}" y="{y + 34}" class="sub"{text}>{escape(box.spec_id)} · {shown}</text></a>'
        )
        if box.counts:
            _counts(box, x, y, parts)
        if box.expandable:
            # at the node's own width, not the open box's: in sight however wide what it opens
            _toggle(box, x + NODE_WIDTH, y, parts, link, selected, expanded)
        if box.child_url:
            parts.append(
                f'<a href="{escape(box.child_url)}" class="child-link" aria-label="child execution of {key}">'
                f'<text x="{x + width - 8}" y="{y + 34}" text-anchor="end" class="sub link">execution &#8250;</text></a>'
            )
        if inner is not None:
            _draw(inner, x + PADDING, y + HEADER, parts, link, selected, expanded)


def _toggle(
    box: Box, right: int, y: int, parts: list[str], link: str, selected: str, expanded: frozenset[str]
) -> None:
    """The plus that opens an expandable box (a minus that closes it when open): the same page with the box's
    key added to (or taken from) what is open."""
    opened = box.key in expanded
    parts.append(
        f'<a href="{escape(address(link, selected, expanded ^ {box.key}))}#graph" class="toggle" '
        f'aria-expanded="{"true" if opened else "false"}" '
        f'aria-label="{"collapse" if opened else "expand"} {escape(box.key)}" data-toggle="{escape(box.key)}">'
        f'<rect class="toggle-box" x="{right - 26}" y="{y + 6}" width="20" height="20" rx="4"/>'
        f'<text x="{right - 16}" y="{y + 21}" text-anchor="middle" class="toggle-sign">'
        f"{'&#8722;' if opened else '+'}</text></a>"
    )


def _counts(box: Box, x: int, y: int, parts: list[str]) -> None:
    """A map node's counts per phase, one coloured number each (``3 succeeded``)."""
    parts.append(
        f'<text x="{x + 10}" y="{y + NODE_HEIGHT + 6}" class="counts" data-counts="{escape(box.key)}">'
    )
    for index, (phase, count) in enumerate(box.counts):
        gap = " · " if index else ""
        parts.append(f'<tspan class="count phase-{phase}">{gap}{count} {escape(phase.lower())}</tspan>')
    parts.append("</text>")


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
