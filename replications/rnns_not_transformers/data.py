"""DataModules of "RNNs are not Transformers (Yet)": IsTree (Fig. 3) and the fact-lookup proxy of HotpotQA.

Scoring follows the paper: decode greedily from the prompt (``[BOS] edges [EOS]``) and read the
first ``[TRUE]``/``[FALSE]`` the model writes; the example scores 1 when it equals the label,
whatever the chain of thought before it, and 0.5 when the model writes neither (``acc_seq``); the
official code's strict score, 0 for neither, is ``acc_strict``. In the ``retrieval``
format the DataModule's ``retriever`` answers the model's own search queries during decoding, so
the retrieved tokens come from a search of the context, never from the gold sequence.
"""
from __future__ import annotations

import random

import torch

from common.lit.datamodule import SyntheticDataModule
from common.seeding import rng_for
from common.tasks import Example
from replications.rnns_not_transformers import fact_lookup as fl
from replications.rnns_not_transformers.graphs import GraphType
from replications.rnns_not_transformers.istree import Format, answer_from_generation, istree_example
from replications.rnns_not_transformers.retriever import InContextRetriever
from replications.rnns_not_transformers.vocab import PAD, vocab_size


class PoolMixin:
    """Training examples from a fixed pool of ``train_pool`` generated examples, or fresh ones.

    The paper trains on a pre-generated set (1M graphs, ~5 epochs). Example ``i`` of the pool is
    generated on demand from ``(seed, "pool", i)``, so a pool of any size costs nothing to build;
    each training example is a pool index drawn uniformly by the batch's generator (sampling with
    replacement, where the official loader shuffles once per epoch). ``train_pool=None``
    generates every training example afresh.
    """

    train_pool: int | None
    seed: int

    def _check_pool(self) -> None:
        if self.train_pool is not None and self.train_pool < 1:
            raise ValueError(f"data.train_pool={self.train_pool} must be >= 1 or null (fresh examples)")

    def _draw(self, rng: random.Random, make) -> Example:
        if self.train_pool is None:
            return make(rng)
        return make(rng_for(self.seed, "pool", rng.randrange(self.train_pool)))


def _answers(batch: dict, pred: torch.Tensor, parse) -> tuple[list, list]:
    """``parse(prompt + continuation, prompt_len)`` for the generated and the gold continuation of each row."""
    prompt = batch["prompt"].tolist()
    plen = len(prompt[0]) if prompt else 0
    said = [parse(p + row, plen) for p, row in zip(prompt, pred.tolist())]
    truth = [parse(p + row, plen) for p, row in zip(prompt, batch["answer"].tolist())]
    return said, truth


def _score(pred: torch.Tensor, batch: dict, parse):
    """token_ok over the scored answer tokens; seq_ok when the parsed answer equals the gold one."""
    token_ok = (pred == batch["answer"]) | ~batch["answer_mask"]
    said, truth = _answers(batch, pred, parse)
    seq_ok = torch.tensor([s is not None and s == t for s, t in zip(said, truth)], dtype=torch.bool,
                          device=pred.device)
    return token_ok, seq_ok


