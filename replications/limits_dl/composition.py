"""In-context function composition (Theorem 1, E1/E1b/E2) and its k-fold iterated form
(Theorem 2, E3) as token sequences, with a brute-force checker that re-reads the tables.

An instance holds k functions over a domain of size n, ``f1`` applied first; the answer is
``fk(...f1(x))``. For k = 2 the note's names are g = ``f1`` (A -> B) and f = ``f2`` (B -> C),
answer f(g(x)). (Texts that write g(f(x)) only swap the letters; here ``f1`` is always applied
first.)

Layout. A table block is the marker ``fi`` followed by its n (argument, value) pairs in a random
listing order; the query block is ``? x``; the prompt is ``<bos>``, the blocks in the chosen order,
then ``=``. Orders (letters: G = tables in application order f1..fk, F-G = reversed, X = query):

- ``G-F-X`` the theorem's order; ``X-G-F`` the query first (reviewer 1's question, E1b);
- ``F-G-X`` tables reversed; ``X-F-G`` query first, tables reversed.

Chain-of-thought modes (E3):

- ``none``: answer ``y <eos>``;
- ``offline``: the intermediates after the query, ``v1 .. vk <eos>`` (vk = y);
- ``online``: interleaved, order ``X-G-F`` only: ``? x f1-table = v1 f2-table = v2 ... <eos>``;
- ``reread``: the paper's CoT definition, where step r re-reads [previous output, whole prompt]:
  ``<prompt> v1 | tables = v2 | tables = v3 ... <eos>`` (tables repeated in prompt order, the
  query not repeated).

Supervision options (for the theorems' protocol; E1-E3):

- ``queries="all"``: after the tables, every argument is queried once, in random order:
  ``? x1 = y1 ? x2 = y2 ... <eos>`` (query-last orders only). n scored answers per sequence instead
  of one; distinct queries keep the information bound valid for the mean per-query accuracy (each
  answer is a function of the state after the tables and the queries so far);
- ``pairs=True``: each table entry is one token (``A0B1``, ``Vocab(pairs=True)``), so a model that
  reads one token at a time carries nothing between steps but its state.

In ``online``, ``reread`` and multi-query examples the tokens after ``prompt_len`` with ``target_mask`` False (later
tables, ``|``, ``=``) are given by the evaluator, not generated: the convention of
``common.tasks.Example`` for oracle-inserted tokens. ``OracleSplicer`` feeds them during
``common.decoding.retrieval_generate``.

Distribution: f1..f(k-1) uniform random permutations and fk a uniform random function, so the
composed map is uniform over all n^n functions (n log2 n bits of entropy, chance 1/n).

>>> inst = Instance(tables=((1, 2, 0), (2, 2, 1)), x=0)
>>> ex = encode(inst, order="G-F-X", cot="none", vocab=Vocab(max_n=3, max_levels=3))
>>> V = Vocab(max_n=3, max_levels=3)
>>> V.render(ex.prompt)
'<bos> f1 A0 B1 A1 B2 A2 B0 f2 B0 C2 B1 C2 B2 C1 ? A0 ='
>>> V.render(ex.answer), check(ex, V)
('C2 <eos>', True)
>>> V.render(encode(inst, order="X-G-F", cot="offline", vocab=V).tokens)
'<bos> ? A0 f1 A0 B1 A1 B2 A2 B0 f2 B0 C2 B1 C2 B2 C1 = B1 C2 <eos>'
"""
from __future__ import annotations

import random
from typing import Literal, get_args
from dataclasses import dataclass

from common.tasks import Example
from replications.limits_dl.vocab import VOCAB, Vocab

Order = Literal["G-F-X", "X-G-F", "F-G-X", "X-F-G"]
CotMode = Literal["none", "offline", "online", "reread"]
FunctionKind = Literal["perm-then-uniform", "uniform", "perm"]
Queries = Literal["one", "all"]
ORDERS, COT_MODES, FUNCTION_KINDS, QUERIES = (get_args(t) for t in (Order, CotMode, FunctionKind, Queries))


@dataclass(frozen=True)
class Instance:
    """``tables[i][a]`` is f_{i+1}(a); ``listing[i]`` the order in which table i's arguments are
    written (identity when None)."""

    tables: tuple[tuple[int, ...], ...]
    x: int
    listing: tuple[tuple[int, ...], ...] | None = None
    queries: tuple[int, ...] | None = None  # every query in order (x first); None: x only

    @property
    def n(self) -> int:
        return len(self.tables[0])

    @property
    def k(self) -> int:
        return len(self.tables)

    @property
    def query_list(self) -> tuple[int, ...]:
        return self.queries if self.queries is not None else (self.x,)

    def chain(self, x: int | None = None) -> list[int]:
        """[v1, ..., vk] with v_i = f_i(v_{i-1}), v_0 = x (default: the first query)."""
        out, v = [], self.x if x is None else x
        for t in self.tables:
            v = t[v]
            out.append(v)
        return out


