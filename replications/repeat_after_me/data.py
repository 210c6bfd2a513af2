"""DataModules of the copying paper's synthetic experiments."""
from __future__ import annotations

import random

import torch

from common.lit.datamodule import SyntheticDataModule
from replications.repeat_after_me.copy_task import copy_example, pack, special_ids
from replications.repeat_after_me.duplicate_ngram import duplicate_ngram_example
from replications.repeat_after_me.ngram_lookup import Key, example_length, lookup_example


def _packed_batch(make_example, rng: random.Random, batch_size: int, context_len: int, pad_id: int) -> dict:
    """Rows of back-to-back examples (the official code's packing), as a training batch."""
    stream = iter(lambda: make_example(rng), None)
    rows = [pack(stream, context_len, pad_id) for _ in range(batch_size)]
    tokens = torch.tensor([r[0] for r in rows], dtype=torch.long)
    mask = torch.tensor([r[1] for r in rows], dtype=torch.bool)
    return {"inputs": tokens[:, :-1], "targets": tokens[:, 1:], "loss_mask": mask[:, 1:]}


class _StringTaskDataModule(SyntheticDataModule):
    """A task on strings of ``alphabet`` letters: training lengths uniform in a range, training rows
    packed as the official code packs them, one evaluation set per string length.

    Subclasses give ``example(rng, length)`` and ``example_tokens(length)``, and may raise
    ``shortest`` (the shortest usable string) with ``shortest_why`` saying why.
    """

    shortest = 1
    shortest_why = ""

    def __init__(self, alphabet: int, min_train_len: int, max_train_len: int, context_len: int, pack: bool,
                 val_lengths: list[int], test_lengths: list[int], batch_size: int, eval_batch_size: int,
                 eval_examples: int, seed: int, eval_seed: int):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        if not self.shortest <= min_train_len <= max_train_len:
            raise ValueError(f"need {self.shortest} <= data.min_train_len ({min_train_len}) <= data.max_train_len "
                             f"({max_train_len}){self.shortest_why}")
        if any(n < self.shortest for n in [*val_lengths, *test_lengths]):
            raise ValueError(f"data.val_lengths and data.test_lengths must be >= {self.shortest}")
        if context_len < self.example_tokens(max_train_len):
            raise ValueError(f"data.context_len={context_len} cannot hold one example of length {max_train_len} "
                             f"({self.example_tokens(max_train_len)} tokens); raise context_len or lower max_train_len")
        self.alphabet, self.min_train_len, self.max_train_len = alphabet, min_train_len, max_train_len
        self.context_len, self.pack = context_len, pack
        self.val_lengths, self.test_lengths = list(val_lengths), list(test_lengths)
        self.pad_id = special_ids(alphabet)["pad"]

    def example(self, rng: random.Random, length: int):
        raise NotImplementedError

    def example_tokens(self, length: int) -> int:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        return self.alphabet + 4

    def max_eval_tokens(self) -> int:
        return self.example_tokens(max(self.val_lengths + self.test_lengths))

    def train_example(self, rng: random.Random):
        return self.example(rng, rng.randint(self.min_train_len, self.max_train_len))

    def train_batch(self, rng: random.Random) -> dict:
        if not self.pack:
            return super().train_batch(rng)
        return _packed_batch(self.train_example, rng, self.batch_size, self.context_len, self.pad_id)

    def eval_sets(self, stage: str):
        lengths = self.val_lengths if stage == "val" else self.test_lengths
        return {f"len={n}": (lambda rng, n=n: self.example(rng, n)) for n in lengths}


class CopyDataModule(_StringTaskDataModule):
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
        if alphabet < 2:
            raise ValueError(f"data.alphabet={alphabet} must be >= 2")
        super().__init__(alphabet, min_train_len, max_train_len, context_len, pack, val_lengths, test_lengths,
                         batch_size, eval_batch_size, eval_examples, seed, eval_seed)

    def example(self, rng: random.Random, length: int):
        return copy_example(rng, length, self.alphabet)

    def example_tokens(self, length: int) -> int:
        return 2 * length + 3


