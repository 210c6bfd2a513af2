"""Position schemes of the copying paper as pure functions: RoPE tables, ALiBi and Hard-ALiBi biases.

Jelassi et al. 2024 compare NoPE, RoPE, ALiBi and their Hard-ALiBi: in each layer, head h
(h < num_masked_heads) may only attend to the h+1 most recent positions, itself included;
the other heads carry no positional signal (NoPE) (Sec. 3; official code
``synthetic_exps/models/hard_alibi_model.py``).
"""
from __future__ import annotations

import math
from typing import Literal, get_args

import torch

Position = Literal["nope", "rope", "alibi", "hard_alibi"]
POSITIONS = get_args(Position)


def alibi_slopes(n_heads: int, max_bias: float = 8.0) -> torch.Tensor:
    """ALiBi head slopes 2^(-max_bias * h / n) for h = 1..n (Press et al. 2022).

    For a head count that is not a power of two, take the slopes of the next power of two
    and keep every other one first, as the ALiBi authors and MPT do.
    """
    n = 2 ** math.ceil(math.log2(n_heads))
    slopes = torch.tensor([2.0 ** (-max_bias * (h + 1) / n) for h in range(n)], dtype=torch.float64)
    if n != n_heads:
        slopes = torch.cat([slopes[1::2], slopes[0::2]])[:n_heads]
    return slopes


def hard_alibi_windows(n_heads: int, num_masked_heads: int) -> list[int | None]:
    """Per-head window sizes: head h < num_masked_heads sees the h+1 latest keys; None = unbounded."""
    if not 0 <= num_masked_heads <= n_heads:
        raise ValueError(f"num_masked_heads={num_masked_heads} must lie in [0, n_head={n_heads}]")
    return [h + 1 if h < num_masked_heads else None for h in range(n_heads)]


def attention_bias(
    position: str,
    n_heads: int,
    q_pos: torch.Tensor,
    k_pos: torch.Tensor,
    num_masked_heads: int = 0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Additive bias (H, Tq, Tk): causal mask plus the scheme's positional term; -inf where masked.

    ``q_pos`` and ``k_pos`` are absolute positions, so the same function serves full passes
    and cached decoding.
    """
    dist = (q_pos[:, None] - k_pos[None, :]).to(torch.float64)  # (Tq, Tk), >= 0 where allowed
    allowed = (dist >= 0).expand(n_heads, -1, -1).clone()
    bias = torch.zeros(n_heads, len(q_pos), len(k_pos), dtype=torch.float64, device=q_pos.device)
    if position == "alibi":
        bias = bias - alibi_slopes(n_heads).to(q_pos.device)[:, None, None] * dist
    elif position == "hard_alibi":
        for h, window in enumerate(hard_alibi_windows(n_heads, num_masked_heads)):
            if window is not None:
                allowed[h] &= dist < window
    elif position not in ("nope", "rope"):
        raise ValueError(f"unknown position={position!r}; choose one of {POSITIONS}")
    return bias.masked_fill(~allowed, float("-inf")).to(dtype)


def rope_tables(rot_dim: int, positions: torch.Tensor, base: float = 10000.0, dtype=torch.float32):
    """cos/sin tables (T, rot_dim/2) for rotary embeddings (Su et al. 2021)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, rot_dim, 2, dtype=torch.float64, device=positions.device) / rot_dim))
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first ``2 * cos.shape[-1]`` dims of x (B, H, T, D) pairwise (GPT-NeoX half split)."""
    half = cos.shape[-1]
    x1, x2, x_pass = x[..., :half], x[..., half: 2 * half], x[..., 2 * half:]
    parts = [x1 * cos - x2 * sin, x1 * sin + x2 * cos]
    return torch.cat(parts + [x_pass] if x_pass.shape[-1] else parts, dim=-1)  # one copy when all dims rotate
