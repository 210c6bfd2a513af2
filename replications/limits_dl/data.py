"""DataModules of the trained-from-scratch experiments (E1-E4): in-context function composition
and the counting language a^n b^n, both drawn fresh for every example (nothing to memorise)."""
from __future__ import annotations

import random
from typing import Literal

import torch

from common.lit.datamodule import SyntheticDataModule, eval_batches
from common.seeding import rng_for
from replications.limits_dl import composition as C
from replications.limits_dl import formal_languages as FL
from replications.limits_dl.vocab import Vocab


SCORING_VIEWS = ("first", "final", "chain")
"""How a composition evaluation set is scored (the same examples and generations, three masks):

- ``first``: the first query's final answer value (Theorem 1's single-query protocol);
- ``final``: every query's final answer value (``acc_token@final`` = per-query accuracy,
  ``acc_seq@final`` = every query right); intermediates of a CoT and ``<eos>`` are not scored, so
  every CoT mode is judged on its final answer only, as Theorem 2 is;
- ``chain``: every generated token, intermediates and ``<eos>`` included (the whole chain)."""


class CompositionDataModule(SyntheticDataModule):
    """k-fold composition of random functions over [n] given in context (``composition.py``).

    Args:
        n: domain size.
        k: composed functions (1: a look-up in one table, same n log2 n bits as 2, Theorem 1; more:
            iterated composition, E3).
        order: block order, "G-F-X" (the theorem's), "X-G-F", "F-G-X" or "X-F-G".
        cot: "none", "offline", "online" or "reread" (evaluator-given tokens are spliced in by an
            oracle retriever during evaluation, see ``composition.OracleSplicer``).
        function_kind: "perm-then-uniform" (composed map uniform over all n^n functions) or others.
        queries: "one" (a single query, the theorem's protocol) or "all" (every argument queried once
            after the tables: n supervised answers per sequence; query-last orders).
        pairs: one token per table entry (``A0B1``) instead of two.
        max_n: vocabulary size bound (default: n); runs of one figure may share it.

    Evaluation reports every metric on the views of ``SCORING_VIEWS`` (e.g. ``acc_seq@first``,
    ``acc_token@final``), all computed on the same examples.
    """

    def __init__(self, n: int = 8, k: int = 2, order: C.Order = "G-F-X", cot: C.CotMode = "none",
                 function_kind: C.FunctionKind = "perm-then-uniform", queries: C.Queries = "one", pairs: bool = False,
                 max_n: int | None = None, batch_size: int = 64, eval_batch_size: int = 128,
                 eval_examples: int = 256, seed: int = 0, eval_seed: int = 20240201):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
        if n < 2 or k < 1:
            raise ValueError(f"need data.n >= 2 and data.k >= 1 (got n={n}, k={k})")
        self.vocab = Vocab(max_n=max_n or n, max_levels=k + 1, pairs=pairs)
        if n > self.vocab.max_n:
            raise ValueError(f"data.n={n} exceeds data.max_n={max_n}")
        if cot == "online" and (order != "X-G-F" or queries != "one"):
            raise ValueError("data.cot=online needs data.order=X-G-F and data.queries=one")
        if queries == "all" and order.startswith("X"):
            raise ValueError("data.queries=all needs a query-last order (G-F-X or F-G-X)")
        self.n, self.k, self.order, self.cot, self.function_kind = n, k, order, cot, function_kind
        self.queries, self.pairs = queries, pairs
        self.pad_id = self.vocab.pad_id
        self._splicer = None
        self._examples: dict[str, list] = {}

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def example(self, rng: random.Random):
        return C.sample(rng, self.n, self.k, self.order, self.cot, self.function_kind, self.vocab, self.queries)

    def train_example(self, rng: random.Random):
        return self.example(rng)

    def eval_sets(self, stage: str):
        return {view: self.example for view in SCORING_VIEWS}

    def eval_examples_of(self, stage: str) -> list:
        """The stage's evaluation examples, shared by every scoring view and by the retriever. Their
        prompts are distinct across validation and test (the retriever finds an example by its
        prompt), so the sets are drawn without repeating a prompt."""
        if stage not in self._examples:
            seen = {tuple(e.prompt) for e in self.eval_examples_of("val")} if stage == "test" else set()
            rng, out = rng_for(self.eval_seed, stage, "comp"), []
            for _ in range(100 * self.eval_examples):
                ex = self.example(rng)
                if tuple(ex.prompt) not in seen:
                    seen.add(tuple(ex.prompt))
                    out.append(ex)
                if len(out) == self.eval_examples:
                    break
            else:
                raise ValueError(f"fewer than {self.eval_examples} distinct prompts at n={self.n}: lower "
                                 "data.eval_examples")
            self._examples[stage] = out
        return self._examples[stage]

    def eval_data(self, stage: str) -> dict[str, list[dict]]:
        if stage not in self._eval_cache:
            base = eval_batches(self.eval_examples_of(stage), self.eval_batch_size, self.pad_id)
            self._eval_cache[stage] = {view: [{**b, "answer_mask": self.view_mask(b, view)} for b in base]
                                       for view in SCORING_VIEWS}
        return self._eval_cache[stage]

    def view_mask(self, batch: dict, view: str):
        """Which answer positions a view scores: final-answer values (level k), the first of them, or
        every scored token (``SCORING_VIEWS``)."""
        answer, mask = batch["answer"], batch["answer_mask"]
        if view == "chain":
            return mask
        lo = self.vocab.value(self.k, 0)
        final = mask & (answer >= lo) & (answer < lo + self.vocab.max_n)
        if view == "final":
            return final
        first = torch.zeros_like(final)
        has = final.any(dim=1)
        first[has, final[has].float().argmax(dim=1)] = True
        return first

    def max_eval_tokens(self) -> int:
        ex = self.example(random.Random(0))
        return len(ex.tokens)

    @property
    def retriever(self):
        """Oracle that feeds the evaluator-given tokens (later queries, re-read tables, online tables)
        during generation; None when an answer is generated in one piece."""
        if self.cot not in ("online", "reread") and self.queries == "one":
            return None
        if self._splicer is None:
            self._splicer = C.OracleSplicer(self.eval_examples_of("val") + self.eval_examples_of("test"))
        return self._splicer


class CountingDataModule(SyntheticDataModule):
    """Completion of a^n b^n (``formal_languages.py``): prompt a^n b, answer b^(n-1) <eos>.

    Args:
        min_train_len, max_train_len: range of n in training, uniform.
        val_lengths, test_lengths: one evaluation set per value N, named "n=N".
        eval_range: "exact" (every example has n = N) or "upto" (n uniform in 1..N).
    """

    def __init__(self, min_train_len: int = 1, max_train_len: int = 32, val_lengths: list[int] = (32,),
                 test_lengths: list[int] = (16, 32, 64), eval_range: Literal["exact", "upto"] = "upto",
                 lang: FL.Language = "anbn",
                 batch_size: int = 64, eval_batch_size: int = 128, eval_examples: int = 256, seed: int = 0,
                 eval_seed: int = 20240201):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed)
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
        exact = {"exact": True, "upto": False}[self.eval_range]
        return {f"n={m}": (lambda rng, m=m: FL.completion_example(rng, self.lang, m if exact else 1, m,
                                                                  vocab=self.vocab))
                for m in lengths}

    def max_eval_tokens(self) -> int:
        return 2 * max(self.val_lengths + self.test_lengths) + 2
