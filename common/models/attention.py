"""Scaled dot-product attention with an additive bias, behind one call that says which kernel ran.

``naive`` is the readable reference used by tests; ``sdpa`` is PyTorch's fused kernel
(flash / memory-efficient / math, chosen by PyTorch).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "sdpa", "naive")


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v, computed in full. q: (B, H, Tq, D), bias: (H, Tq, Tk)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + bias
    return torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v


def attention(q, k, v, bias: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    if backend in ("auto", "sdpa"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
    if backend == "naive":
        return naive_attention(q, k, v, bias)
    raise ValueError(f"unknown attention backend={backend!r}; choose one of {BACKENDS}")
