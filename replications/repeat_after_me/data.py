"""DataModules of the copying paper's synthetic experiments."""
from __future__ import annotations

import random

import torch

from common.lit.datamodule import SyntheticDataModule
from replications.repeat_after_me.copy_task import copy_example, pack, special_ids


class CopyDataModule(SyntheticDataModule):
    """Copy strings of uniform random letters (Jelassi et al. 2024, Sec. 3.1-3.2).

    Args:
        alphabet: letters in the alphabet (paper: 26); the vocabulary adds 4 specials.
        min_train_len, max_train_len: training string lengths, uniform in this range.
        context_len: tokens per training row; with ``pack`` several examples share a row as
            in the official code (the cut one is masked out).
        val_lengths: string lengths evaluated during training (the learning curve).
        test_lengths: string lengths evaluated at the end (e.g. the length-generalisation sweep).
    """

    def __init__(self, alphabet: int = 26, min_train_len: int = 5, max_train_len: int = 20,
                 context_len: int = 64, pack: bool = True, val_lengths: list[int] = (20,),
                 test_lengths: list[int] = (20,), batch_size: int = 64, eval_batch_size: int = 128,
                 eval_examples: int = 256, seed: int = 0, eval_seed: int = 20240201):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        if alphabet < 2:
            raise ValueError(f"data.alphabet={alphabet} must be >= 2")
        if not 1 <= min_train_len <= max_train_len:
            raise ValueError(f"need 1 <= data.min_train_len ({min_train_len}) <= data.max_train_len ({max_train_len})")
        if context_len < 2 * max_train_len + 3:
            raise ValueError(f"data.context_len={context_len} cannot hold one example of length {max_train_len} "
                             f"({2 * max_train_len + 3} tokens); raise context_len or lower max_train_len")
        if any(n < 1 for n in [*val_lengths, *test_lengths]):
            raise ValueError("data.val_lengths and data.test_lengths must be positive")
        self.alphabet, self.min_train_len, self.max_train_len = alphabet, min_train_len, max_train_len
        self.context_len, self.pack = context_len, pack
        self.val_lengths, self.test_lengths = list(val_lengths), list(test_lengths)
        self.pad_id = special_ids(alphabet)["pad"]

    @property
    def vocab_size(self) -> int:
        return self.alphabet + 4

    def max_eval_tokens(self) -> int:
        return 2 * max(self.val_lengths + self.test_lengths) + 3

    def train_example(self, rng: random.Random):
        return copy_example(rng, rng.randint(self.min_train_len, self.max_train_len), self.alphabet)

    def train_batch(self, rng: random.Random) -> dict:
        if not self.pack:
            return super().train_batch(rng)
        stream = iter(lambda: self.train_example(rng), None)
        rows = [pack(stream, self.context_len, self.pad_id) for _ in range(self.batch_size)]
        tokens = torch.tensor([r[0] for r in rows], dtype=torch.long)
        mask = torch.tensor([r[1] for r in rows], dtype=torch.bool)
        return {"inputs": tokens[:, :-1], "targets": tokens[:, 1:], "loss_mask": mask[:, 1:]}

    def eval_sets(self, stage: str):
        lengths = self.val_lengths if stage == "val" else self.test_lengths
        return {f"len={n}": (lambda rng, n=n: copy_example(rng, n, self.alphabet)) for n in lengths}
