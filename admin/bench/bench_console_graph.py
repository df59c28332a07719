"""The execution page's graph for a 1,000-node workflow, drawn as SVG (p50 and p99): closed, with a map node's
counts on every tenth node, and with one node opened on a 1,000-node dynamic workflow inside; each as a ratio to
the closed graph.

    python admin/bench/bench_console_graph.py

Printed, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from _bench_support import ms, p50, percentile, print_table
from flyteidl.core import compiler_pb2, workflow_pb2

from roost_admin.console import graph

NODES = 1_000
CALLS = 30


def _workflow(count: int) -> compiler_pb2.CompiledWorkflow:
    """``count`` task nodes in chains of ten from the start to the end."""
    compiled = compiler_pb2.CompiledWorkflow()
    compiled.template.nodes.extend(
        workflow_pb2.Node(id=f"n{i}", task_node=workflow_pb2.TaskNode()) for i in range(count)
    )
    compiled.connections.downstream["start-node"].ids.extend(f"n{i}" for i in range(0, count, 10))
    for i in range(count):
        compiled.connections.downstream[f"n{i}"].ids.append(f"n{i + 1}" if i % 10 != 9 else "end-node")
    return compiled


def _timed(call: Callable[[], object]) -> list[float]:
    call()  # warm up
    seconds = []
    for _ in range(CALLS):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return seconds


def main() -> None:
    compiled = _workflow(NODES)

    def closed() -> str:
        return graph.drawing_svg(graph.drawing(compiled), "/e")

    def counted() -> str:
        drawn = graph.drawing(compiled)
        for box in drawn.boxes[::10]:
            box.counts = [("RUNNING", 3), ("SUCCEEDED", 40), ("FAILED", 1)]
        return graph.drawing_svg(drawn, "/e")

    def opened() -> str:
        drawn = graph.drawing(compiled)
        box = next(box for box in drawn.boxes if box.key == "n5")
        box.expandable, box.inner = True, graph.drawing(compiled, "n5")
        return graph.drawing_svg(drawn, "/e", expanded={"n5"})

    peer = _timed(closed)
    rows = [(f"SVG, {NODES:,} nodes closed (peer)", ms(p50(peer)), ms(percentile(peer, 0.99)), "1.00")]
    for label, call in (
        (f"  with {NODES // 10} map nodes' counts", counted),
        (f"  one node opened on {NODES:,} inside", opened),
    ):
        seconds = _timed(call)
        rows.append(
            (label, ms(p50(seconds)), ms(percentile(seconds, 0.99)), f"{p50(seconds) / p50(peer):.2f}")
        )
    print_table(
        f"Console graph of a {NODES:,}-node workflow",
        ["drawing", "p50", "p99", "p50 / closed"],
        rows,
        note=f"{CALLS} calls each after one warm-up, in this process; the page adds the node executions' reads "
        "(one list, plus one per map node and branch and per opened node).",
    )


if __name__ == "__main__":
    main()