def sample_instance(rng: random.Random, n: int, k: int = 2, function_kind: str = "perm-then-uniform",
                    queries: str = "one") -> Instance:
    """Random functions, query (``queries="all"``: a random order of every argument) and listing
    orders (see module docstring for the distribution)."""
    if function_kind not in FUNCTION_KINDS:
        raise ValueError(f"function_kind must be one of {FUNCTION_KINDS}")
    if n < 1 or k < 1:
        raise ValueError("need n >= 1 and k >= 1")
    tables = []
    for i in range(k):
        perm = function_kind == "perm" or (function_kind == "perm-then-uniform" and i < k - 1)
        tables.append(tuple(rng.sample(range(n), n)) if perm else tuple(rng.randrange(n) for _ in range(n)))
    if queries not in QUERIES:
        raise ValueError(f"queries must be one of {QUERIES}")
    listing = tuple(tuple(rng.sample(range(n), n)) for _ in range(k))
    if queries == "all":
        qs = tuple(rng.sample(range(n), n))
        return Instance(tables=tuple(tables), x=qs[0], listing=listing, queries=qs)
    return Instance(tables=tuple(tables), x=rng.randrange(n), listing=listing)


def _table_block(inst: Instance, i: int, vocab: Vocab) -> list[int]:
    """Marker f_{i+1} then the (argument, value) entries of table i: two tokens each, or one pair
    token each when the vocabulary has them."""
    order = inst.listing[i] if inst.listing is not None else range(inst.n)
    block = [vocab.marker(i + 1)]
    for a in order:
        b = inst.tables[i][a]
        block += [vocab.pair(i + 1, a, b)] if vocab.pairs else [vocab.value(i, a), vocab.value(i + 1, b)]
    return block


