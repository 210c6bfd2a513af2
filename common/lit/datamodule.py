"""SyntheticDataModule: online training batches and fixed evaluation sets for generated tasks.

Training batch i is drawn from a generator seeded by (seed, "train", i), so the stream is
the same on every machine and a resumed run continues it exactly. Evaluation sets are drawn
from (eval_seed, stage, set name): fixed, independent of the training seed, and different
between validation and test.
"""
from __future__ import annotations

import multiprocessing
import random
from typing import Callable

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from common.decoding import Retriever
from common.seeding import rng_for
from common.tasks import Example, collate


class _TrainStream(IterableDataset):
    """Endless stream of training batches: batch i of process ``rank`` is seeded by (seed, "train", i[, rank]).

    Each iteration starts at the batch ``start()`` names, read when the first batch is drawn. Lightning
    draws it (prefetching) after restoring a checkpoint and before any training hook, so a resumed run
    continues with exactly the batch the uninterrupted run would have used at that step.
    """

    def __init__(self, make_batch: Callable[[random.Random], dict], seed: int,
                 start: Callable[[], tuple[int, int, int]] = lambda: (0, 0, 1)):
        self.make_batch, self.seed, self.start = make_batch, seed, start
        self.started: tuple[int, int, int] | None = None  # the start, fixed before DataLoader workers copy the stream

    def __iter__(self):
        position, rank, world_size = self.started if self.started is not None else self.start()
        info = get_worker_info()  # in DataLoader workers: worker w of W makes batches w, w + W, ...
        step = 1 if info is None else info.num_workers
        position += 0 if info is None else info.id
        while True:
            parts = (self.seed, "train", position) + ((rank,) if world_size > 1 else ())
            yield self.make_batch(rng_for(*parts))
            position += step


class _StreamLoader(DataLoader):
    """A DataLoader over a ``_TrainStream`` with workers: the start is read here, in the training
    process, before the workers copy the stream; the DataLoader takes their batches in turn, so the
    order is the same as without workers."""

    def __iter__(self):
        self.dataset.started = self.dataset.start()
        try:
            return super().__iter__()
        finally:
            self.dataset.started = None


def _one_thread(worker_id: int) -> None:
    torch.set_num_threads(1)


def eval_batches(examples: list[Example], batch_size: int, pad_id: int) -> list[dict]:
    """Group examples by prompt length and pad answers: batches of prompt/answer/answer_mask."""
    by_len: dict[int, list[Example]] = {}
    for e in examples:
        by_len.setdefault(e.prompt_len, []).append(e)
    batches = []
    for plen in sorted(by_len):
        group = by_len[plen]
        for i in range(0, len(group), batch_size):
            chunk = group[i: i + batch_size]
            width = max(len(e.answer) for e in chunk)
            answer = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.bool)
            for j, e in enumerate(chunk):
                answer[j, : len(e.answer)] = torch.tensor(e.answer, dtype=torch.long)
                mask[j, : len(e.answer)] = torch.tensor(e.target_mask[plen:], dtype=torch.bool)
            batches.append({"prompt": torch.tensor([e.prompt for e in chunk], dtype=torch.long),
                            "answer": answer, "answer_mask": mask})
    return batches


def exact_match(pred: torch.Tensor, answer: torch.Tensor, mask: torch.Tensor):
    """Per-token correctness and whole-answer correctness over the masked answer positions."""
    token_ok = (pred == answer) | ~mask
    return token_ok, token_ok.all(dim=1)


