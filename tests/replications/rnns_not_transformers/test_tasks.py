"""Task generators of "RNNs are not Transformers (Yet)": IsTree formats, retriever, fact lookup.

Every check re-derives the truth independently of the generator: graphs are decoded from the
token text into networkx, DFS traces are validated move by move, retrieval results are
recomputed by brute force, fact answers by a dict lookup.
"""
from __future__ import annotations

import random

import networkx as nx
import pytest

from replications.rnns_not_transformers import fact_lookup as fl
from replications.rnns_not_transformers.graphs import Graph, make_graph
from replications.rnns_not_transformers.istree import (
    answer_from_generation, istree_example, label, serialise,
)
from replications.rnns_not_transformers.retriever import InContextRetriever
from replications.rnns_not_transformers.vocab import decode, encode, vocab_size

KINDS = ("binary", "random")


# ---------- independent helpers (work on the decoded text, not on generator internals) ----------

def words(tokens) -> list[str]:
    return decode(tokens).split()


def decoded_graph(tokens, n: int) -> tuple[nx.Graph, list[tuple[int, int]]]:
    """networkx graph from the prompt text ``[BOS] u - v ... [EOS]``; edges in written order."""
    w = words(tokens)
    assert w[0] == "[BOS]"
    body = w[1: w.index("[EOS]")]
    assert len(body) % 3 == 0
    edges = []
    for i in range(0, len(body), 3):
        u, dash, v = body[i: i + 3]
        assert dash == "-"
        edges.append((int(u), int(v)))
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)  # adjacency keeps insertion order = input-edge order
    return g, edges


def neighbour_order(g: nx.Graph) -> dict[int, list[int]]:
    return {v: list(g.adj[v]) for v in g.nodes}


def check_dfs_walk(g: nx.Graph, trace: list[int]) -> tuple[str, set[int]]:
    """Validate a CoT trace as the official DFS walk; returns ("cycle" | "complete", visited)."""
    order = neighbour_order(g)
    assert trace and trace[0] == 0, "walk must start at node 0"
    stack, visited, ptr = [0], {0}, {v: 0 for v in g.nodes}

    def remaining(u):
        parent = stack[-2] if len(stack) > 1 else None
        return [w for w in order[u][ptr[u]:] if w != parent]

    for t in trace[1:]:
        u = stack[-1]
        assert g.has_edge(u, t), f"{u}->{t} is not an edge"
        rem = remaining(u)
        if len(stack) > 1 and t == stack[-2]:
            assert rem == [], f"returned from {u} with neighbours {rem} left"
            stack.pop()
        else:
            assert rem and rem[0] == t, f"forward move {u}->{t}, expected next neighbour {rem[:1]}"
            assert t not in visited, f"forward move into visited {t}"
            ptr[u] = order[u].index(t) + 1
            visited.add(t)
            stack.append(t)
    rem = remaining(stack[-1])
    if rem:
        assert rem[0] in visited, f"walk stopped early at {stack[-1]}; next neighbour {rem[0]} is new"
        return "cycle", visited
    assert stack == [0], "walk ended before returning to the root"
    return "complete", visited


def cot_trace(ex) -> list[int]:
    w = words(ex.tokens)
    start = w.index("[EOS]") + 1
    end = w.index("[EOS]", start)
    return [int(x) for x in w[start:end]]


def check_cot_example(ex, n: int) -> None:
    g, _ = decoded_graph(ex.tokens, n)
    kind, visited = check_dfs_walk(g, cot_trace(ex))
    truth = nx.is_tree(g)
    assert label(ex) == truth
    if kind == "cycle":
        assert not truth and not nx.is_forest(g)
    else:  # explored all of 0's component without a back edge
        assert visited == nx.node_connected_component(g, 0)
        assert nx.is_tree(g.subgraph(visited))
        assert truth == (len(visited) == n)
    assert words(ex.tokens)[-2:] == ["[EOS]", "[TRUE]" if truth else "[FALSE]"]


