"""The interface every architecture implements: token ids in, logits out, plus a step-wise state.

Models know nothing of tasks. A model is built from a vocabulary size and its own
hyperparameters; decoding, evaluation and sweeps only use the methods below.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Network(nn.Module):
    """What training, planning and result files ask of any architecture: its size, kernel path and longest input.

    ``SequenceModel`` (the zoo) and the small vector networks of ``common.lit.classifier`` derive from it.
    """

    def num_params(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    @property
    def backend(self) -> str:
        """Which kernel path runs the model (recorded in every result)."""
        return "torch"

    @property
    def max_seq_len(self) -> int | None:
        """Longest sequence the model accepts, or None when unbounded (or not a sequence model)."""
        return None


class SequenceModel(Network):
    """Base class of all language models in the zoo.

    Subclasses implement ``forward`` (full teacher-forced pass) and ``step`` (process new
    tokens given a decoding state, returning the updated state). ``step`` on the empty
    state with the whole prompt is a prefill; with one token it is an incremental step.
    ``step`` must give the same logits as ``forward`` on the concatenated sequence.
    """

    vocab_size: int

    def forward(self, idx: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, V)
        raise NotImplementedError

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> Any:
        """Empty decoding state (KV cache, recurrent state) for ``batch_size`` sequences."""
        raise NotImplementedError

    def step(self, idx: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Consume ``idx`` (B, T_new) after what ``state`` has seen; return logits (B, T_new, V)."""
        raise NotImplementedError

    def state_size(self, seq_len: int) -> int:
        """Floats a decoding step carries after ``seq_len`` tokens (KV cache grows, RNN state does not)."""
        raise NotImplementedError

    def no_weight_decay(self) -> set[str]:
        """Names (as ``named_parameters`` gives them) of the parameters AdamW must not decay: biases and
        norm scales (fewer than 2 dimensions), token embeddings (``nn.Embedding`` weights, tied heads
        included) and any parameter marked ``_no_weight_decay`` (e.g. Mamba's A_log and D).

        The model owns this choice, as nanoGPT's does; a family with other needs overrides it.
        """
        names = set()
        for prefix, module in self.named_modules():
            for name, p in module.named_parameters(prefix=prefix, recurse=False):
                if p.ndim < 2 or isinstance(module, nn.Embedding) or getattr(p, "_no_weight_decay", False):
                    names.add(name)
        return names


class ForwardOnly(SequenceModel):
    """A model given by ``forward`` alone (a scripted or oracle model): decoding re-runs ``forward`` over
    every token seen so far, so ``step`` agrees with ``forward`` by construction. Quadratic in length;
    for checking tools on models whose answers are known, not for training."""

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> None:
        return None

    def step(self, idx: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        seq = idx if state is None else torch.cat([state, idx], dim=1)
        return self.forward(seq)[:, -idx.shape[1]:], seq
