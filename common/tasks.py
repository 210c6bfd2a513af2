"""What a task hands to the training loop: one example as a flat token sequence.

Tasks know nothing of models. A task generator returns ``Example``s; ``collate`` turns a
list of them into padded tensors for teacher-forced training and prompts for evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Example:
    """One sequence: the prompt, then what the model must produce.

    ``tokens``: the full sequence (prompt followed by the answer).
    ``target_mask``: per token, True where that token is a training target, i.e. the model
    is scored on predicting it from the tokens before it. Prompt tokens are False; so are
    tokens inserted by an oracle (e.g. retrieval results) that the model must not predict.
    ``prompt_len``: how many leading tokens are given at evaluation; the rest is generated.
    """

    tokens: list[int]
    target_mask: list[bool]
    prompt_len: int

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.target_mask):
            raise ValueError(f"tokens ({len(self.tokens)}) and target_mask ({len(self.target_mask)}) differ in length")
        if not 0 < self.prompt_len <= len(self.tokens):
            raise ValueError(f"prompt_len={self.prompt_len} must lie in [1, {len(self.tokens)}]")

    @property
    def prompt(self) -> list[int]:
        return self.tokens[: self.prompt_len]

    @property
    def answer(self) -> list[int]:
        return self.tokens[self.prompt_len :]


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad examples into a training batch.

    Returns ``inputs`` (B, T-1), ``targets`` (B, T-1) and ``loss_mask`` (B, T-1), where
    ``targets[:, t]`` is the token after ``inputs[:, t]``, plus ``prompt_len`` (B,).
    """
    width = max(len(e.tokens) for e in examples)
    tokens = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.bool)
    for i, e in enumerate(examples):
        tokens[i, : len(e.tokens)] = torch.tensor(e.tokens, dtype=torch.long)
        mask[i, : len(e.tokens)] = torch.tensor(e.target_mask, dtype=torch.bool)
    return {
        "inputs": tokens[:, :-1],
        "targets": tokens[:, 1:],
        "loss_mask": mask[:, 1:],
        "prompt_len": torch.tensor([e.prompt_len for e in examples], dtype=torch.long),
    }
