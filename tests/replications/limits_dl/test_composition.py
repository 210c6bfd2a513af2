"""In-context function composition: generator vs an independent re-reading of the token names,
hand-checked layouts for every order and CoT mode, and checker rejection of corrupted examples."""
import dataclasses
import random
from collections import Counter

import pytest

from common.tasks import Example
from replications.limits_dl import composition as C
from replications.limits_dl.vocab import Vocab

V = Vocab(max_n=16, max_levels=5)


def independent_chain(names: list[str]) -> list[int]:
    """Re-read tables from token *names* alone: a value name is a letter (level) and a number;
    an (A.., B..) pair belongs to f1, (B.., C..) to f2, and so on; the query follows '?'."""
    tables, x = {}, None
    for i, name in enumerate(names):
        if name == "?":
            x = int(names[i + 1][1:])
    pairs = [(names[i], names[i + 1]) for i in range(len(names) - 1)
             if names[i][0].isupper() and names[i + 1][0].isupper()
             and ord(names[i + 1][0]) == ord(names[i][0]) + 1 and names[i - 1] != "?"]
    for a, b in pairs:
        tables.setdefault(ord(a[0]) - ord("A") + 1, {})[int(a[1:])] = int(b[1:])
    chain, v = [], x
    for i in sorted(tables):
        v = tables[i][v]
        chain.append(v)
    return chain


CASES = [(order, cot) for order in C.ORDERS for cot in ("none", "offline", "reread")] + [("X-G-F", "online")]


@pytest.mark.parametrize("order,cot", CASES)
@pytest.mark.parametrize("n,k", [(1, 1), (2, 2), (5, 2), (16, 2), (7, 3), (9, 4)])
def test_generator_matches_checker_and_independent_solver(order, cot, n, k):
    rng = random.Random(1000 * n + k)
    for _ in range(25):
        ex = C.sample(rng, n=n, k=k, order=order, cot=cot, vocab=V)
        assert C.check(ex, V)
        given = [V.name(t) for t, m in zip(ex.tokens, ex.target_mask) if not m]
        chain = independent_chain(given)
        assert len(chain) == k
        targets = [V.name(t) for t, m in zip(ex.tokens, ex.target_mask) if m]
        want = [f"{chr(ord('A') + k)}{chain[-1]}"] if cot == "none" else \
            [f"{chr(ord('A') + i + 1)}{v}" for i, v in enumerate(chain)]
        assert targets == want + ["<eos>"]
        assert ex.prompt_len == ex.target_mask.index(True)


INST = C.Instance(tables=((1, 0), (1, 1)), x=1)  # f1 = swap, f2 = constant 1; f1(1) = 0, f2(0) = 1
W = Vocab(max_n=2, max_levels=3)
G, F = "f1 A0 B1 A1 B0", "f2 B0 C1 B1 C1"
LAYOUTS = {
    ("G-F-X", "none"): f"<bos> {G} {F} ? A1 = | C1 <eos>",
    ("X-G-F", "none"): f"<bos> ? A1 {G} {F} = | C1 <eos>",
    ("F-G-X", "none"): f"<bos> {F} {G} ? A1 = | C1 <eos>",
    ("X-F-G", "none"): f"<bos> ? A1 {F} {G} = | C1 <eos>",
    ("G-F-X", "offline"): f"<bos> {G} {F} ? A1 = | B0 C1 <eos>",
    ("X-G-F", "online"): f"<bos> ? A1 {G} = | B0 {F} = C1 <eos>",
    ("G-F-X", "reread"): f"<bos> {G} {F} ? A1 = | B0 | {G} {F} = C1 <eos>",
    ("F-G-X", "reread"): f"<bos> {F} {G} ? A1 = | B0 | {F} {G} = C1 <eos>",
}


@pytest.mark.parametrize("order,cot", list(LAYOUTS))
def test_documented_layout_by_hand(order, cot):
    """Hand-written expected sequences; ' | ' (surrounded by spaces, first occurrence) marks
    prompt_len in the expected string, the repeated-table separator is a real '|' token."""
    ex = C.encode(INST, order=order, cot=cot, vocab=W)
    prompt, rest = LAYOUTS[(order, cot)].split(" | ", 1)
    assert W.render(ex.prompt) == prompt
    assert W.render(ex.answer) == rest
    assert C.check(ex, W)


