"""The (n, k)-sparse parity: x uniform on {-1, +1}^n, y = the product of x over a hidden set S of k coordinates.

Tasks know nothing of models: these functions make tensors from a seeded torch generator.
"""
from __future__ import annotations

import torch


def hidden_set(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """The k relevant coordinates (sorted), drawn uniformly without replacement from range(n)."""
    if not 1 <= k <= n:
        raise ValueError(f"parity needs 1 <= k <= n; got n={n}, k={k}")
    return torch.randperm(n, generator=generator)[:k].sort().values


def inputs(batch: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, n) float tensor of independent uniform ±1 entries."""
    return torch.randint(0, 2, (batch, n), generator=generator).float().mul_(2).sub_(1)


def parity(x: torch.Tensor, subset: torch.Tensor) -> torch.Tensor:
    """The label ∏_{i∈S} x_i of each row of ``x`` (±1 floats)."""
    return x[:, subset].prod(dim=1)


def random_labels(batch: int, generator: torch.Generator) -> torch.Tensor:
    """Labels drawn uniformly from ±1, independent of any input: the control with nothing to learn."""
    return torch.randint(0, 2, (batch,), generator=generator).float().mul_(2).sub_(1)
