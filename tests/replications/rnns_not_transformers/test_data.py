"""DataModules of "RNNs are not Transformers (Yet)": pools, evaluation sets, scoring, and decoding with the retriever.

The decoding tests drive ``SequenceLM.generate_answers`` with an oracle model that knows the
official trace but writes a wrong token wherever a retrieval result is due: the gold trace comes
out only if the DataModule's retriever, searching the generated context, supplies every result.
"""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from common.lit.module import SequenceLM
from common.models.base import SequenceModel
from common.seeding import rng_for
from replications.rnns_not_transformers import fact_lookup as fl
from replications.rnns_not_transformers.data import FactLookupDataModule, IsTreeDataModule
from replications.rnns_not_transformers.graphs import Graph, is_tree
from replications.rnns_not_transformers.istree import istree_example, label, serialise
from replications.rnns_not_transformers.vocab import ENDSEARCH, EOS, FALSE, PAD, TRUE, node_of, vocab_size


# ---------------------------------- pools and evaluation sets ----------------------------------

def test_training_batches_are_seeded_per_step_and_come_from_the_pool():
    dm = IsTreeDataModule(n_nodes=6, format="cot", train_pool=1000, batch_size=5, seed=3)
    a, b = dm.train_batch(rng_for(3, "train", 0)), dm.train_batch(rng_for(3, "train", 0))
    c = dm.train_batch(rng_for(3, "train", 1))
    assert torch.equal(a["inputs"], b["inputs"]) and not torch.equal(a["inputs"], c["inputs"])
    assert torch.equal(a["inputs"][:, 1:], a["targets"][:, :-1])
    # Every training example is pool example i, generated from (seed, "pool", i).
    pool = {tuple(istree_example(rng_for(3, "pool", i), 6, "cot").tokens) for i in range(1000)}
    for row, mask in zip(torch.cat([a["inputs"], a["targets"][:, -1:]], 1).tolist(), a["loss_mask"].tolist()):
        length = len(row) - next((i for i, t in enumerate(reversed(row)) if t != PAD), 0)
        assert tuple(row[:length]) in pool


def test_a_small_pool_repeats_and_no_pool_does_not():
    small = IsTreeDataModule(n_nodes=8, format="no_cot", train_pool=3, batch_size=16)
    rows = {tuple(r) for s in range(4) for r in small.train_batch(rng_for(0, "train", s))["inputs"].tolist()}
    assert len(rows) <= 3
    fresh = IsTreeDataModule(n_nodes=8, format="no_cot", train_pool=None, batch_size=16)
    rows = {tuple(r) for s in range(4) for r in fresh.train_batch(rng_for(0, "train", s))["inputs"].tolist()}
    assert len(rows) > 40


def test_eval_sets_are_fixed_independent_of_the_training_seed_and_val_differs_from_test():
    d1 = IsTreeDataModule(n_nodes=6, format="cot", eval_examples=40, seed=1)
    d2 = IsTreeDataModule(n_nodes=6, format="cot", eval_examples=40, seed=2)
    assert d1.eval_set_names("val") == ["n=6"]
    v1, v2, t1 = d1.eval_data("val")["n=6"], d2.eval_data("val")["n=6"], d1.eval_data("test")["n=6"]
    assert torch.equal(v1[0]["prompt"], v2[0]["prompt"]) and not torch.equal(v1[0]["prompt"], t1[0]["prompt"])
    labels = [answer[m][-1].item() for b in v1 for answer, m in zip(b["answer"], b["answer_mask"])]
    assert len(labels) == 40 and {TRUE, FALSE} == set(labels)


@pytest.mark.parametrize("fmt", ["no_cot", "cot", "retrieval"])
def test_vocab_retriever_and_longest_sequence(fmt):
    dm = IsTreeDataModule(n_nodes=7, format=fmt)
    assert dm.vocab_size == vocab_size(7) == 24
    assert (dm.retriever is not None) == (fmt == "retrieval")
    lengths = [len(istree_example(random.Random(s), 7, fmt).tokens) for s in range(200)]
    assert max(lengths) == dm.max_eval_tokens()  # a tree attains the bound, nothing exceeds it


