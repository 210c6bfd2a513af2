"""WordProblemDataModule: online training batches and fixed held-out sets for the word problem."""
from __future__ import annotations

import random

import torch

from common.lit.datamodule import SyntheticDataModule
from replications.parallelism_tradeoff.groups import group as make_group
from replications.parallelism_tradeoff.word_problem import eval_example, random_word, special_ids

EVAL_SET = "held_out"  # the one evaluation set: metrics are logged as acc_seq@held_out, acc_token@held_out


def tag_batch(table: torch.Tensor, inputs: torch.Tensor, pad_id: int) -> dict:
    """Labels of a batch of BOS-led, right-padded words: running products (identity at BOS), pad after the end."""
    order = table.shape[0]
    real = inputs < order  # group elements (BOS and PAD are >= order)
    targets = torch.full_like(inputs, pad_id)
    acc = torch.zeros(inputs.shape[0], dtype=torch.long)
    targets[:, 0] = 0
    for t in range(1, inputs.shape[1]):
        acc = torch.where(real[:, t], table[acc, inputs[:, t].clamp(max=order - 1)], acc)
        targets[:, t] = torch.where(real[:, t], acc, pad_id)
    return {"targets": targets, "loss_mask": real}


class WordProblemDataModule(SyntheticDataModule):
    """Token-tagging word problem of one group at one length (Merrill, Petty & Sabharwal 2024, Sec. 6).

    Each training batch mixes ``pair_fraction`` of its rows drawn uniformly from the |G|^2
    length-2 words (the paper always trains on all of them) with fresh length-``length`` words
    from the training part of the split; the validation and test sets are fixed samples of the
    held-out part (see ``word_problem``). Must be trained with ``TaggingLM``.

    Args:
        group: "Z60", "A4xZ5", "A5", "S5", "Z2", ... (see ``groups.group``).
        length: word length n (>= 3; length-2 words are always training data).
        pair_fraction: share of each training batch taken from the length-2 words.
        seed: training-stream seed; None (the default) follows ``seed_everything``, so a sweep
            axis over ``seed_everything`` also changes the training data.
    """

    def __init__(self, group: str = "A5", length: int = 6, pair_fraction: float = 0.125, batch_size: int = 128,
                 eval_batch_size: int = 500, eval_examples: int = 2000, seed: int | None = None, eval_seed: int = 20240201):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        self.group = make_group(group)
        if length < 3:
            raise ValueError(f"data.length={length} must be >= 3 (length-2 words are all training data)")
        if not 0.0 <= pair_fraction < 1.0:
            raise ValueError(f"data.pair_fraction={pair_fraction} must lie in [0, 1)")
        self.length, self.pair_fraction = length, pair_fraction
        self.pad_id = special_ids(self.group)["pad"]
        self._table = torch.tensor(self.group.table, dtype=torch.long)

    @property
    def vocab_size(self) -> int:
        return self.group.order + 2

    def max_eval_tokens(self) -> int:
        return self.length + 1

    def setup(self, stage: str) -> None:
        module = self.trainer.lightning_module if self.trainer is not None else None
        if module is not None and not getattr(module, "tags_every_position", False):
            raise ValueError("the word problem labels every position: set model.class_path to "
                             "replications.parallelism_tradeoff.tagging.TaggingLM")

    def train_batch(self, rng: random.Random) -> dict:
        pairs = int(round(self.batch_size * self.pair_fraction))
        words = [[rng.randrange(self.group.order) for _ in range(2)] for _ in range(pairs)]
        words += [random_word(rng, self.group, self.length, held_out=False) for _ in range(self.batch_size - pairs)]
        width = self.length + 1
        bos = special_ids(self.group)["bos"]
        inputs = torch.tensor([[bos, *w] + [self.pad_id] * (width - 1 - len(w)) for w in words], dtype=torch.long)
        return {"inputs": inputs, **tag_batch(self._table, inputs, self.pad_id)}

    def eval_sets(self, stage: str):
        return {EVAL_SET: lambda rng: eval_example(self.group, random_word(rng, self.group, self.length, held_out=True))}
