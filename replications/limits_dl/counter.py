"""The finite-precision counter of E4a: the recurrence x_{t+1} = x_t + 1 (an SSM channel with
eigenvalue 1 and input 1) kept in a floating dtype stops being exact at a computable count, the
concrete face of "a finite-precision SSM recognises only regular languages".

Closed form: a binary float with P significand bits (implicit bit included) represents every
integer up to 2^P; 2^P + 1 needs P + 1 bits and lies halfway between 2^P and 2^P + 2, and
round-half-to-even picks 2^P. So the counter is exact up to N = 2^P = 2 / eps and then sticks:
N = 256 (bfloat16, P = 8), 2048 (float16, P = 11), 16777216 (float32, P = 24), 2^53 (float64).
The first wrong count is N + 1. A hand-set counter recogniser of a^n b^n or Dyck-1 therefore
first errs at n = N + 1 (a^(N+1) b^(N+1) rejected, a^(N+1) b^N accepted).

The recurrence is run step by step in the target dtype (never a fused cumsum, which may
accumulate in higher precision and hide the limit).

>>> predicted_failure(torch.float16), predicted_failure(torch.bfloat16), predicted_failure(torch.float32)
(2048, 256, 16777216)
>>> find_failure(torch.bfloat16, limit=1000)
256
>>> run_counter(torch.float16, 2050)[-3:].tolist()  # x_2048, x_2049, x_2050
[2048.0, 2048.0, 2048.0]
"""
from __future__ import annotations

import torch


def predicted_failure(dtype: torch.dtype) -> int:
    """Largest count N the float counter reaches exactly (it sticks at N): 2^P = 2 / eps."""
    if not dtype.is_floating_point:
        raise ValueError(f"{dtype} is not a floating dtype")
    return int(2 / torch.finfo(dtype).eps)


def run_counter(dtype: torch.dtype, steps: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """Trajectory x_1..x_steps of x_{t+1} = x_t + 1 from x_0 = 0, one add per step in ``dtype``."""
    x = torch.zeros((), dtype=dtype, device=device)
    one = torch.ones((), dtype=dtype, device=device)
    out = torch.empty(steps, dtype=dtype, device=device)
    for t in range(steps):
        x = x + one
        out[t] = x
    return out


def find_failure(dtype: torch.dtype, limit: int = 2 ** 25, block: int = 8192,
                 device: str | torch.device = "cpu") -> int | None:
    """Last exact count of the counter (None if exact through ``limit`` steps), found by running it.

    To reach 2^24 in reasonable time the run is cut into blocks of ``block`` steps advanced side by
    side, block j starting from the value j * block cast to ``dtype``. Each step is still one add
    in ``dtype``. The earliest mismatch over all (block, step) is the true first failure: every
    block before it was exact throughout, so the block holding it started from the true state.
    """
    nblocks = -(-limit // block) + 1
    start = torch.arange(nblocks, dtype=torch.float64, device=device) * block
    x = start.to(dtype)
    one = torch.ones((), dtype=dtype, device=device)
    inf = float("inf")
    first_bad = torch.where(x.to(torch.float64) != start, start, torch.full_like(start, inf))
    for i in range(1, block + 1):
        x = x + one
        exact = start + i
        bad = (x.to(torch.float64) != exact) & torch.isinf(first_bad)
        first_bad = torch.where(bad, exact, first_bad)
    t = first_bad.min().item()
    if t == inf or t > limit:
        return None
    return int(t) - 1