def encode(inst: Instance, order: str = "G-F-X", cot: str = "none", vocab: Vocab = VOCAB) -> Example:
    """Token layout of one instance (module docstring)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    if cot not in COT_MODES:
        raise ValueError(f"cot must be one of {COT_MODES}")
    if inst.k >= vocab.max_levels or inst.n > vocab.max_n:
        raise ValueError(f"instance (n={inst.n}, k={inst.k}) does not fit {vocab}")
    eq, eos = vocab.id("="), vocab.eos_id
    if len(inst.query_list) > 1 and cot == "online":
        raise ValueError("online CoT takes one query (queries='one')")
    chain = inst.chain()
    vals = [vocab.value(i + 1, v) for i, v in enumerate(chain)]
    table_ids = list(range(inst.k)) if "G-F" in order else list(range(inst.k))[::-1]
    tables = [_table_block(inst, i, vocab) for i in table_ids]
    query = [vocab.id("?"), vocab.value(0, inst.x)]
    x_first = order.startswith("X")

    tokens, mask = [vocab.bos_id], [False]

    def put(ids: list[int], target: bool) -> None:
        tokens.extend(ids)
        mask.extend([target] * len(ids))

    if cot == "online":
        if order != "X-G-F":
            raise ValueError("online CoT needs order X-G-F (query first, tables in application order)")
        put(query, False)
        put(tables[0] + [eq], False)
        prompt_len = len(tokens)
        for i in range(inst.k):
            if i:
                put(tables[i] + [eq], False)
            put([vals[i]], True)
        put([eos], True)
        return Example(tokens, mask, prompt_len)

    all_tables = [t for blk in tables for t in blk]
    if len(inst.query_list) > 1:
        if x_first:
            raise ValueError("several queries need a query-last order (G-F-X or F-G-X)")
        put(all_tables, False)
    else:
        put(query + all_tables if x_first else all_tables + query, False)
        put([eq], False)
    prompt_len = None
    for j, x in enumerate(inst.query_list):
        if len(inst.query_list) > 1:
            put([vocab.id("?"), vocab.value(0, x), eq], False)
        prompt_len = prompt_len or len(tokens)
        chain = inst.chain(x)
        vals = [vocab.value(i + 1, v) for i, v in enumerate(chain)]
        if cot == "none":
            put([vals[-1]], True)
        elif cot == "offline":
            put(vals, True)
        else:  # reread
            put([vals[0]], True)
            for r in range(1, inst.k):
                put([vocab.id("|")] + all_tables + [eq], False)
                put([vals[r]], True)
    put([eos], True)
    return Example(tokens, mask, prompt_len)


def sample(rng: random.Random, n: int, k: int = 2, order: str = "G-F-X", cot: str = "none",
           function_kind: str = "perm-then-uniform", vocab: Vocab = VOCAB, queries: str = "one") -> Example:
    """One random example (fresh functions every call: pure in-context, nothing to memorise).

    >>> V = Vocab(max_n=8, max_levels=3)
    >>> ex = sample(random.Random(0), n=8, k=2, cot="offline", vocab=V)
    >>> len(ex.tokens), ex.prompt_len, sum(ex.target_mask), check(ex, V)
    (41, 38, 3, True)
    """
    return encode(sample_instance(rng, n, k, function_kind, queries), order, cot, vocab)


def parse_prompt(tokens: list[int], vocab: Vocab = VOCAB) -> tuple[dict[int, dict[int, int]], list[int]]:
    """Re-read every table (marker then entries: value pairs or pair tokens) and every query from a
    token list.

    Returns ({i: {argument: value}} with i 1-based, [queries in order]). Raises ValueError if a
    repeated table disagrees with its first copy or an entry has the wrong levels.
    """
    tables: dict[int, dict[int, int]] = {}
    xs, pos, q = [], 0, vocab.id("?")
    while pos < len(tokens):
        tok = tokens[pos]
        i = vocab.marker_index(tok)
        if tok == q and pos + 1 < len(tokens):
            lv = vocab.value_of(tokens[pos + 1])
            if lv is None or lv[0] != 0:
                raise ValueError("query must be a level-0 value")
            xs.append(lv[1])
            pos += 2
            continue
        if i is None:
            pos += 1
            continue
        pos += 1
        entries: dict[int, int] = {}
        while pos < len(tokens):
            pair = vocab.pair_of(tokens[pos])
            if pair is not None:
                if pair[0] != i or pair[1] in entries:
                    raise ValueError(f"malformed entry in table f{i}")
                entries[pair[1]] = pair[2]
                pos += 1
                continue
            if pos + 1 >= len(tokens) or vocab.value_of(tokens[pos]) is None:
                break
            (la, a), lb_v = vocab.value_of(tokens[pos]), vocab.value_of(tokens[pos + 1])
            if lb_v is None or la != i - 1 or lb_v[0] != i or a in entries:
                raise ValueError(f"malformed entry in table f{i}")
            entries[a] = lb_v[1]
            pos += 2
        if i in tables and tables[i] != entries:
            raise ValueError(f"repeated table f{i} differs from its first copy")
        tables[i] = entries
    return tables, xs


def parse_tables(tokens: list[int], vocab: Vocab = VOCAB) -> tuple[dict[int, dict[int, int]], int | None]:
    """``parse_prompt`` with only the first query (None when there is none)."""
    tables, xs = parse_prompt(tokens, vocab)
    return tables, (xs[0] if xs else None)


def _chain(tables: dict[int, dict[int, int]], x: int) -> list[int]:
    if not tables or sorted(tables) != list(range(1, len(tables) + 1)):
        raise ValueError("need tables f1..fk")
    chain, v = [], x
    for i in range(1, len(tables) + 1):
        v = tables[i][v]
        chain.append(v)
    return chain


def solve(tokens: list[int], vocab: Vocab = VOCAB) -> list[int]:
    """Brute-force chain [v1..vk] of the first query by table lookup on the tables in ``tokens``."""
    tables, xs = parse_prompt(tokens, vocab)
    if not xs:
        raise ValueError("need a query")
    return _chain(tables, xs[0])


def check(example: Example, vocab: Vocab = VOCAB) -> bool:
    """True iff the example is well formed and its scored tokens are the right answers: per query
    either ``y`` or the full chain ``v1 .. vk``, then ``<eos>``; every table complete over one domain;
    several queries only when they are distinct."""
    toks, mask = example.tokens, example.target_mask
    if toks[0] != vocab.bos_id or any(mask[: example.prompt_len]) or toks[example.prompt_len - 1] != vocab.id("="):
        return False
    given = [t for t, m in zip(toks, mask) if not m]
    try:
        tables, xs = parse_prompt(given, vocab)
        chains = [_chain(tables, x) for x in xs]
    except (ValueError, KeyError):
        return False
    n = len(tables[1])
    if not xs or len(set(xs)) != len(xs) or any(sorted(t) != list(range(n)) or max(t.values()) >= n
                                                 for t in tables.values()):
        return False
    targets = [t for t, m in zip(toks, mask) if m]
    final = [vocab.value(len(c), c[-1]) for c in chains] + [vocab.eos_id]
    full = [vocab.value(i + 1, v) for c in chains for i, v in enumerate(c)] + [vocab.eos_id]
    return targets in (final, full)


class OracleSplicer:
    """Retriever for ``common.decoding.retrieval_generate``: after each generated token, returns the
    example's next run of evaluator-given tokens (``target_mask`` False), so online / re-read CoT
    examples can be decoded. Examples are found by their prompt; prompts must be distinct.

    >>> V = Vocab(max_n=2, max_levels=3)
    >>> ex = encode(Instance(tables=((1, 0), (1, 1)), x=1), order="X-G-F", cot="online", vocab=V)
    >>> splice, seq = OracleSplicer([ex]), ex.prompt + [V.id("B0")]  # the model wrote v1 = B0
    >>> V.render(splice(seq))
    'f2 B0 C1 B1 C1 ='
    """

    def __init__(self, examples: list[Example]):
        self._by_prompt = {tuple(e.prompt): e for e in examples}
        if len(self._by_prompt) != len(examples):
            raise ValueError("prompts must be distinct")
        self._lengths = sorted({e.prompt_len for e in examples})

    def __call__(self, seq: list[int]) -> list[int] | None:
        ex = next((e for L in self._lengths if (e := self._by_prompt.get(tuple(seq[:L]))) is not None), None)
        if ex is None:
            return None
        run, pos = [], len(seq)
        while pos < len(ex.tokens) and not ex.target_mask[pos]:
            run.append(ex.tokens[pos])
            pos += 1
        return run or None