class IsTreeDataModule(PoolMixin, SyntheticDataModule):
    """IsTree: is an undirected graph on ``n_nodes`` nodes, given as an edge list, a tree?

    Args:
        n_nodes: graph size n (vocabulary n + 17 as in the official code).
        graph_type: "binary" (the official README's generator; n-1 edges, half are trees) or "random".
        format: "no_cot" (answer only), "cot" (DFS Euler tour, then answer) or "retrieval"
            (DFS with in-context search queries whose results the retriever splices in).
        train_pool: size of the fixed training pool (paper: 1,000,000), or null for fresh examples.
        batch_size, eval_batch_size, eval_examples, seed, eval_seed, val_examples, num_workers: see
            ``SyntheticDataModule``; ``eval_examples`` graphs in the test set (paper: 5,000 graphs),
            ``val_examples`` in the validation set that follows training.
    """

    def __init__(self, n_nodes: int = 16, graph_type: GraphType = "binary", format: Format = "cot",
                 train_pool: int | None = 1_000_000, batch_size: int = 64, eval_batch_size: int = 128,
                 eval_examples: int = 5000, seed: int = 0, eval_seed: int = 20240228, val_examples: int | None = 256,
                 num_workers: int = 0):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed, val_examples, num_workers)
        if n_nodes < 4:
            raise ValueError(f"data.n_nodes={n_nodes} must be >= 4")
        self.n_nodes, self.graph_type, self.format, self.train_pool = n_nodes, graph_type, format, train_pool
        self._check_pool()
        self.pad_id = PAD
        self.retriever = InContextRetriever() if format == "retrieval" else None

    @property
    def vocab_size(self) -> int:
        return vocab_size(self.n_nodes)

    def _example(self, rng: random.Random) -> Example:
        return istree_example(rng, self.n_nodes, self.format, self.graph_type)

    def train_example(self, rng: random.Random) -> Example:
        return self._draw(rng, self._example)

    def eval_sets(self, stage: str):
        return {f"n={self.n_nodes}": self._example}

    def max_eval_tokens(self) -> int:
        """Longest full sequence: a tree's (the walk is never cut short)."""
        n = self.n_nodes
        return {"no_cot": 3 * n, "cot": 5 * n, "retrieval": 40 * n - 25}[self.format]

    def score(self, pred: torch.Tensor, batch: dict):
        """The paper's score as ``acc_seq``, the strict one as ``acc_strict``.

        Both read the first [TRUE]/[FALSE] generated: equal to the label scores 1, the other 0.
        A generation with neither scores 0.5 in ``acc_seq`` (the paper: "an example with no
        YES/NO counts as correct with probability 0.5") and 0 in ``acc_strict`` (the official
        ``evaluate_through_generation``).
        """
        token_ok = (pred == batch["answer"]) | ~batch["answer_mask"]
        said, truth = _answers(batch, pred, answer_from_generation)
        paper = [0.5 if s is None else float(s == t) for s, t in zip(said, truth)]
        strict = [float(s is not None and s == t) for s, t in zip(said, truth)]
        dev = pred.device
        return token_ok, torch.tensor(paper, device=dev), {"acc_strict": torch.tensor(strict, device=dev)}


class FactLookupDataModule(PoolMixin, SyntheticDataModule):
    """Fact lookup among distractors: the CPU proxy of the paper's HotpotQA experiment (see fact_lookup.py).

    Args:
        n_facts: facts in the context (one is asked about; the rest are distractors).
        fillers: filler tokens scattered between the facts.
        format: "direct" (answer at once) or "retrieval" (search, the retriever splices the value, copy it).
        n_keys, n_values, n_fillers: vocabulary sizes.
        train_pool, batch_size, eval_batch_size, eval_examples, seed, eval_seed, val_examples, num_workers:
            as for IsTree.
    """

    def __init__(self, n_facts: int = 32, fillers: int = 0, format: fl.Format = "direct", n_keys: int = 64,
                 n_values: int = 64, n_fillers: int = 8, train_pool: int | None = None, batch_size: int = 64,
                 eval_batch_size: int = 128, eval_examples: int = 1000, seed: int = 0, eval_seed: int = 20240228,
                 val_examples: int | None = 256, num_workers: int = 0):
        super().__init__(batch_size, eval_batch_size, eval_examples, seed, eval_seed, val_examples, num_workers)
        self.vocab = fl.FactVocab(n_fillers=n_fillers, n_keys=n_keys, n_values=n_values)
        if not 1 <= n_facts <= n_keys:
            raise ValueError(f"need 1 <= data.n_facts ({n_facts}) <= data.n_keys ({n_keys})")
        if fillers < 0 or (fillers and not n_fillers):
            raise ValueError("data.fillers must be >= 0 and needs data.n_fillers >= 1")
        self.n_facts, self.fillers, self.format, self.train_pool = n_facts, fillers, format, train_pool
        self._check_pool()
        self.pad_id = fl.PAD
        self.retriever = fl.FactRetriever(self.vocab) if format == "retrieval" else None

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def _example(self, rng: random.Random) -> Example:
        return fl.fact_example(rng, self.n_facts, self.format, self.vocab, self.fillers)

    def train_example(self, rng: random.Random) -> Example:
        return self._draw(rng, self._example)

    def eval_sets(self, stage: str):
        return {f"k={self.n_facts}": self._example}

    def max_eval_tokens(self) -> int:
        return 1 + 3 * self.n_facts + self.fillers + 3 + (5 if self.format == "retrieval" else 1)

    def score(self, pred: torch.Tensor, batch: dict):
        """Right when the first value the model writes (not the retrieved one) is the asked fact's value."""
        return _score(pred, batch, lambda toks, plen: fl.answer_from_generation(toks, plen, self.vocab))