def test_online_oracle_tokens_are_not_targets():
    ex = C.encode(INST, order="X-G-F", cot="online", vocab=W)
    scored = [W.name(t) for t, m in zip(ex.tokens, ex.target_mask) if m]
    assert scored == ["B0", "C1", "<eos>"]
    after = [W.name(t) for t, m in zip(ex.tokens[ex.prompt_len:], ex.target_mask[ex.prompt_len:]) if not m]
    assert after == F.split() + ["="]


@pytest.mark.parametrize("order", ["G-F-X", "F-G-X", "X-F-G"])
def test_online_needs_query_first_in_application_order(order):
    with pytest.raises(ValueError):
        C.encode(INST, order=order, cot="online", vocab=W)


def _corrupt(ex: Example, pos: int, new: int) -> Example:
    toks = list(ex.tokens)
    toks[pos] = new
    return dataclasses.replace(ex, tokens=toks)


def test_checker_rejects_wrong_answers_and_broken_tables():
    rng = random.Random(7)
    rejected = 0
    for _ in range(50):
        ex = C.sample(rng, n=8, k=2, cot="offline", vocab=V)
        last = len(ex.tokens) - 2  # final answer position
        lv, y = V.value_of(ex.tokens[last])
        assert not C.check(_corrupt(ex, last, V.value(lv, (y + 1) % 8)), V)
        assert not C.check(_corrupt(ex, last - 1, V.value(1, (V.value_of(ex.tokens[last - 1])[1] + 3) % 8)), V)
        # duplicate an argument inside table f1 (position 2 is f1's first argument, 4 the second)
        assert not C.check(_corrupt(ex, 4, ex.tokens[2]), V)
        rejected += 1
    assert rejected == 50


def test_distribution_inner_permutation_outer_uniform():
    rng = random.Random(3)
    collisions, answers = 0, Counter()
    for _ in range(400):
        inst = C.sample_instance(rng, n=6, k=3)
        assert sorted(inst.tables[0]) == list(range(6)) and sorted(inst.tables[1]) == list(range(6))
        collisions += len(set(inst.tables[2])) < 6
        answers[inst.chain()[-1]] += 1
    assert collisions > 300  # a uniform map on 6 points is a permutation with prob 6!/6^6 ~ 1.5 %
    assert set(answers) == set(range(6)) and min(answers.values()) > 30  # ~67 expected each


def test_repeated_table_must_agree():
    ex = C.encode(INST, order="G-F-X", cot="reread", vocab=W)
    bar = ex.tokens.index(W.id("|"))
    # change a value inside the repeated f1 table only
    assert not C.check(_corrupt(ex, bar + 3, W.value(1, 0)), W)


@pytest.mark.parametrize("order,cot", [("X-G-F", "online"), ("G-F-X", "reread"), ("X-F-G", "reread"),
                                       ("G-F-X", "none")])
def test_oracle_splicer_rebuilds_the_sequence_around_generated_targets(order, cot):
    """Decode with a perfect 'model' (writes the next target); spliced tokens must fill the rest."""
    rng = random.Random(8)
    exs = [C.sample(rng, n=6, k=3, order=order, cot=cot, vocab=V) for _ in range(20)]
    splice = C.OracleSplicer(exs)
    for ex in exs:
        seq = list(ex.prompt)
        while len(seq) < len(ex.tokens):
            assert ex.target_mask[len(seq)]  # the splicer never leaves a given token to the model
            seq.append(ex.tokens[len(seq)])
            seq += splice(seq) or []
        assert seq == ex.tokens


def test_checker_rejects_values_outside_the_domain():
    ex = C.encode(INST, order="G-F-X", cot="none", vocab=V)  # n = 2 inside a max_n = 16 vocabulary
    assert C.check(ex, V)
    pos = ex.tokens.index(V.value(1, 1))  # f1(0) = 1 -> 5, a value no argument of f2 covers
    assert not C.check(_corrupt(ex, pos, V.value(1, 5)), V)
