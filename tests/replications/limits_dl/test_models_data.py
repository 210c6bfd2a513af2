"""The replication's models (p-bit state SSM, hand-set counter SSM), DataModules and bounds."""
import itertools
import math
import random

import pytest
import torch

from common.decoding import greedy_generate
from replications.limits_dl import bounds as B
from replications.limits_dl import composition as C
from replications.limits_dl import formal_languages as FL
from replications.limits_dl import quantize as Q
from replications.limits_dl.data import CompositionDataModule, CountingDataModule
from replications.limits_dl.models import CounterSSM, QuantSSM, _QuantizeSTE
from replications.limits_dl.vocab import VOCAB


@pytest.mark.parametrize("bits", [None, 1, 3])
@pytest.mark.parametrize("context,n_layer", [(1, 1), (2, 2), (3, 1)])
def test_quant_ssm_step_matches_forward(bits, context, n_layer):
    m = QuantSSM(20, d_model=16, d_state=6, n_layer=n_layer, bits=bits, context=context).eval()
    idx = torch.randint(0, 20, (3, 11))
    full = m(idx)
    logits, state = m.step(idx[:, :5], m.init_state(3))
    parts = [logits]
    for t in range(5, 11):
        lg, state = m.step(idx[:, t: t + 1], state)
        parts.append(lg)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


@pytest.mark.parametrize("bits,d", [(1, 3), (2, 2), (3, 1)])
def test_quantised_state_lives_on_the_p_bit_grid_and_has_at_most_2_dp_values(bits, d):
    m = QuantSSM(12, d_model=8, d_state=d, bits=bits, context=2)
    with torch.no_grad():  # large random weights so the state moves a lot
        for p in m.parameters():
            p.normal_(0, 2.0)
    traj = m.states(torch.randint(0, 12, (64, 40)))[0]
    grid = Q.levels(bits)
    assert torch.isin(traj, grid).all()
    distinct = {tuple(v) for v in traj.reshape(-1, d).tolist()}
    assert 1 < len(distinct) <= 2 ** (d * bits)
    assert m.state_bits(math.log2(8)) == d * bits + 3
    assert QuantSSM(12, d_state=d, bits=None).state_bits(3) is None


def test_float_state_is_not_on_the_grid():
    m = QuantSSM(12, d_model=8, d_state=4, bits=None)
    traj = m.states(torch.randint(0, 12, (8, 20)))[0]
    assert not torch.isin(traj, Q.levels(3)).all()


