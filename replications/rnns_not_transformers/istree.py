"""IsTree examples in the three official formats (note §5.2): ``no_cot``, ``cot``, ``retrieval``.

Every sequence starts with the prompt ``[BOS] u - v ... [EOS]`` (edges in input order, u > v,
no separators); the prompt is never a target. Then:

- ``no_cot``: the answer ``[TRUE]``/``[FALSE]``.
- ``cot``: the DFS Euler tour from node 0 (a node is written on entry and again after each
  child returns; neighbours in input-edge order; the walk stops at the node where the first
  back edge is met), ``[EOS]``, the answer. All of it is a target.
- ``retrieval``: the DFS of the official ``euler_tour_with_retrieval``. Per step the model
  writes the stack top v and ``[STARTSEARCH] v ~ [ENDSEARCH]`` (result: v's parent or
  ``[FAILED]``), then ``[STARTSEARCH] v - [ENDSEARCH]`` right after entering v or
  ``[STARTSEARCH] v - c [ENDSEARCH]`` after returning from child c (result: next neighbour
  or ``[FAILED]`` = pop); a result equal to the parent is skipped with one more query
  ``v - parent``. A new neighbour w is checked with ``[STARTSEARCH] w ~ [ENDSEARCH]``:
  ``[FAILED]`` then the record ``w ~ v`` and w is pushed; anything else means w was visited,
  a cycle, and the walk stops. Then ``[EOS]``, the answer. Each token right after
  ``[ENDSEARCH]`` is the retrieval result, spliced in, never a target.

As in the official code, node 0 has no record, so a back edge *to the root* also retrieves
``[FAILED]`` and the walk stops there (the model must know that 0 is always visited).

>>> from replications.rnns_not_transformers.graphs import Graph
>>> from replications.rnns_not_transformers.vocab import decode
>>> tree = Graph(4, [(2, 0), (3, 2), (1, 0)], True)
>>> decode(serialise(tree, 'no_cot').tokens)
'[BOS] 2 - 0 3 - 2 1 - 0 [EOS] [TRUE]'
>>> ex = serialise(tree, 'cot')
>>> decode(ex.tokens), ex.prompt_len
('[BOS] 2 - 0 3 - 2 1 - 0 [EOS] 0 2 3 2 0 1 0 [EOS] [TRUE]', 11)
>>> cyc = Graph(4, [(1, 0), (2, 1), (2, 0)], False)     # triangle 0-1-2, node 3 alone
>>> decode(serialise(cyc, 'cot').answer)
'0 1 2 [EOS] [FALSE]'
>>> ex = serialise(Graph(2, [(1, 0)], True), 'retrieval')
>>> print(decode(ex.answer))  # doctest: +NORMALIZE_WHITESPACE
0 [STARTSEARCH] 0 ~ [ENDSEARCH] [FAILED] [STARTSEARCH] 0 - [ENDSEARCH] 1
  [STARTSEARCH] 1 ~ [ENDSEARCH] [FAILED] 1 ~ 0
1 [STARTSEARCH] 1 ~ [ENDSEARCH] 0 [STARTSEARCH] 1 - [ENDSEARCH] 0
  [STARTSEARCH] 1 - 0 [ENDSEARCH] [FAILED]
0 [STARTSEARCH] 0 ~ [ENDSEARCH] [FAILED] [STARTSEARCH] 0 - 1 [ENDSEARCH] [FAILED] [EOS] [TRUE]
>>> [t for t, m in zip(decode(ex.answer).split(), ex.target_mask[ex.prompt_len:]) if not m]
['[FAILED]', '1', '[FAILED]', '0', '0', '[FAILED]', '[FAILED]', '[FAILED]']
>>> answer_from_generation(ex.tokens, ex.prompt_len), label(ex)
(True, True)
"""
from __future__ import annotations

import random
from typing import Literal, get_args

from common.tasks import Example
from replications.rnns_not_transformers.graphs import Graph, make_graph
from replications.rnns_not_transformers.vocab import (
    BOS, DASH, ENDSEARCH, EOS, FAILED, FALSE, STARTSEARCH, TILDE, TRUE, node_token,
)

Format = Literal["no_cot", "cot", "retrieval"]
FORMATS = get_args(Format)