class NgramLookupDataModule(_StringTaskDataModule):
    """n-gram lookup with a prefix or a suffix key (Jelassi et al. 2024, Sec. 3.5).

    Args:
        key: "prefix" (``$ k | s | a .``) or "suffix" (``$ s | k a .``).
        alphabet: letters (paper: 26); the vocabulary adds 4 specials.
        n_gram: key length; answer_len: tokens after the key to output (<= 0: the rest of the string).
        unique_key: draw keys among the n-grams occurring once (False: the official code's rule).
        min_train_len, max_train_len: training string lengths, uniform in this range.
        context_len, pack: training rows of packed examples, as for copying.
        val_lengths, test_lengths: string lengths evaluated during training and at the end.
    """

    shortest_why = ": a string must hold the key and the answer"

    def __init__(self, key: Key = "suffix", alphabet: int = 26, n_gram: int = 3, answer_len: int = 3,
                 unique_key: bool = True, min_train_len: int = 10, max_train_len: int = 20, context_len: int = 64,
                 pack: bool = True, val_lengths: list[int] = (20,), test_lengths: list[int] = (20,),
                 batch_size: int = 64, eval_batch_size: int = 128, eval_examples: int = 256, seed: int = 0,
                 eval_seed: int = 20240201):
        if alphabet < 2 or n_gram < 1:
            raise ValueError(f"need data.alphabet >= 2 and data.n_gram >= 1; got {alphabet}, {n_gram}")
        self.key, self.n_gram, self.answer_len, self.unique_key = key, n_gram, answer_len, unique_key
        self.shortest = n_gram + max(answer_len, 1)
        super().__init__(alphabet, min_train_len, max_train_len, context_len, pack, val_lengths, test_lengths,
                         batch_size, eval_batch_size, eval_examples, seed, eval_seed)

    def example(self, rng: random.Random, length: int):
        return lookup_example(rng, length, self.alphabet, self.n_gram, self.answer_len, self.key, self.unique_key)

    def example_tokens(self, length: int) -> int:
        return example_length(length, self.n_gram, self.answer_len)


class DuplicateNgramDataModule(CopyDataModule):
    """Train on copying as ``CopyDataModule``; test on strings with a planted repeated n-gram (Sec. 3).

    Validation is plain copying at ``val_lengths`` (the learning curve). The test sets are
    ``n=<k>`` for k in ``ngram_sizes`` (0: nothing planted), each of strings of ``dup_length``
    letters, plus plain copying at ``test_lengths``.
    """

    def __init__(self, ngram_sizes: list[int] = (0, 1, 2, 3, 4, 5, 6), dup_length: int = 20, alphabet: int = 26,
                 min_train_len: int = 5, max_train_len: int = 20, context_len: int = 64, pack: bool = True,
                 val_lengths: list[int] = (20,), test_lengths: list[int] = (), batch_size: int = 64,
                 eval_batch_size: int = 128, eval_examples: int = 256, seed: int = 0, eval_seed: int = 20240201):
        super().__init__(alphabet, min_train_len, max_train_len, context_len, pack, val_lengths, test_lengths,
                         batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        bad = [k for k in ngram_sizes if k < 0 or 2 * k > dup_length]
        if bad:
            raise ValueError(f"data.ngram_sizes {bad}: need 0 <= n and 2n <= data.dup_length ({dup_length})")
        self.ngram_sizes, self.dup_length = list(ngram_sizes), dup_length

    def max_eval_tokens(self) -> int:
        return self.example_tokens(max(self.val_lengths + self.test_lengths + [self.dup_length]))

    def eval_sets(self, stage: str):
        sets = super().eval_sets(stage)
        if stage == "test":
            sets = {**{f"n={k}": (lambda rng, k=k: duplicate_ngram_example(rng, self.dup_length, self.alphabet, k))
                       for k in self.ngram_sizes}, **sets}
        return sets
