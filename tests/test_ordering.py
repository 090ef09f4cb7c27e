"""archc.ordering against networkx's algorithms, on random graphs and on a long chain."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archc.ordering import cyclic_nodes, find_cycle, topological_order

nx = pytest.importorskip("networkx")


@st.composite
def graphs(draw, max_nodes: int = 12) -> tuple[int, list[tuple[int, int]]]:
    n = draw(st.integers(1, max_nodes))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    return n, list(dict.fromkeys(edges))


def as_networkx(n: int, edges: list[tuple[int, int]]):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    return g


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_order_and_cycles_agree_with_networkx(graph):
    n, edges = graph
    g = as_networkx(n, edges)
    order = topological_order(n, edges)
    if nx.is_directed_acyclic_graph(g):
        assert order == list(nx.lexicographical_topological_sort(g))
        assert find_cycle(n, edges) == []
        assert cyclic_nodes(n, edges) == set()
    else:
        assert order is None
        cycle = find_cycle(n, edges)
        assert cycle, "a cyclic graph has a cycle"
        closing = list(zip(cycle, cycle[1:] + cycle[:1]))
        assert all(g.has_edge(a, b) for a, b in closing)
        assert len(set(cycle)) == len(cycle)
        on_cycles = {i for part in nx.strongly_connected_components(g) if len(part) > 1
                     for i in part} | {i for i in g if g.has_edge(i, i)}  # fmt: skip
        assert cyclic_nodes(n, edges) == on_cycles


def test_a_long_chain_needs_no_recursion():
    n = 4 * sys.getrecursionlimit()
    chain = [(i, i + 1) for i in range(n - 1)]
    assert topological_order(n, chain) == list(range(n))
    loop = [*chain, (n - 1, 0)]
    assert find_cycle(n, loop) == list(range(n))
    assert cyclic_nodes(n, loop) == set(range(n))


def test_file_order_among_independent_layers():
    # 3 and 1 both wait for 0; 2 waits for 3: the smallest ready layer runs first.
    assert topological_order(4, [(0, 3), (0, 1), (3, 2)]) == [0, 1, 3, 2]
