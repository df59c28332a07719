"""A workflow's dependency graph: edges both ways, start and end nodes, cycles, reachability."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flyteidl.core import compiler_pb2

from roost_core.compiler.nodes import END_NODE, START_NODE


@dataclass(frozen=True, slots=True)
class Graph:
    """Upstream and downstream node sets of every node, ``start-node`` and ``end-node`` included."""

    upstream: dict[str, set[str]]
    downstream: dict[str, set[str]]

    def fill(self, connections: compiler_pb2.ConnectionSet) -> None:
        """Write the edges into a ConnectionSet, ids sorted; a node with no edges gets no entry."""
        for node_id, ids in self.upstream.items():
            if ids:
                connections.upstream[node_id].ids.extend(sorted(ids))
        for node_id, ids in self.downstream.items():
            if ids:
                connections.downstream[node_id].ids.extend(sorted(ids))


def build_graph(
    node_ids: Sequence[str], upstream_of: Mapping[str, Iterable[str]], output_sources: Iterable[str]
) -> Graph:
    """The graph of nodes whose dependencies are ``upstream_of`` and whose outputs come from
    ``output_sources``.

    Nodes that depend on nothing hang off ``start-node``, and nodes nothing depends on lead to
    ``end-node``, so the workflow ends only after every node has run.
    """
    upstream: dict[str, set[str]] = {START_NODE: set(), END_NODE: set(output_sources)}
    downstream: dict[str, set[str]] = {START_NODE: set(), END_NODE: set()}
    for node_id in node_ids:
        upstream[node_id] = set(upstream_of[node_id])
        downstream[node_id] = set()
    for node_id, sources in upstream.items():
        for source in sources:
            downstream[source].add(node_id)
    for node_id in node_ids:
        if not upstream[node_id]:
            upstream[node_id].add(START_NODE)
            downstream[START_NODE].add(node_id)
        if not downstream[node_id]:
            downstream[node_id].add(END_NODE)
            upstream[END_NODE].add(node_id)
    return Graph(upstream, downstream)


def find_cycles(graph: Graph, node_ids: Sequence[str]) -> list[list[str]]:
    """Cycles found by a depth-first walk from ``start-node`` and then from any node not yet seen;
    each cycle is a path that ends where it starts."""
    on_path: dict[str, int] = {}
    done: set[str] = set()
    cycles: list[list[str]] = []
    for root in (START_NODE, *node_ids):
        if root in done:
            continue
        path = [root]
        on_path[root] = 0
        stack = [iter(sorted(graph.downstream[root]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                done.add(path[-1])
                del on_path[path.pop()]
                continue
            if following in on_path:
                cycles.append([*path[on_path[following] :], following])
            elif following not in done:
                on_path[following] = len(path)
                path.append(following)
                stack.append(iter(sorted(graph.downstream[following])))
    return cycles


def unreachable(graph: Graph, node_ids: Sequence[str]) -> list[str]:
    """Nodes that no path from ``start-node`` reaches, in ``node_ids`` order."""
    reached = {START_NODE}
    frontier = [START_NODE]
    while frontier:
        for following in graph.downstream[frontier.pop()]:
            if following not in reached:
                reached.add(following)
                frontier.append(following)
    return [node_id for node_id in node_ids if node_id not in reached]