def brute_retrieval(g: nx.Graph, prefix_words: list[str], query: list[str]) -> str:
    """Expected result of a query from the graph and the records ``[ENDSEARCH] [FAILED] w ~ x``."""
    records = {}
    for i in range(3, len(prefix_words) - 1):
        if (prefix_words[i] == "~" and prefix_words[i - 2] == "[FAILED]" and prefix_words[i - 3] == "[ENDSEARCH]"):
            records.setdefault(int(prefix_words[i - 1]), prefix_words[i + 1])
    v = int(query[0])
    if query[1:] == ["~"]:
        return records.get(v, "[FAILED]")
    nbrs = [str(x) for x in g.adj[v]]
    if query[1:] == ["-"]:
        return nbrs[0] if nbrs else "[FAILED]"
    assert query[1] == "-" and len(query) == 3
    i = nbrs.index(query[2])
    return nbrs[i + 1] if i + 1 < len(nbrs) else "[FAILED]"


def check_retrieval_example(ex, n: int) -> None:
    g, _ = decoded_graph(ex.tokens, n)
    w = words(ex.tokens)
    r = InContextRetriever()
    tops = []
    n_queries = 0
    for j in range(ex.prompt_len, len(w)):
        if w[j - 1] == "[ENDSEARCH]":
            q_start = max(i for i in range(j) if w[i] == "[STARTSEARCH]")
            query = w[q_start + 1: j - 1]
            got = r(list(ex.tokens[:j]))
            assert got is not None and len(got) == 1
            assert got[0] == ex.tokens[j], f"retriever disagrees at {j}: {decode(got)} vs {w[j]}"
            assert w[j] == brute_retrieval(g, w[:j], query), f"brute force disagrees at {j}"
            n_queries += 1
        else:
            assert r(list(ex.tokens[:j])) is None
        # a step starts with the stack top, written just before its parent query "[STARTSEARCH] v ~"
        # (a retrieved neighbour followed by its "visited?" query has the same shape: skip those)
        if (w[j - 1] != "[ENDSEARCH]" and j + 3 < len(w) and w[j + 1] == "[STARTSEARCH]"
                and w[j + 3] == "~" and w[j] == w[j + 2]):
            tops.append(int(w[j]))
    assert n_queries > 0
    # The stack tops form exactly the plain CoT walk of the same graph, validated independently.
    kind, visited = check_dfs_walk(g, tops)
    assert label(ex) == nx.is_tree(g)
    assert tops == cot_trace(serialise(_graph_of(ex, n), "cot"))


def _graph_of(ex, n: int) -> Graph:
    g, edges = decoded_graph(ex.tokens, n)
    return Graph(n, edges, nx.is_tree(g))


# ---------------------------------- graphs and labels ----------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_labels_equal_networkx_is_tree(kind):
    seen = set()
    for n in range(4, 41):
        for seed in range(6):
            ex = istree_example(random.Random(1000 * n + seed), n, "no_cot", kind)
            g, edges = decoded_graph(ex.tokens, n)
            assert all(u > v for u, v in edges)
            assert len(set(map(frozenset, edges))) == len(edges), "duplicate edge"
            assert all(0 <= x < n for e in edges for x in e)
            assert label(ex) == nx.is_tree(g)
            seen.add(label(ex))
    assert seen == {True, False}


def test_random_graphs_label_true_treeness_not_connectivity():
    """Over many draws some near-trees are connected with a cycle: labelled FALSE here."""
    found = 0
    for seed in range(400):
        g = make_graph(random.Random(seed), 6, "random")
        gx = nx.Graph(g.edges)
        gx.add_nodes_from(range(6))
        if nx.is_connected(gx) and not nx.is_tree(gx):
            assert g.is_tree is False
            found += 1
    assert found > 0


def test_binary_graphs_have_n_minus_1_edges_and_balanced_labels():
    trues = 0
    rng = random.Random(7)
    for i in range(2000):
        n = 4 + i % 37
        g = make_graph(rng, n, "binary")
        assert len(g.edges) == n - 1
        trues += g.is_tree
    assert 0.44 <= trues / 2000 <= 0.56