def euler_tour(g: Graph) -> list[int]:
    """Node ids of the official CoT: DFS Euler tour from 0, cut at the first back edge."""
    nbrs = [g.neighbours(v) for v in range(g.n)]
    visited = [False] * g.n
    tour: list[int] = []
    # Iterative DFS; frames are (node, parent, index of the next neighbour to scan).
    stack = [(0, -1, 0)]
    visited[0] = True
    tour.append(0)
    while stack:
        u, parent, i = stack.pop()
        while i < len(nbrs[u]) and nbrs[u][i] == parent:
            i += 1
        if i == len(nbrs[u]):  # u finished: return to the parent, which is written again
            if stack:
                tour.append(stack[-1][0])
            continue
        w = nbrs[u][i]
        if visited[w]:  # back edge: a cycle; stop at u
            break
        stack.append((u, parent, i + 1))
        stack.append((w, u, 0))
        visited[w] = True
        tour.append(w)
    return tour


def _after(seq: list[int], item: int | None) -> int | None:
    """The element after ``item`` in ``seq`` (the first one when ``item`` is None)."""
    if item is None:
        return seq[0] if seq else None
    if item in seq and seq.index(item) + 1 < len(seq):
        return seq[seq.index(item) + 1]
    return None


def retrieval_trace(g: Graph) -> list[int]:
    """Tokens of the official retrieval CoT (without the final ``[EOS]`` and answer)."""
    nbrs = [g.neighbours(v) for v in range(g.n)]

    def tok(v: int | None) -> int:
        return FAILED if v is None else node_token(v)

    out: list[int] = []

    def search(*query: int) -> None:
        out.extend([STARTSEARCH, *query, ENDSEARCH])

    parent: dict[int, int | None] = {0: None}
    stack, prev = [0], None  # prev: where we came from (None = start, like the parent of 0)
    while stack:
        top = stack[-1]
        father = stack[-2] if len(stack) > 1 else None
        out.append(tok(top))
        search(tok(top), TILDE)
        out.append(tok(father))
        if prev == father:  # just entered top: first neighbour
            search(tok(top), DASH)
        else:  # just returned from child prev: the neighbour after it
            search(tok(top), DASH, tok(prev))
        nxt = _after(nbrs[top], prev if prev != father else None)
        out.append(tok(nxt))
        if nxt is not None and nxt == father:  # skip the edge back to the parent
            search(tok(top), DASH, tok(father))
            nxt = _after(nbrs[top], father)
            out.append(tok(nxt))
        if nxt is None:
            stack.pop()
            prev = top
            continue
        search(tok(nxt), TILDE)
        if nxt in parent:  # visited: cycle, stop
            out.append(tok(parent[nxt]))
            break
        out.extend([FAILED, tok(nxt), TILDE, tok(top)])
        parent[nxt] = top
        stack.append(nxt)
        prev = top
    return out


def serialise(g: Graph, fmt: str) -> Example:
    """The ``Example`` for graph ``g`` in format ``fmt`` (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    prompt = [BOS]
    for u, v in g.edges:
        prompt += [node_token(u), DASH, node_token(v)]
    prompt.append(EOS)
    if fmt == "no_cot":
        body = []
    elif fmt == "cot":
        body = [node_token(v) for v in euler_tour(g)] + [EOS]
    else:
        body = retrieval_trace(g) + [EOS]
    tokens = prompt + body + [TRUE if g.is_tree else FALSE]
    mask = [False] * len(prompt) + [tokens[i - 1] != ENDSEARCH for i in range(len(prompt), len(tokens))]
    return Example(tokens, mask, len(prompt))


def istree_example(rng: random.Random, n: int, fmt: str, graph: str = "binary") -> Example:
    """Draw a graph of kind ``graph`` on ``n`` nodes from ``rng`` and serialise it as ``fmt``."""
    return serialise(make_graph(rng, n, graph), fmt)


def label(example: Example) -> bool:
    """The gold answer of an IsTree example (its last token)."""
    last = example.tokens[-1]
    if last not in (TRUE, FALSE):
        raise ValueError("example does not end with [TRUE]/[FALSE]")
    return last == TRUE


def answer_from_generation(tokens: list[int], prompt_len: int | None = None) -> bool | None:
    """First ``[TRUE]``/``[FALSE]`` after the prompt (the official generation metric); None if none.

    ``tokens`` is prompt + generation; without ``prompt_len`` the prompt ends at the first ``[EOS]``.
    """
    if prompt_len is None:
        prompt_len = tokens.index(EOS) + 1 if EOS in tokens else 0
    for t in tokens[prompt_len:]:
        if t in (TRUE, FALSE):
            return t == TRUE
    return None
