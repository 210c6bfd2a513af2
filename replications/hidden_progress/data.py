"""ParityDataModule: fresh online batches of the (n, k)-sparse parity and fixed evaluation sets.

The seeded stream, resumption and evaluation-set caching are the shared ``SyntheticDataModule``'s;
only the batches differ: ``{"x": (B, n) ±1 floats, "y": (B,) ±1}`` instead of token sequences.
"""
from __future__ import annotations

import random

import torch

from common.lit.datamodule import SyntheticDataModule
from common.seeding import derive_seed
from replications.hidden_progress import parity

LABELS = ("parity", "random")


def torch_generator(rng: random.Random) -> torch.Generator:
    """A torch generator seeded from a stream's ``random.Random`` (one draw)."""
    return torch.Generator().manual_seed(rng.getrandbits(63))


class ParityDataModule(SyntheticDataModule):
    """(n, k)-sparse parity on {-1, +1}^n, online: every training step draws a fresh batch.

    Args:
        n: input length.
        k: size of the hidden set S, drawn once per run from ``seed`` (each seed its own S).
        labels: "parity" (y = ∏_{i∈S} x_i) or "random" (y uniform, independent of x: the control of the
            hidden-progress figure; S is still drawn so that the two share every other random choice).
        batch_size: examples per training step (the paper's B).
        eval_examples: examples in the fixed validation set and in the fixed test set.
        seed: training data seed (stream and S); None (the default): the run's ``seed_everything``.
        eval_batch_size, eval_seed: see ``SyntheticDataModule``.
    """

    def __init__(self, n: int = 30, k: int = 3, labels: str = "parity", batch_size: int = 32,
                 eval_batch_size: int = 4096, eval_examples: int = 2048, seed: int | None = None, eval_seed: int = 20240201):
        seed = 0 if seed is None else seed
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, eval_examples=eval_examples,
                         seed=seed, eval_seed=eval_seed)
        if labels not in LABELS:
            raise ValueError(f"data.labels={labels!r}; choose one of {', '.join(LABELS)}")
        if not 1 <= k <= n:
            raise ValueError(f"data.k={k} must lie in [1, data.n={n}]")
        self.n, self.k, self.labels = n, k, labels
        self.subset = parity.hidden_set(n, k, torch.Generator().manual_seed(derive_seed(seed, "subset")))

    @property
    def input_size(self) -> int:
        """Linked by the CLI into the model's ``input_size``."""
        return self.n

    @property
    def vocab_size(self):
        """Not a sequence task: no vocabulary (AttributeError, so the CLI links nothing into the model)."""
        raise AttributeError("the parity task feeds vectors, not tokens: it has no vocab_size")

    def _batch(self, size: int, gen: torch.Generator) -> dict:
        x = parity.inputs(size, self.n, gen)
        y = parity.parity(x, self.subset) if self.labels == "parity" else parity.random_labels(size, gen)
        return {"x": x, "y": y}

    def train_batch(self, rng: random.Random) -> dict:
        return self._batch(self.batch_size, torch_generator(rng))

    def eval_set_names(self, stage: str) -> list[str]:
        return ["fresh"]

    def eval_data(self, stage: str) -> dict[str, list[dict]]:
        if stage not in self._eval_cache:
            # Fixed inputs from eval_seed; with random labels the labels are fixed too (drawn after the inputs).
            whole = self._batch(self.eval_examples, torch.Generator().manual_seed(derive_seed(self.eval_seed, stage)))
            step = self.eval_batch_size
            self._eval_cache[stage] = {"fresh": [{k: v[i: i + step] for k, v in whole.items()}
                                                 for i in range(0, self.eval_examples, step)]}
        return self._eval_cache[stage]