def test_binary_graph_shape_two_stars_plus_one_edge():
    """Some non-adjacent pair (the hubs) touches every edge but exactly one."""
    for seed in range(150):
        n = 4 + seed % 17
        g = make_graph(random.Random(seed), n, "binary")
        assert any(
            sum(not ({a, b} & set(e)) for e in g.edges) == 1 and (a, b) not in g.edges
            for a in range(n) for b in range(a)
        ), g


@pytest.mark.parametrize("kind", KINDS)
def test_edge_order_is_random(kind):
    firsts, in_order = set(), 0
    for seed in range(200):
        edges = make_graph(random.Random(seed), 8, kind).edges
        firsts.add(edges[0])
        in_order += edges in (sorted(edges), sorted(edges, reverse=True))
    assert in_order < 10 and len(firsts) > 10


def test_binary_needs_four_nodes():
    with pytest.raises(ValueError):
        make_graph(random.Random(0), 3, "binary")


# ---------------------------------- CoT traces ----------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_cot_traces_are_the_official_dfs_walk(kind):
    for n in (4, 5, 6, 8, 12, 16, 25):
        for seed in range(25):
            check_cot_example(istree_example(random.Random(seed * 97 + n), n, "cot", kind), n)


def test_dfs_checker_rejects_corrupted_walks():
    """The checker itself can fail: truncated, extended and reordered walks are rejected."""
    rejected = {"truncate": 0, "extend": 0, "swap": 0}
    for seed in range(60):
        ex = istree_example(random.Random(seed), 8, "cot")
        g, _ = decoded_graph(ex.tokens, 8)
        trace = cot_trace(ex)
        kind, _ = check_dfs_walk(g, trace)
        corrupted = {"truncate": trace[:-1], "extend": trace + [trace[-2]] if len(trace) > 1 else None}
        firsts = [t for i, t in enumerate(trace) if t not in trace[:i]]
        if len(firsts) > 2:
            a, b = trace.index(firsts[1]), trace.index(firsts[2])
            swapped = list(trace)
            swapped[a], swapped[b] = swapped[b], swapped[a]
            corrupted["swap"] = swapped if swapped != trace else None
        for name, bad in corrupted.items():
            if bad is None or (name == "truncate" and len(trace) == 1):
                continue
            with pytest.raises(AssertionError):
                check_dfs_walk(g, bad)
            rejected[name] += 1
    assert all(v > 0 for v in rejected.values()), rejected


def test_cot_on_hand_made_graphs():
    tree = Graph(5, [(4, 0), (1, 0), (3, 1), (2, 1)], True)
    assert words(serialise(tree, "cot").answer) == "0 4 0 1 3 1 2 1 0 [EOS] [TRUE]".split()
    # cycle 0-1-2-0 seen from 2's side: stop at 2 before writing 0 again
    cyc = Graph(4, [(2, 1), (1, 0), (2, 0)], False)
    assert words(serialise(cyc, "cot").answer) == "0 1 2 [EOS] [FALSE]".split()
    # node 0 isolated: the walk is just "0"
    alone = Graph(4, [(3, 1), (2, 1), (3, 2)], False)
    assert words(serialise(alone, "cot").answer) == "0 [EOS] [FALSE]".split()


# ---------------------------------- retrieval traces ----------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_retrieval_results_match_retriever_and_brute_force(kind):
    for n in (4, 5, 6, 9, 12):
        for seed in range(12):
            check_retrieval_example(istree_example(random.Random(seed * 31 + n), n, "retrieval", kind), n)
    check_retrieval_example(istree_example(random.Random(5), 32, "retrieval", kind), 32)


def test_retrieval_back_edge_to_root_retrieves_failed_and_stops():
    cyc = Graph(4, [(1, 0), (2, 1), (2, 0)], False)
    w = words(serialise(cyc, "retrieval").answer)
    # 0 -> 1 -> 2, whose next neighbour after its parent 1 is the root: no record, [FAILED], stop
    tail = "1 [STARTSEARCH] 2 - 1 [ENDSEARCH] 0 [STARTSEARCH] 0 ~ [ENDSEARCH] [FAILED] [EOS] [FALSE]"
    assert w[-14:] == tail.split()


