"""Token embeddings shared by the zoo: learned (the default) or a frozen sinusoidal table.

"RNNs are not Transformers (Yet)" (Wen, Dang, Lyu, ICLR 2025, experiments section) gives every
model the same fixed input/output space: row i of the embedding is a sinusoid of the token id i,
column j = sin(i / 10000^(j/d)) for even j and cos(i / 10000^((j-1)/d)) for odd j, frozen and
tied to the LM head (so neither is trained and parameter counts leave them out).
"""
from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

Embedding = Literal["learned", "sinusoidal"]
EMBEDDINGS = get_args(Embedding)


def sinusoidal_table(vocab_size: int, d_model: int) -> torch.Tensor:
    """(vocab_size, d_model) float32: even columns sin(i / 10000^(j/d)), odd ones cos(i / 10000^((j-1)/d))."""
    i = torch.arange(vocab_size, dtype=torch.float64)[:, None]
    j = torch.arange(d_model)
    even = (j - j % 2).to(torch.float64)  # j for even columns, j - 1 for odd ones
    angle = i / torch.pow(10000.0, even / d_model)[None, :]
    return torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle)).to(torch.float32)


def check_embedding(embedding: str, tie_embeddings: bool) -> None:
    if embedding not in EMBEDDINGS:
        raise ValueError(f"unknown embedding={embedding!r}; choose one of {EMBEDDINGS}")
    if embedding == "sinusoidal" and not tie_embeddings:
        raise ValueError("embedding='sinusoidal' is frozen and tied to the LM head: set tie_embeddings=true")


@torch.no_grad()
def apply_embedding(emb: nn.Embedding, lm_head: nn.Linear, embedding: str) -> None:
    """After the model's own init: for "sinusoidal", fill ``emb`` with the table and freeze it (and the tied head)."""
    if embedding != "sinusoidal":
        return
    if lm_head.weight is not emb.weight:
        raise ValueError("embedding='sinusoidal' needs the LM head tied to the embedding")
    emb.weight.copy_(sinusoidal_table(*emb.weight.shape))
    emb.weight.requires_grad_(False)