def test_bad_arguments_fail_with_the_key_to_fix():
    # format and graph_type off their lists: tests/common/test_bad_input.py (trials L1, L2, the parser's check)
    for kwargs, key in [({"n_nodes": 3}, "data.n_nodes"), ({"train_pool": 0}, "data.train_pool")]:
        with pytest.raises(ValueError, match=key):
            IsTreeDataModule(**kwargs)


# ---------------------------------- scoring ----------------------------------

def batch_of(examples):
    plen = examples[0].prompt_len
    width = max(len(e.answer) for e in examples)
    answer = torch.full((len(examples), width), PAD)
    mask = torch.zeros((len(examples), width), dtype=torch.bool)
    for i, e in enumerate(examples):
        answer[i, : len(e.answer)] = torch.tensor(e.answer)
        mask[i, : len(e.answer)] = torch.tensor(e.target_mask[plen:])
    return {"prompt": torch.tensor([e.prompt for e in examples]), "answer": answer, "answer_mask": mask}


def test_score_reads_the_first_answer_token_after_the_prompt():
    dm = IsTreeDataModule(n_nodes=6, format="cot")
    exs = [istree_example(random.Random(s), 6, "cot") for s in range(12)]
    batch = batch_of(exs)
    token_ok, paper, extra = dm.score(batch["answer"].clone(), batch)
    assert (paper == 1).all() and (extra["acc_strict"] == 1).all() and token_ok.all()
    # A wrong trace with the right answer counts (the metric scores the answer only) ...
    pred = batch["answer"].clone()
    pred[:, 1] = pred[:, 1] + 1 if pred.shape[1] > 2 else pred[:, 1]
    token_ok, paper, extra = dm.score(pred, batch)
    assert (paper == 1).all() and (extra["acc_strict"] == 1).all() and not token_ok.all()
    # ... the opposite answer scores 0, and the first answer written wins ...
    flip = {TRUE: FALSE, FALSE: TRUE}
    pred = torch.tensor([[flip.get(t, t) for t in row] for row in batch["answer"].tolist()])
    assert (dm.score(pred, batch)[1] == 0).all()
    gold = [TRUE if label(e) else FALSE for e in exs]
    first = torch.tensor([[flip[g]] + [g] * (pred.shape[1] - 1) for g in gold])
    assert (dm.score(first, batch)[1] == 0).all()
    # ... and no answer at all scores 0.5 in the paper's metric, 0 in the strict one.
    _, paper, extra = dm.score(torch.full_like(batch["answer"], EOS), batch)
    assert (paper == 0.5).all() and (extra["acc_strict"] == 0).all()


def test_paper_score_is_strict_plus_half_the_unanswered():
    dm = IsTreeDataModule(n_nodes=6, format="cot")
    exs = [istree_example(random.Random(s), 6, "cot") for s in range(9)]
    batch = batch_of(exs)
    pred = batch["answer"].clone()
    flip = {TRUE: FALSE, FALSE: TRUE}
    pred[3:6] = torch.tensor([[flip.get(t, t) for t in row] for row in pred[3:6].tolist()])  # 3 wrong
    pred[6:] = EOS  # 3 unanswered
    _, paper, extra = dm.score(pred, batch)
    assert paper.tolist() == [1.0] * 3 + [0.0] * 3 + [0.5] * 3
    assert extra["acc_strict"].tolist() == [1.0] * 3 + [0.0] * 6


def test_fact_lookup_score_skips_the_retrieved_value():
    voc = fl.FactVocab(n_fillers=2, n_keys=8, n_values=8)
    dm = FactLookupDataModule(n_facts=4, format="retrieval", n_keys=8, n_values=8, n_fillers=2)
    exs = [fl.fact_example(random.Random(s), 4, "retrieval", voc) for s in range(6)]
    batch = batch_of(exs)
    assert dm.score(batch["answer"].clone(), batch)[1].all()
    pred = batch["answer"].clone()
    pred[:, -1] = torch.tensor([voc.value((fl.fact_answer(e, voc) + 1) % 8) for e in exs])
    assert not dm.score(pred, batch)[1].any()  # the retrieved value alone is not the model's answer


