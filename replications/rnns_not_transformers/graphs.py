"""Seeded graph generators for IsTree, after the official ``rnn/data.py`` (note §5.1).

Graphs are undirected on nodes 0..n-1. ``Graph.edges`` is the order in which the edges are
written in the input (random, as in the official code) and each edge is ``(u, v)`` with
``u > v``. All randomness comes from the ``random.Random`` passed in, so a seed fixes a graph.

Labels are true tree-ness (connected and n-1 edges). The official code labels by
connectivity from node 0; for ``binary`` graphs (always n-1 edges) that is the same thing,
but its ``random`` graphs can be connected with a cycle and would be labelled TRUE there.

>>> import random
>>> g = binary_graph(random.Random(0), 5)
>>> g.edges, g.is_tree
([(4, 2), (1, 0), (3, 1), (4, 3)], True)
>>> is_tree(4, [(1, 0), (2, 1), (2, 0)])      # triangle plus an isolated node
False
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Literal


@dataclass(frozen=True)
class Graph:
    """An IsTree instance: ``n`` nodes, edges in input order (each ``u > v``), and its label."""

    n: int
    edges: list[tuple[int, int]]
    is_tree: bool

    def neighbours(self, v: int) -> list[int]:
        """Neighbours of ``v`` in input-edge order (the order every DFS in this task uses)."""
        return [b if a == v else a for a, b in self.edges if v in (a, b)]


def is_tree(n: int, edges: list[tuple[int, int]]) -> bool:
    """True iff the graph is connected and acyclic (union-find; no self-loops expected)."""
    if len(edges) != n - 1:
        return False
    root = list(range(n))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        if ru == rv:
            return False
        root[ru] = rv
    return True


def _finish(rng: random.Random, n: int, edge_set: set[tuple[int, int]]) -> Graph:
    """Shuffle the edges into input order and attach the label."""
    edges = sorted(edge_set)  # fixed order before shuffling, so a seed fixes the result
    rng.shuffle(edges)
    return Graph(n, edges, is_tree(n, edges))


def _edge(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a > b else (b, a)


def binary_graph(rng: random.Random, n: int) -> Graph:
    """Official "binary" graph: two hub stars plus one edge between consecutive permuted leaves.

    Nodes are permuted; the first two are hubs and every other node joins one hub with
    probability 1/2. One extra edge joins permuted nodes i, i+1 for i uniform in 2..n-2.
    Always n-1 edges; a tree exactly when those two leaves hang off different hubs (p = 1/2),
    otherwise a triangle in one component and the other hub's star apart.
    """
    if n < 4:
        raise ValueError(f"binary graphs need n >= 4, got {n}")
    perm = list(range(n))
    rng.shuffle(perm)
    edges = set()
    for i in range(2, n):
        hub = perm[0] if rng.random() < 0.5 else perm[1]
        edges.add(_edge(hub, perm[i]))
    i = rng.randint(2, n - 2)
    edges.add(_edge(perm[i], perm[i + 1]))
    return _finish(rng, n, edges)


def random_graph(rng: random.Random, n: int) -> Graph:
    """Official "random" graph: a random recursive tree (p = 1/2), else a "near-tree".

    Near-tree, as in the official code: all permuted positions but one (``skip``, uniform in
    1..n-1) pick a uniformly random node as father (self-loops dropped, repeats merged), then
    one new edge joins two distinct non-adjacent nodes, neither of which has the node *id*
    ``skip`` (the official code compares node ids with that position index; kept as is).
    The official rejection loop can spin forever when no such pair exists (tiny n); we draw
    the pair uniformly from the valid ones (same distribution) and redraw the graph if none.
    The result may or may not be a tree; the label says which.
    """
    if n < 4:
        raise ValueError(f"random graphs need n >= 4, got {n}")
    perm = list(range(n))
    if rng.random() < 0.5:
        rng.shuffle(perm)
        edges = {_edge(perm[rng.randrange(i)], perm[i]) for i in range(1, n)}
        return _finish(rng, n, edges)
    while True:
        skip = rng.randrange(1, n)
        rng.shuffle(perm)
        edges = set()
        for i in range(n):
            if i != skip:
                father = perm[rng.randrange(n)]
                if father != perm[i]:
                    edges.add(_edge(father, perm[i]))
        pairs = [(u, v) for u in range(n) for v in range(u) if skip not in (u, v) and (u, v) not in edges]
        if pairs:
            edges.add(rng.choice(pairs))
            return _finish(rng, n, edges)


GraphType = Literal["binary", "random"]
GENERATORS: dict[str, Callable[[random.Random, int], Graph]] = {"binary": binary_graph, "random": random_graph}


def make_graph(rng: random.Random, n: int, kind: str = "binary") -> Graph:
    """Draw a graph of the named kind ("binary" or "random")."""
    try:
        return GENERATORS[kind](rng, n)
    except KeyError:
        raise ValueError(f"unknown graph kind {kind!r}; expected one of {sorted(GENERATORS)}") from None