class SyntheticDataModule(L.LightningDataModule):
    """Base of every generated-task DataModule.

    Subclasses define ``vocab_size``, ``pad_id``, ``train_example(rng)`` and
    ``eval_sets(stage) -> {name: sampler(rng) -> Example}``. What ``SequenceLM`` and the CLI may
    ask of a task, each with a default here: ``train_batch(rng)`` (e.g. to pack several examples
    in a row), ``score(pred, batch)`` (default: exact match), ``retriever`` (default: None, plain
    greedy decoding), ``eval_set_names(stage)`` and ``max_eval_tokens()`` (default: None, unknown).

    Args:
        batch_size: training sequences per step.
        eval_batch_size: sequences per evaluation batch.
        eval_examples: examples in each evaluation set (per length, per stage).
        seed: training data seed.
        eval_seed: evaluation data seed, independent of ``seed`` by design.
        val_examples: at most this many examples in each validation set, where fewer than ``eval_examples``
            are enough to follow training (validation repeats during training; the test runs once, at the end).
        num_workers: DataLoader worker processes that generate training batches (0: in the
            training process). The batches and their order do not depend on it.
    """

    pad_id: int = 0

    def __init__(self, batch_size: int = 64, eval_batch_size: int = 128, eval_examples: int = 256,
                 seed: int = 0, eval_seed: int = 20240201, val_examples: int | None = None, num_workers: int = 0):
        super().__init__()
        if batch_size < 1 or eval_batch_size < 1 or eval_examples < 1 or (val_examples is not None and val_examples < 1):
            raise ValueError("data.batch_size, data.eval_batch_size, data.eval_examples and data.val_examples must be >= 1")
        if num_workers < 0:
            raise ValueError(f"data.num_workers={num_workers} must be >= 0")
        self.batch_size, self.eval_batch_size, self.eval_examples = batch_size, eval_batch_size, eval_examples
        self.val_examples, self.num_workers = val_examples, num_workers
        self.seed, self.eval_seed = seed, eval_seed
        self._eval_cache: dict[str, dict[str, list[dict]]] = {}

    # ----- what a task defines -----
    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def train_example(self, rng: random.Random) -> Example:
        raise NotImplementedError

    def eval_sets(self, stage: str) -> dict[str, Callable[[random.Random], Example]]:
        raise NotImplementedError

    def train_batch(self, rng: random.Random) -> dict:
        return collate([self.train_example(rng) for _ in range(self.batch_size)], self.pad_id)

    # ----- what a task may override (SequenceLM and the CLI call these) -----
    #: Splices tokens into the context during evaluation decoding (in-context retrieval); None: plain greedy.
    retriever: Retriever | None = None

    def score(self, pred: torch.Tensor, batch: dict) -> tuple:
        """(per-token correct (B, A), whole answer correct (B,)[, {metric: per-example score}]) of ``pred``."""
        return exact_match(pred, batch["answer"], batch["answer_mask"])

    def max_eval_tokens(self) -> int | None:
        """Longest full evaluation sequence (prompt and answer), checked against the model's max_seq_len and
        the project's memory bounds before training; None when the task cannot say."""
        return None

    def __str__(self) -> str:
        """The class and its sizes, without building anything.

        Lightning's own ``__str__`` makes every dataloader to describe it, which here generates the
        evaluation sets; jsonargparse formats a DataModule into a debug message each time it skips a
        link the DataModule has no source for (``input_size`` of a sequence task), so building a run
        would generate them, however large.
        """
        return (f"{type(self).__name__}(batch_size={self.batch_size}, eval_examples={self.eval_examples}, "
                f"seed={self.seed}, eval_seed={self.eval_seed})")

    # ----- Lightning hooks -----
    def eval_set_names(self, stage: str) -> list[str]:
        return list(self.eval_sets(stage))

    def eval_data(self, stage: str) -> dict[str, list[dict]]:
        """A stage's ("val" or "test") evaluation sets by name, each a list of padded batches; drawn
        once from ``eval_seed``, so every run and every reader of a run sees the same examples."""
        if stage not in self._eval_cache:
            data = {}
            count = min(self.val_examples, self.eval_examples) if stage == "val" and self.val_examples else self.eval_examples
            for name, sample in self.eval_sets(stage).items():
                rng = rng_for(self.eval_seed, stage, name)
                data[name] = eval_batches([sample(rng) for _ in range(count)], self.eval_batch_size, self.pad_id)
            self._eval_cache[stage] = data
        return self._eval_cache[stage]

    def train_dataloader(self):
        stream = _TrainStream(self.train_batch, self.seed, self._stream_start)
        if self.num_workers == 0:
            return DataLoader(stream, batch_size=None)
        fork = "fork" if "fork" in multiprocessing.get_all_start_methods() else None  # the stream holds the trainer
        return _StreamLoader(stream, batch_size=None, num_workers=self.num_workers, worker_init_fn=_one_thread,
                             multiprocessing_context=fork)

    def _stream_start(self) -> tuple[int, int, int]:
        """(first batch, rank, world size): batches already trained on (0, or a resumed run's step) and this process's rank."""
        trainer = self.trainer
        if trainer is None:
            return 0, 0, 1
        return trainer.global_step * trainer.accumulate_grad_batches, trainer.global_rank, trainer.world_size

    def _loaders(self, stage):
        return [DataLoader(batches, batch_size=None) for batches in self.eval_data(stage).values()]

    def val_dataloader(self):
        return self._loaders("val")

    def test_dataloader(self):
        return self._loaders("test")
