"""DataModules of the trained-from-scratch experiments (E1-E4): in-context function composition
and the counting language a^n b^n, both drawn fresh for every example (nothing to memorise)."""
from __future__ import annotations

import random

from common.lit.datamodule import SyntheticDataModule
from common.seeding import rng_for
from replications.limits_dl import composition as C
from replications.limits_dl import formal_languages as FL
from replications.limits_dl.vocab import Vocab


class CompositionDataModule(SyntheticDataModule):
    """k-fold composition of random functions over [n] given in context (``composition.py``).

    Args:
        n: domain size.
        k: composed functions (2: f(g(x)), Theorem 1; more: iterated composition, E3).
        order: block order, "G-F-X" (the theorem's), "X-G-F", "F-G-X" or "X-F-G".
        cot: "none", "offline", "online" or "reread" (evaluator-given tokens are spliced in by an
            oracle retriever during evaluation, see ``composition.OracleSplicer``).
        function_kind: "perm-then-uniform" (composed map uniform over all n^n functions) or others.
        max_n: vocabulary size bound (default: n); runs of one figure may share it.
        eval_name: name of the single evaluation set, so every run of a sweep reports the same key.
    """

    def __init__(self, n: int = 8, k: int = 2, order: str = "G-F-X", cot: str = "none",
                 function_kind: str = "perm-then-uniform", max_n: int | None = None, eval_name: str = "comp",
                 batch_size: int = 64, eval_batch_size: int = 128, eval_examples: int = 256, seed: int = 0,
                 eval_seed: int = 20240201):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        if n < 2 or k < 1:
            raise ValueError(f"need data.n >= 2 and data.k >= 1 (got n={n}, k={k})")
        self.vocab = Vocab(max_n=max_n or n, max_levels=k + 1)
        if n > self.vocab.max_n:
            raise ValueError(f"data.n={n} exceeds data.max_n={max_n}")
        if order not in C.ORDERS or cot not in C.COT_MODES or function_kind not in C.FUNCTION_KINDS:
            raise ValueError(f"data.order in {C.ORDERS}, data.cot in {C.COT_MODES}, "
                             f"data.function_kind in {C.FUNCTION_KINDS}")
        if cot == "online" and order != "X-G-F":
            raise ValueError("data.cot=online needs data.order=X-G-F")
        self.n, self.k, self.order, self.cot, self.function_kind = n, k, order, cot, function_kind
        self.eval_name = eval_name
        self.pad_id = self.vocab.pad_id
        self._splicer = None

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def example(self, rng: random.Random):
        return C.sample(rng, self.n, self.k, self.order, self.cot, self.function_kind, self.vocab)

    def train_example(self, rng: random.Random):
        return self.example(rng)

    def eval_sets(self, stage: str):
        return {self.eval_name: self.example}

    def max_eval_tokens(self) -> int:
        ex = self.example(random.Random(0))
        return len(ex.tokens)

    @property
    def retriever(self):
        """Oracle that feeds the evaluator-given tokens of online / re-read CoT; None otherwise."""
        if self.cot not in ("online", "reread"):
            return None
        if self._splicer is None:
            examples = {}
            for stage in ("val", "test"):
                rng = rng_for(self.eval_seed, stage, self.eval_name)
                for _ in range(self.eval_examples):
                    ex = self.example(rng)
                    examples.setdefault(tuple(ex.prompt), ex)
            self._splicer = C.OracleSplicer(list(examples.values()))
        return self._splicer


class CountingDataModule(SyntheticDataModule):
    """Completion of a^n b^n (``formal_languages.py``): prompt a^n b, answer b^(n-1) <eos>.

    Args:
        min_train_len, max_train_len: range of n in training, uniform.
        val_lengths, test_lengths: one evaluation set per value N, named "n=N".
        eval_range: "exact" (every example has n = N) or "upto" (n uniform in 1..N).
    """

    def __init__(self, min_train_len: int = 1, max_train_len: int = 32, val_lengths: list[int] = (32,),
                 test_lengths: list[int] = (16, 32, 64), eval_range: str = "upto", lang: str = "anbn",
                 batch_size: int = 64, eval_batch_size: int = 128, eval_examples: int = 256, seed: int = 0,
                 eval_seed: int = 20240201):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        if eval_range not in ("exact", "upto"):
            raise ValueError("data.eval_range must be 'exact' or 'upto'")
        if lang != "anbn":
            raise ValueError("data.lang: only 'anbn' has a forced completion of every length")
        if not 1 <= min_train_len <= max_train_len or any(v < 1 for v in [*val_lengths, *test_lengths]):
            raise ValueError("need 1 <= data.min_train_len <= data.max_train_len and positive evaluation lengths")
        self.train_n = (min_train_len, max_train_len)
        self.val_lengths, self.test_lengths = list(val_lengths), list(test_lengths)
        self.eval_range, self.lang = eval_range, lang
        self.vocab = Vocab(max_n=1, max_levels=2)
        self.pad_id = self.vocab.pad_id

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def train_example(self, rng: random.Random):
        return FL.completion_example(rng, self.lang, *self.train_n, vocab=self.vocab)

    def eval_sets(self, stage: str):
        lengths = self.val_lengths if stage == "val" else self.test_lengths
        exact = self.eval_range == "exact"
        return {f"n={m}": (lambda rng, m=m: FL.completion_example(rng, self.lang, m if exact else 1, m,
                                                                  vocab=self.vocab))
                for m in lengths}

    def max_eval_tokens(self) -> int:
        return 2 * max(self.val_lengths + self.test_lengths) + 2
