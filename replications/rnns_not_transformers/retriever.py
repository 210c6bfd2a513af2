"""In-context retrieval for generation: exact-match search over the sequence so far (note §5.2).

The official repo splices retrieval results in its data generator only; free-running
generation needs a retriever. ``InContextRetriever`` is called after every token; when the
sequence ends with ``[ENDSEARCH]`` it parses the query since the last ``[STARTSEARCH]`` and
answers it from *facts* found in the context, i.e. triples outside every search span:

- ``v ~``      -> x of the first record ``v ~ x`` (x a node), else ``[FAILED]``;
- ``v -``      -> the first neighbour of v among the ``a - b`` triples, in context order;
- ``v - p``    -> the neighbour of v listed after p, ``[FAILED]`` if none (or p not one);
- anything else (malformed query) -> ``[FAILED]``.

Search spans are skipped so that a query such as ``[STARTSEARCH] 3 - 1 [ENDSEARCH]`` is
never read as an edge. It sees only tokens, never a graph object.

>>> from replications.rnns_not_transformers.vocab import encode, decode
>>> r = InContextRetriever()
>>> ctx = '[BOS] 2 - 0 3 - 2 1 - 0 [EOS] 0 [STARTSEARCH] 0 - [ENDSEARCH]'
>>> decode(r(encode(ctx)))
'2'
>>> decode(r(encode(ctx + ' 2 [STARTSEARCH] 0 - 2 [ENDSEARCH]')))
'1'
>>> decode(r(encode('[BOS] 1 - 0 [EOS] [FAILED] 1 ~ 0 [STARTSEARCH] 1 ~ [ENDSEARCH]')))
'0'
>>> decode(r(encode('[BOS] 1 - 0 [EOS] [STARTSEARCH] 0 ~ [ENDSEARCH]')))
'[FAILED]'
>>> r(encode('[BOS] 1 - 0 [EOS] 0')) is None
True
"""
from __future__ import annotations

from replications.rnns_not_transformers.vocab import DASH, ENDSEARCH, FAILED, STARTSEARCH, TILDE, is_node


def pending_query(tokens: list[int], start: int = STARTSEARCH, end: int = ENDSEARCH) -> list[int] | None:
    """Query tokens when ``tokens`` ends with ``end``: those after the matching ``start``.

    None when the sequence does not end with ``end`` (no retrieval due); an empty list when
    there is no opening ``start`` since the previous ``end`` (a malformed query).
    """
    if not tokens or tokens[-1] != end:
        return None
    for i in range(len(tokens) - 2, -1, -1):
        if tokens[i] == start:
            return list(tokens[i + 1: -1])
        if tokens[i] == end:
            break
    return []


def outside_search(tokens: list[int], start: int = STARTSEARCH, end: int = ENDSEARCH) -> list[bool]:
    """Per position, False inside a ``start ... end`` span (both ends included), else True."""
    out, inside = [], False
    for t in tokens:
        if t == start:
            inside = True
        out.append(not inside)
        if t == end:
            inside = False
    return out


def facts(tokens: list[int], relation: int, start: int = STARTSEARCH, end: int = ENDSEARCH,
          is_item=is_node) -> list[tuple[int, int]]:
    """All triples ``a relation b`` (a, b items) lying wholly outside search spans, in order."""
    ok = outside_search(tokens, start, end)
    found = []
    for i in range(1, len(tokens) - 1):
        if (tokens[i] == relation and ok[i - 1] and ok[i] and ok[i + 1]
                and is_item(tokens[i - 1]) and is_item(tokens[i + 1])):
            found.append((tokens[i - 1], tokens[i + 1]))
    return found


class InContextRetriever:
    """IsTree retriever: answers ``v ~`` / ``v -`` / ``v - p`` queries by search over the context."""

    def __call__(self, tokens: list[int]) -> list[int] | None:
        query = pending_query(tokens)
        if query is None:
            return None
        return [self.answer(tokens, query)]

    @staticmethod
    def answer(context: list[int], query: list[int]) -> int:
        """Result token of ``query`` (node tokens plus ``~``/``-``) against ``context``."""
        if len(query) == 2 and is_node(query[0]) and query[1] == TILDE:
            for child, parent in facts(context, TILDE):
                if child == query[0]:
                    return parent
            return FAILED
        if len(query) in (2, 3) and is_node(query[0]) and query[1] == DASH and all(map(is_node, query[2:])):
            v = query[0]
            nbrs = [b if a == v else a for a, b in facts(context, DASH) if v in (a, b)]
            if len(query) == 2:
                return nbrs[0] if nbrs else FAILED
            p = query[2]
            if p in nbrs and nbrs.index(p) + 1 < len(nbrs):
                return nbrs[nbrs.index(p) + 1]
            return FAILED
        return FAILED
