"""The word-problem DataModule: labels against products computed here, the train/held-out split, the
mix of length-2 words, determinism, and clear errors."""
import itertools
import math
import random

import lightning as L
import pytest
import torch

from common.lit.module import SequenceLM
from common.models import LSTM
from replications.parallelism_tradeoff.data import EVAL_SET, WordProblemDataModule
from replications.parallelism_tradeoff.groups import group
from replications.parallelism_tradeoff.word_problem import is_held_out


def product_here(g, word):
    """Running products by left-to-right table lookups, written independently of the module."""
    out, acc = [], 0
    for x in word:
        acc = g.table[acc][x]
        out.append(acc)
    return out


def rows(batch, order):
    for x, y, m in zip(batch["inputs"].tolist(), batch["targets"].tolist(), batch["loss_mask"].tolist()):
        word = [t for t in x[1:] if t < order]
        yield x, y, m, word


@pytest.mark.parametrize("name", ["Z60", "A4xZ5", "A5"])
def test_training_batches_label_every_position_with_the_running_product(name):
    dm = WordProblemDataModule(group=name, length=7, batch_size=32, pair_fraction=0.25)
    g, bos, pad = group(name), 60, 61
    batch = dm.train_batch(random.Random(3))
    assert batch["inputs"].shape == batch["targets"].shape == batch["loss_mask"].shape == (32, 8)
    lengths = []
    for x, y, m, word in rows(batch, g.order):
        assert x[0] == bos and x[1 + len(word):] == [pad] * (7 - len(word))
        assert y[1: 1 + len(word)] == product_here(g, word)
        assert m == [False] + [True] * len(word) + [False] * (7 - len(word))
        lengths.append(len(word))
    assert lengths.count(2) == 8 and lengths.count(7) == 24
    assert not any(is_held_out(w) for *_, w in rows(batch, g.order) if len(w) == 7)


def test_held_out_split_is_a_fifth_of_all_words_and_evaluation_uses_only_it():
    words = list(itertools.product(range(60), repeat=3))
    share = sum(is_held_out(list(w)) for w in words) / len(words)
    assert abs(share - 0.2) < 0.005
    dm = WordProblemDataModule(group="A5", length=3, eval_examples=300, eval_batch_size=100)
    for stage in ("val", "test"):
        (batches,) = dm.eval_data(stage).values()
        for b in batches:
            for x, y, m in zip(b["prompt"].tolist(), b["answer"].tolist(), b["answer_mask"].tolist()):
                assert is_held_out(x[1:]) and y[1:] == product_here(group("A5"), x[1:])
                assert m == [False, True, True, True]


def test_training_never_sees_a_held_out_word():
    dm = WordProblemDataModule(group="Z60", length=3, batch_size=64, pair_fraction=0.0)
    for i in range(20):
        assert not any(is_held_out(w) for *_, w in rows(dm.train_batch(random.Random(i)), 60))


def test_pairs_are_uniform_over_the_whole_table():
    """k uniform draws from 3600 pairs leave about 3600 exp(-k / 3600) of them unseen."""
    dm = WordProblemDataModule(group="A5", length=4, batch_size=64, pair_fraction=0.5)
    seen, draws = set(), 0
    for i in range(400):
        pairs = [tuple(w) for *_, w in rows(dm.train_batch(random.Random(i)), 60) if len(w) == 2]
        seen |= set(pairs)
        draws += len(pairs)
    assert draws == 400 * 32
    assert abs(len(seen) - 3600 * (1 - math.exp(-draws / 3600))) < 40


def test_fixed_evaluation_sets_and_seeded_training_stream():
    a = WordProblemDataModule(group="A5", length=5, seed=0, eval_examples=50)
    b = WordProblemDataModule(group="A5", length=5, seed=1, eval_examples=50)
    va, vb = a.eval_data("val")[EVAL_SET], b.eval_data("val")[EVAL_SET]
    assert all(torch.equal(x["prompt"], y["prompt"]) for x, y in zip(va, vb))  # independent of the training seed
    assert not torch.equal(va[0]["prompt"], a.eval_data("test")[EVAL_SET][0]["prompt"])
    sa, sb = iter(a.train_dataloader()), iter(b.train_dataloader())
    first_a, first_b = next(sa), next(sb)
    assert torch.equal(first_a["inputs"], next(iter(a.train_dataloader()))["inputs"])
    assert not torch.equal(first_a["inputs"], first_b["inputs"])


@pytest.mark.parametrize("kwargs,match", [({"length": 2}, "length=2 must be >= 3"),
                                          ({"pair_fraction": 1.0}, "pair_fraction"),
                                          ({"group": "D8"}, "unknown group")])
def test_bad_arguments_fail_with_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WordProblemDataModule(**kwargs)


def test_a_plain_sequence_lm_is_refused():
    dm = WordProblemDataModule(group="Z2", length=3, batch_size=2, eval_examples=2)
    module = SequenceLM(lambda v: LSTM(v, d_model=8), vocab_size=dm.vocab_size)
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    with pytest.raises(ValueError, match="TaggingLM"):
        trainer.fit(module, dm)