def test_retriever_searches_context_not_query_spans():
    r = InContextRetriever()
    ctx = "[BOS] 2 - 0 1 - 0 [EOS] 0 [STARTSEARCH] 0 - 1 [ENDSEARCH] [FAILED] [STARTSEARCH] 0 - 1 [ENDSEARCH]"
    assert decode(r(encode(ctx))) == "[FAILED]"  # query spans would add a second "0 - 1"
    assert decode(r(encode("[BOS] 2 - 0 1 - 0 [EOS] [STARTSEARCH] 0 - [ENDSEARCH]"))) == "2"
    assert decode(r(encode("[BOS] 2 - 0 1 - 0 [EOS] [STARTSEARCH] 0 - 2 [ENDSEARCH]"))) == "1"
    assert decode(r(encode("[BOS] 2 - 0 1 - 0 [EOS] [STARTSEARCH] 0 - 3 [ENDSEARCH]"))) == "[FAILED]"
    assert decode(r(encode("[BOS] 2 - 0 [EOS] [FAILED] 2 ~ 0 [STARTSEARCH] 2 ~ [ENDSEARCH]"))) == "0"
    assert decode(r(encode("[BOS] 2 - 0 [EOS] [STARTSEARCH] 2 ~ [ENDSEARCH]"))) == "[FAILED]"
    assert decode(r(encode("[BOS] 2 - 0 [EOS] [STARTSEARCH] ~ 2 - [ENDSEARCH]"))) == "[FAILED]"
    assert decode(r(encode("[BOS] 2 - 0 [EOS] [ENDSEARCH]"))) == "[FAILED]"
    assert r(encode("[BOS] 2 - 0 [EOS] [STARTSEARCH] 2 ~")) is None


# ---------------------------------- masks, lengths, determinism ----------------------------------

@pytest.mark.parametrize("fmt", ["no_cot", "cot", "retrieval"])
def test_target_masks(fmt):
    for seed in range(40):
        n = 4 + seed % 10
        ex = istree_example(random.Random(seed), n, fmt, KINDS[seed % 2])
        w = words(ex.tokens)
        assert ex.prompt_len == w.index("[EOS]") + 1
        assert not any(ex.target_mask[: ex.prompt_len]), "graph tokens are never targets"
        assert ex.target_mask[-1] and w[-1] in ("[TRUE]", "[FALSE]"), "the answer is always a target"
        for j in range(ex.prompt_len, len(w)):
            assert ex.target_mask[j] == (w[j - 1] != "[ENDSEARCH]"), (fmt, j, w[j])
        if fmt != "no_cot":
            assert w[-2] == "[EOS]" and ex.target_mask[-2]


def test_sequence_lengths():
    for n in (4, 6, 12, 16, 32):
        for seed in range(20):
            rng_seed = 17 * seed + n
            ex = istree_example(random.Random(rng_seed), n, "no_cot")
            assert len(ex.tokens) == 3 * (n - 1) + 3 and ex.prompt_len == 3 * (n - 1) + 2
            cot = istree_example(random.Random(rng_seed), n, "cot")
            ret = istree_example(random.Random(rng_seed), n, "retrieval")
            assert cot.tokens[: cot.prompt_len] == ex.tokens[: ex.prompt_len]  # same graph, same seed
            if label(ex):
                assert len(cot.tokens) == 5 * n  # prompt 3n-1, tour 2n-1, [EOS], answer
                assert len(ret.tokens) == 40 * n - 25
            else:
                assert len(cot.tokens) < 5 * n and len(ret.tokens) < 40 * n - 25


@pytest.mark.parametrize("fmt", ["no_cot", "cot", "retrieval"])
def test_determinism(fmt):
    a = [istree_example(random.Random(s), 10, fmt, "random") for s in range(5)]
    b = [istree_example(random.Random(s), 10, fmt, "random") for s in range(5)]
    assert a == b
    assert len({tuple(e.tokens) for e in a}) > 1


