"""p-bit uniform quantisation of a tensor, to make an SSM's state precision explicit (E1, E4b):
with d numbers of p bits the state holds at most d*p bits, the quantity in Theorem 1's bound.

- ``quantize(x, bits, lo, hi)``: clamp to [lo, hi], round to the nearest of the 2^p levels
  lo + k (hi - lo) / (2^p - 1), k = 0..2^p - 1. Error <= (hi - lo) / (2 (2^p - 1)) inside the range.
- ``quantize_ste``: same forward values, straight-through gradient (identity; zero outside
  [lo, hi] for the fixed range, so clamped values get no gradient), for training.

>>> levels(2)
tensor([-1.0000, -0.3333,  0.3333,  1.0000])
>>> quantize(torch.tensor([-2.0, -0.5, 0.1, 0.9]), bits=2)
tensor([-1.0000, -0.3333,  0.3333,  1.0000])
"""
from __future__ import annotations

import torch


def _check_bits(bits: int) -> int:
    if not isinstance(bits, int) or bits < 1:
        raise ValueError(f"bits must be a positive int, got {bits!r}")
    return 2 ** bits - 1


def levels(bits: int, lo: float = -1.0, hi: float = 1.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 2^bits representable values, ascending (computed exactly as ``quantize`` does)."""
    steps = _check_bits(bits)
    k = torch.arange(steps + 1, dtype=torch.float64)
    return (lo + k * ((hi - lo) / steps)).to(dtype)


def quantize(x: torch.Tensor, bits: int, lo: float | torch.Tensor = -1.0,
             hi: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Nearest of 2^bits evenly spaced levels in [lo, hi] (values outside are clamped first)."""
    steps = _check_bits(bits)
    work = torch.float64
    lo_t = torch.as_tensor(lo, dtype=work)
    hi_t = torch.as_tensor(hi, dtype=work)
    step = (hi_t - lo_t) / steps
    xw = torch.minimum(torch.maximum(x.to(work), lo_t), hi_t)
    k = torch.round((xw - lo_t) / torch.where(step > 0, step, torch.ones_like(step)))
    return (lo_t + k * step).to(x.dtype)


def quantize_ste(x: torch.Tensor, bits: int, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    """Forward ``quantize``; backward identity inside [lo, hi], zero outside (clipped STE)."""
    xc = x.clamp(lo, hi)
    return xc + (quantize(xc, bits, lo, hi) - xc).detach()