def test_fused_quantiser_equals_reference_ste():
    x = torch.tensor([-1.7, -0.9, -0.2, 0.05, 0.6, 1.0, 1.3], requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    w = torch.arange(1.0, 8.0)
    (_QuantizeSTE.apply(x, 2) * w).sum().backward()
    (Q.quantize_ste(x2, 2) * w).sum().backward()
    assert torch.equal(_QuantizeSTE.apply(x.detach(), 2), Q.quantize_ste(x2.detach(), 2))
    assert torch.equal(x.grad, x2.grad)


EXPECTED = {"bfloat16": 256, "float16": 2048}


@pytest.mark.parametrize("dtype", list(EXPECTED))
def test_counter_ssm_completes_exactly_up_to_the_dtype_limit_and_not_one_further(dtype):
    N = EXPECTED[dtype]
    m = CounterSSM(VOCAB.size, dtype=dtype)
    for n, ok in [(N - 1, True), (N, True), (N + 1, False), (N + 2, False)]:
        ex = FL.encode_completion("a" * n + "b", "anbn")
        out = greedy_generate(m, torch.tensor([ex.prompt]), len(ex.answer))
        assert (out[0].tolist() == ex.answer) is ok, (dtype, n)


def test_counter_ssm_float32_is_exact_far_past_the_half_precision_limits():
    m = CounterSSM(VOCAB.size, dtype="float32")
    ex = FL.encode_completion("a" * 5000 + "b", "anbn")
    assert greedy_generate(m, torch.tensor([ex.prompt]), len(ex.answer))[0].tolist() == ex.answer
    assert m.state_bits() == 32
    with pytest.raises(ValueError):
        CounterSSM(VOCAB.size, dtype="int8")


@pytest.mark.parametrize("order,cot,k", [("G-F-X", "none", 2), ("X-G-F", "online", 3), ("X-G-F", "reread", 2),
                                         ("G-F-X", "offline", 1)])
def test_composition_datamodule_examples_check_and_retriever(order, cot, k):
    dm = CompositionDataModule(n=6, k=k, order=order, cot=cot, max_n=8, eval_examples=10)
    rng = random.Random(0)
    assert all(C.check(dm.train_example(rng), dm.vocab) for _ in range(50))
    assert list(dm.eval_sets("test")) == ["first", "final", "chain"] and dm.vocab_size == dm.vocab.size
    batch = dm.train_batch(rng)
    assert batch["inputs"].max() < dm.vocab_size
    assert (dm.retriever is None) == (cot not in ("online", "reread"))
    assert dm.max_eval_tokens() >= len(dm.train_example(rng).tokens)


def test_composition_datamodule_rejects_bad_settings():
    with pytest.raises(ValueError):
        CompositionDataModule(n=10, max_n=8)
    with pytest.raises(ValueError):
        CompositionDataModule(n=8, order="G-F-X", cot="online")
    with pytest.raises(ValueError, match="query-last"):
        CompositionDataModule(n=4, order="X-G-F", queries="all")
    # choice values off their lists: tests/common/test_bad_input.py (trials L4, L6, the parser's Literal check)


@pytest.mark.parametrize("cot,k", [("none", 1), ("offline", 2), ("reread", 2)])
def test_scoring_views_mask_answer_values_only(cot, k):
    """first: one position per row, the first query's final value; final: every query's final value
    (n per row, never <eos> nor an intermediate); chain: every scored token."""
    n = 4
    dm = CompositionDataModule(n=n, k=k, cot=cot, queries="all", pairs=True, eval_examples=40)
    data = dm.eval_data("val")
    examples = {tuple(e.prompt): e for e in dm.eval_examples_of("val")}
    for b_first, b_final, b_chain in zip(data["first"], data["final"], data["chain"]):
        assert (b_first["answer_mask"].sum(1) == 1).all() and (b_final["answer_mask"].sum(1) == n).all()
        for row in range(len(b_first["prompt"])):
            ex = examples[tuple(b_first["prompt"][row].tolist())]
            names = [dm.vocab.name(t) for t in ex.answer]
            final_names = [x for x, m in zip(names, b_final["answer_mask"][row][: len(names)]) if m]
            solved = [C._chain(C.parse_prompt(ex.tokens, dm.vocab)[0], x)[-1]
                      for x in C.parse_prompt(ex.tokens, dm.vocab)[1]]
            assert final_names == [f"{chr(ord('A') + k)}{v}" for v in solved]
            first = [x for x, m in zip(names, b_first["answer_mask"][row][: len(names)]) if m]
            assert first == final_names[:1]
            assert b_chain["answer_mask"][row][: len(names)].tolist() == ex.target_mask[ex.prompt_len:]


def test_multi_query_evaluation_prompts_are_distinct_and_the_splicer_feeds_later_queries():
    dm = CompositionDataModule(n=4, k=1, queries="all", pairs=True, eval_examples=200)
    val, test = dm.eval_examples_of("val"), dm.eval_examples_of("test")
    prompts = [tuple(e.prompt) for e in val + test]
    assert len(set(prompts)) == len(prompts) == 400
    ex = test[0]
    given = dm.retriever(ex.prompt + [ex.tokens[ex.prompt_len]])  # after the first answer
    assert [dm.vocab.name(t) for t in given][0] == "?" and len(given) == 3


def test_perfect_and_one_wrong_predictions_score_as_the_views_say():
    """Scoring through SequenceLM's own metric path: a prediction wrong only on the second query
    keeps first-query accuracy 1 and per-query accuracy 3/4."""
    from common.lit.module import exact_match

    dm = CompositionDataModule(n=4, k=1, queries="all", pairs=True, eval_examples=16)
    data = dm.eval_data("val")
    for view, want_tok in (("first", 1.0), ("final", 0.75)):
        for b in data[view]:
            pred = b["answer"].clone()
            final = dm.view_mask(b, "final")
            second = final.cumsum(1) == 2
            pred[second & final] = dm.vocab.value(1, 0) + (pred[second & final] - dm.vocab.value(1, 0) + 1) % 4
            mask = b["answer_mask"]
            tok = ((pred == b["answer"]) & mask).sum() / mask.sum()
            assert float(tok) == want_tok
            assert bool(exact_match(pred, b["answer"], mask)[1].all()) == (view == "first")


@pytest.mark.parametrize("eval_range", ["exact", "upto"])
def test_counting_datamodule(eval_range):
    dm = CountingDataModule(min_train_len=2, max_train_len=9, val_lengths=[5], test_lengths=[5, 12],
                            eval_range=eval_range)
    rng = random.Random(1)
    for _ in range(30):
        ex = dm.train_example(rng)
        assert FL.check(ex, dm.vocab) and 2 <= ex.prompt.count(dm.vocab.id("a")) <= 9
    sets = dm.eval_sets("test")
    assert list(sets) == ["n=5", "n=12"]
    ns = {sets["n=12"](rng).prompt.count(dm.vocab.id("a")) for _ in range(60)}
    assert ns == {12} if eval_range == "exact" else (len(ns) > 3 and max(ns) <= 12)
    assert dm.max_eval_tokens() == 26


def test_fano_bound_properties():
    for n in (4, 8, 16):
        assert B.fano_accuracy_bound(n, 0) == pytest.approx(1 / n, abs=1e-6)
        assert B.fano_accuracy_bound(n, n * math.log2(n)) == 1.0
        vals = [B.fano_accuracy_bound(n, s) for s in range(0, int(n * math.log2(n)) + 1)]
        assert all(a <= b + 1e-12 for a, b in zip(vals, vals[1:]))


def test_fano_bound_is_above_the_true_optimum_for_a_tiny_case():
    """n = 2, one bit of state: brute force over every state map and its best decoder."""
    fns = list(itertools.product(range(2), repeat=2))
    best = 0.0
    for assign in itertools.product(range(2), repeat=len(fns)):
        right = 0
        for s in range(2):
            group = [f for f, a in zip(fns, assign) if a == s]
            right += sum(max(sum(f[x] == y for f in group) for y in range(2)) for x in range(2))
        best = max(best, right / (len(fns) * 2))
    assert best == 0.75 and best <= B.fano_accuracy_bound(2, 1)


def test_theorem1_as_stated():
    assert B.theorem1_accuracy_upper_bound(8, 2, 2) == pytest.approx(1 - 12 / 72)


def test_theorem1_as_stated_is_never_tighter_than_fano():
    """Why the configs carry Fano checks only: on this grid Theorem 1's bound (state (d^2 + d) p)
    allows at least what Fano allows for the d p bits the model actually has."""
    looser = [(n, d, p) for n in (4, 8, 16, 64) for d in (1, 2, 4, 8, 32, 128) for p in range(1, 9)
              if B.theorem1_accuracy_upper_bound(n, d, p) < B.fano_accuracy_bound(n, d * p) - 1e-9]
    assert looser == []
