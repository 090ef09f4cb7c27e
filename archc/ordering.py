"""Ordering the layers of a network: a topological order, and the cycles that prevent one.

Nodes are the integers ``0 .. n-1`` (layer positions in the spec); `edges` are pairs
``(producer, consumer)``. Among layers that could run in either order, the one written first
runs first, so a spec's order is kept wherever its graph allows. Each function is linear in
the number of nodes and edges and iterative, so a 50,000-layer chain needs no deep recursion.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


def _successors(n: int, edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    successors: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        successors[a].append(b)
    return successors


def topological_order(n: int, edges: Iterable[tuple[int, int]]) -> list[int] | None:
    """The nodes in dependency order, the smallest ready node first; None if there is a cycle."""
    successors = _successors(n, edges)
    waiting = [0] * n
    for targets in successors:
        for b in targets:
            waiting[b] += 1
    ready = [i for i in range(n) if waiting[i] == 0]  # already a heap: sorted
    order = []
    while ready:
        a = heapq.heappop(ready)
        order.append(a)
        for b in successors[a]:
            waiting[b] -= 1
            if waiting[b] == 0:
                heapq.heappush(ready, b)
    return order if len(order) == n else None


def find_cycle(n: int, edges: Iterable[tuple[int, int]]) -> list[int]:
    """One cycle, as its nodes in order (the edge back to the first is implied); [] if none.

    A depth-first search from each node in turn, following edges in the order given: the
    first edge that reaches a node on the current path closes the cycle reported.
    """
    successors = _successors(n, edges)
    done = [False] * n
    for root in range(n):
        if done[root]:
            continue
        path, on_path = [root], {root: 0}
        stack = [iter(successors[root])]
        while stack:
            b = next(stack[-1], None)
            if b is None:
                stack.pop()
                a = path.pop()
                del on_path[a]
                done[a] = True
                continue
            if b in on_path:
                return path[on_path[b] :]
            if not done[b]:
                on_path[b] = len(path)
                path.append(b)
                stack.append(iter(successors[b]))
    return []


def cyclic_nodes(n: int, edges: Iterable[tuple[int, int]]) -> set[int]:
    """The nodes that lie on some cycle: members of a strongly connected component of two or
    more nodes, and nodes with an edge to themselves (Tarjan's algorithm, iteratively)."""
    edges = list(edges)
    successors = _successors(n, edges)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    found = {a for a, b in edges if a == b}
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            a, targets = work[-1]
            b = next(targets, None)
            if b is not None:
                if index[b] == -1:
                    index[b] = low[b] = counter
                    counter += 1
                    stack.append(b)
                    on_stack[b] = True
                    work.append((b, iter(successors[b])))
                elif on_stack[b]:
                    low[a] = min(low[a], index[b])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[a])
            if low[a] == index[a]:
                component = []
                while True:
                    b = stack.pop()
                    on_stack[b] = False
                    component.append(b)
                    if b == a:
                        break
                if len(component) > 1:
                    found.update(component)
    return found