# ---------------------------------- decoding with the retriever ----------------------------------

def graph_from_prompt(prompt: list[int], n: int) -> Graph:
    """The graph written in an IsTree prompt ``[BOS] u - v ... [EOS]``, labelled by union-find."""
    body = prompt[1: prompt.index(EOS)]
    edges = [(node_of(body[i]), node_of(body[i + 2])) for i in range(0, len(body), 3)]
    return Graph(n, edges, is_tree(n, edges))


class OracleModel(SequenceModel):
    """Predicts the official trace of the graph in its prompt, except a wrong token (PAD) wherever
    a retrieval result is due; its state is the token list of each row."""

    def __init__(self, vocab: int, fmt: str, n: int):
        super().__init__()
        self.vocab_size, self.fmt, self.n = vocab, fmt, n
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def _next(self, seq: list[int]) -> int:
        if EOS not in seq:  # inside the prompt (prefill): nothing to predict
            return PAD
        gold = serialise(graph_from_prompt(seq, self.n), self.fmt).tokens
        if seq[-1] == ENDSEARCH or len(seq) >= len(gold) or gold[: len(seq)] != seq:
            return PAD
        return gold[len(seq)]

    def _logits(self, seqs):
        out = torch.full((len(seqs), 1, self.vocab_size), -1.0)
        for i, s in enumerate(seqs):
            out[i, 0, self._next(s)] = 1.0
        return out

    def init_state(self, batch_size, device=None):
        return [[] for _ in range(batch_size)]

    def step(self, idx, state):
        logits = []
        for t in range(idx.shape[1]):
            for row, tok in zip(state, idx[:, t].tolist()):
                row.append(tok)
            logits.append(self._logits(state))
        return torch.cat(logits, 1), state

    def forward(self, idx):
        return self.step(idx, self.init_state(idx.shape[0]))[0]

    def state_size(self, seq_len):
        return seq_len


def attach(lm: SequenceLM, dm) -> None:
    """Give the module the one thing ``generate_answers`` reads from a fitted trainer: the DataModule."""
    lm._trainer = SimpleNamespace(datamodule=dm)


@pytest.mark.parametrize("fmt", ["cot", "retrieval"])
def test_generation_with_the_datamodules_retriever_reproduces_the_gold_trace(fmt):
    n = 7
    dm = IsTreeDataModule(n_nodes=n, format=fmt, eval_examples=16, eval_batch_size=16)
    lm = SequenceLM(lambda v: OracleModel(v, fmt, n), vocab_size=dm.vocab_size)
    attach(lm, dm)
    for batch in dm.eval_data("val")[f"n={n}"]:
        pred = lm.generate_answers(batch)
        # Exactly the gold continuation, retrieval results included (the oracle wrote PAD there).
        assert torch.equal(pred, batch["answer"])
        token_ok, paper, extra = dm.score(pred, batch)
        assert (paper == 1).all() and (extra["acc_strict"] == 1).all() and token_ok.all()


def test_without_the_retriever_the_oracle_fails_the_retrieval_format():
    """Control for the test above: the oracle alone cannot produce the retrieved tokens."""
    n = 7
    dm = IsTreeDataModule(n_nodes=n, format="retrieval", eval_examples=8, eval_batch_size=8)
    dm.retriever = None
    lm = SequenceLM(lambda v: OracleModel(v, "retrieval", n), vocab_size=dm.vocab_size)
    attach(lm, dm)
    batch = dm.eval_data("val")[f"n={n}"][0]
    _, _, extra = dm.score(lm.generate_answers(batch), batch)
    assert not extra["acc_strict"].any()