def test_vocab_and_answer_parsing():
    assert vocab_size(32) == 49
    assert max(max(istree_example(random.Random(s), 12, "retrieval").tokens) for s in range(20)) < vocab_size(12)
    prompt = encode("[BOS] 1 - 0 [EOS]")
    assert answer_from_generation(prompt + encode("0 1 [FALSE] [TRUE]")) is False
    assert answer_from_generation(prompt + encode("0 1 0 [EOS] [TRUE]"), len(prompt)) is True
    assert answer_from_generation(prompt + encode("0 1 0 [EOS] [EOS]")) is None


# ---------------------------------- fact lookup ----------------------------------

def parse_facts(voc: fl.FactVocab, tokens) -> tuple[dict[str, str], str]:
    w = voc.decode(tokens).split()
    prompt = w[: w.index("[EOS]")]
    table = {}
    for i in range(1, len(prompt) - 1):
        if prompt[i] == "=":
            assert prompt[i - 1] not in table, "keys are distinct"
            table[prompt[i - 1]] = prompt[i + 1]
    return table, prompt[prompt.index("[QUERY]") + 1]


@pytest.mark.parametrize("fmt", fl.FORMATS)
def test_fact_lookup_answers_by_dict(fmt):
    voc = fl.FactVocab()
    retr = fl.FactRetriever(voc)
    for seed in range(200):
        k = 1 + seed % 40
        ex = fl.fact_example(random.Random(seed), k, fmt, voc, fillers=seed % 7)
        table, query = parse_facts(voc, ex.tokens)
        w = voc.decode(ex.tokens).split()
        assert len(table) == k and w.count("[EOS]") == 1
        assert w[-1] == table[query] == f"v{fl.fact_answer(ex, voc)}"
        assert ex.prompt_len == w.index("[EOS]") + 1 and not any(ex.target_mask[: ex.prompt_len])
        assert fl.answer_from_generation(ex.tokens, ex.prompt_len, voc) == fl.fact_answer(ex, voc)
        assert max(ex.tokens) < voc.size
        if fmt == "direct":
            assert ex.answer == [voc.value(int(table[query][1:]))] and ex.target_mask[-1]
        else:
            assert w[ex.prompt_len: ex.prompt_len + 3] == ["[STARTSEARCH]", query, "[ENDSEARCH]"]
            j = ex.prompt_len + 3
            assert retr(ex.tokens[:j]) == [ex.tokens[j]] and w[j] == table[query]
            assert ex.target_mask[ex.prompt_len:] == [True, True, True, False, True]
            assert retr(ex.tokens[: j - 1]) is None


def test_fact_retriever_edge_cases():
    voc = fl.FactVocab(n_fillers=1, n_keys=4, n_values=4)
    r = fl.FactRetriever(voc)
    k, v = voc.key, voc.value
    ctx = [fl.BOS, k(0), fl.EQUALS, v(3), k(1), fl.EQUALS, v(2), fl.QUERY, k(2), fl.EOS]
    assert r(ctx + [fl.STARTSEARCH, k(1), fl.ENDSEARCH]) == [v(2)]
    assert r(ctx + [fl.STARTSEARCH, k(2), fl.ENDSEARCH]) == [fl.FAILED]  # no such fact
    assert r(ctx + [fl.STARTSEARCH, k(0), k(1), fl.ENDSEARCH]) == [fl.FAILED]  # malformed
    # a fact-shaped query span is not a fact
    spans = ctx + [fl.STARTSEARCH, k(2), fl.EQUALS, v(0), fl.ENDSEARCH, fl.FAILED]
    assert r(spans + [fl.STARTSEARCH, k(2), fl.ENDSEARCH]) == [fl.FAILED]


def test_fact_lookup_determinism_and_bounds():
    voc = fl.FactVocab()
    a = fl.fact_example(random.Random(3), 16, "retrieval", voc, fillers=4)
    assert a == fl.fact_example(random.Random(3), 16, "retrieval", voc, fillers=4)
    assert len(a.tokens) == 1 + 3 * 16 + 4 + 3 + 5
    with pytest.raises(ValueError):
        fl.fact_example(random.Random(0), voc.n_keys + 1, "direct", voc)
