"""The fused CPU selective scan (``scan_cpu.c``, built and loaded by ``ckernels``) as an autograd Function.

Why it exists and what it computes: see the header of ``scan_cpu.c``. Where the C file cannot be
built (no compiler) or ``LIMITS_CPU_KERNELS=0``, ``load()`` is None and the scan runs as PyTorch
ops (``scan._SequentialScan``): the same recurrence, the same results to rounding, slower.
"""
from __future__ import annotations

import ctypes
import math

import torch
from torch.autograd.function import once_differentiable

from common.models import ckernels
from common.models.ckernels import ptr as _ptr

__all__ = ["load", "fused_scan"]


_SIGNATURES = {  # (nb, L, d, n, slices, slice index, floor, pointers)
    f"scan_{way}_{form}_{name}": ckernels.sig(6, real, 8 if way == "fwd" else 14)
    for name, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double))
    for way in ("fwd", "bwd") for form in ("par", "slice")
}


def load() -> ctypes.CDLL | None:
    """The compiled scan, or None (disabled, or it could not be built: warned once)."""
    return ckernels.load("scan_cpu", _SIGNATURES)


def _floor(dtype: torch.dtype) -> float:
    return 0.5 * math.log(torch.finfo(dtype).tiny)


class _FusedScan(torch.autograd.Function):
    """y = <C_t, h_t> and the last state (same contract as ``scan._SequentialScan``), in C."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0):
        load()
        b, d, L = u.shape
        n = A.shape[1]
        name = "f64" if u.dtype == torch.float64 else "f32"
        # Channels innermost. u and delta usually arrive as transposed views of (b, L, d) tensors,
        # for which these copies are no-ops.
        ut, dt = u.transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous()
        At, Bt, Ct = A.t().contiguous(), B.transpose(1, 2).contiguous(), C.transpose(1, 2).contiguous()
        h0t = h0.transpose(1, 2).contiguous()
        y = u.new_empty(b, L, d)
        last = u.new_empty(b, n, d)
        ckernels.run_sliced("scan_cpu", f"scan_fwd_{name}", (b, L, d, n), ckernels.threads(b), _floor(u.dtype),
                            tuple(_ptr(t) for t in (ut, dt, At, Bt, Ct, h0t, y, last)))
        ctx.save_for_backward(ut, dt, At, Bt, Ct, h0t)  # the backward recomputes the states
        return y.transpose(1, 2), last.transpose(1, 2).contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, glast):
        ut, dt, At, Bt, Ct, h0t = ctx.saved_tensors
        load()
        b, L, d = ut.shape
        n = At.shape[0]
        name = "f64" if ut.dtype == torch.float64 else "f32"
        gyt = ut.new_zeros(b, L, d) if gy is None else gy.transpose(1, 2).contiguous()
        glt = None if glast is None else glast.transpose(1, 2).contiguous()
        gu, gdelta = torch.empty_like(ut), torch.empty_like(ut)
        gB, gC = torch.empty_like(Bt), torch.empty_like(Ct)
        gh0 = torch.empty_like(h0t)
        nt = ckernels.threads(b)
        gAs = At.new_zeros(nt, *At.shape)  # one accumulator per slice, summed below
        ckernels.run_sliced("scan_cpu", f"scan_bwd_{name}", (b, L, d, n), nt, _floor(ut.dtype),
                            tuple(_ptr(t) for t in (ut, dt, At, Bt, Ct, h0t, gyt, glt, gu, gdelta, gAs, gB, gC, gh0)))
        gA = gAs[0] if nt == 1 else gAs.sum(0)
        return (gu.transpose(1, 2), gdelta.transpose(1, 2), gA.t(), gB.transpose(1, 2), gC.transpose(1, 2),
                gh0.transpose(1, 2))


def fused_scan(u, delta, A, B, C, h0):
    """Same inputs and outputs as ``scan._SequentialScan.apply``; needs ``load()`` to succeed."""
    return _FusedScan.apply(u, delta, A, B, C, h0)
