"""A GRU layer for CPU training: time loops in C, everything over all steps at once in PyTorch.

Why: on CPU, ``nn.LSTM`` trains through oneDNN's fused kernels (which have no GRU path in
PyTorch) while ``nn.GRU``'s backward is autograd over a dozen small ops per time step, which made
a GRU train about 3.5x slower than an LSTM of the same width although it does 3/4 of the work.
Here the forward's time loop (the recurrent product and the gates) and the backward's (the
carried gradient) run in C (``gru_cpu.c``, one pass per step, no per-op call overhead); the
backward recomputes every gate at once from the saved hidden states (one matmul over all steps),
and the input projection and weight gradients are single matrix products. Where the C file cannot
be built, the forward is ``torch.gru`` (the C++ loop ``nn.GRU`` runs, without recording a graph)
and the backward loop is PyTorch ops: one multiply-add and one matmul per step.

Gates follow ``nn.GRU`` (order r, z, n)::

    r = sigmoid(gi_r + gh_r)    z = sigmoid(gi_z + gh_z)    n = tanh(gi_n + r * gh_n)
    h' = (1 - z) * n + z * h    with gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh

so a module's parameters serve either path and results agree with ``nn.GRU`` to rounding.
"""
from __future__ import annotations

import ctypes

import torch
import torch.nn.functional as F
from torch import nn

from common.models import ckernels


_SIGNATURES = {  # (T, B, H, slices, slice index, unused real, pointers)
    f"gru_{way}_{form}_{name}": ckernels.sig(5, real, 6 if way == "fwd" else 8)
    for name, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double))
    for way in ("fwd", "bwd") for form in ("par", "slice")
}


def _kernel() -> ctypes.CDLL | None:
    """The C time loops (``gru_cpu.c``), or None: then torch.gru and a Python loop do the same work."""
    return ckernels.load("gru_cpu", _SIGNATURES)


def _c_forward(gi, h0, w_hh, b_hh):
    """All hidden states (T, B, H) of one layer from its input projections gi (T, B, 3H), in C, and
    the gates (T, B, 4H: r, z, n, gh_n) the backward needs."""
    T, B, G = gi.shape
    H = G // 3
    gi, h0, whhT, b_hh = gi.contiguous(), h0.contiguous(), w_hh.t().contiguous(), b_hh.contiguous()
    hs, gates = gi.new_empty(T, B, H), gi.new_empty(T, B, 4 * H)
    P = ckernels.ptr  # noqa: N806
    ckernels.run_sliced("gru_cpu", "gru_fwd_f64" if gi.dtype == torch.float64 else "gru_fwd_f32", (T, B, H),
                        ckernels.threads(B), 0.0, (P(gi), P(h0), P(whhT), P(b_hh), P(hs), P(gates)))
    return hs, gates


class _GRULayer(torch.autograd.Function):
    """One unidirectional layer on precomputed input projections ``gi`` (T, B, 3H), time-major."""

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh, hs, gates):
        # hs (T, B, H): the layer's outputs, computed by the caller (C loop or torch.gru); gates
        # (T, B, 4H) from the C loop, or None (then the backward recomputes them).
        ctx.save_for_backward(gi, h0, w_hh, b_hh, hs, gates)
        return hs.clone()

    @staticmethod
    def backward(ctx, d_out):
        gi, h0, w_hh, b_hh, hs, gates = ctx.saved_tensors
        T, B, H = hs.shape
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])  # (T, B, H)
        d_out = d_out.contiguous() if d_out is not None else torch.zeros_like(hs)
        carry = torch.zeros_like(h0)
        lib = _kernel() if gates is not None else None
        if lib is not None:
            # The whole reverse loop, gate gradients included, in C from the forward's gates.
            dgi, dgh = (gi.new_empty(T, B, 3 * H) for _ in range(2))  # contiguous, as the C loop writes them
            P = ckernels.ptr  # noqa: N806
            h0c, w = h0.contiguous(), w_hh.contiguous()
            ckernels.run_sliced("gru_cpu", "gru_bwd_f64" if hs.dtype == torch.float64 else "gru_bwd_f32", (T, B, H),
                                ckernels.threads(B), 0.0,
                                (P(d_out), P(gates), P(h0c), P(hs), P(w), P(dgi), P(dgh), P(carry)))
        else:
            gh = torch.addmm(b_hh, h_prev.reshape(T * B, H), w_hh.t()).view(T, B, 3 * H)
            rz = torch.sigmoid(gi[..., : 2 * H] + gh[..., : 2 * H])
            r, z = rz[..., :H], rz[..., H:]
            gh_n = gh[..., 2 * H:]
            n = torch.tanh(gi[..., 2 * H:] + r * gh_n)
            # d(pre-activation) = dh * coef for each of the three blocks; carry = dh * z + dgh @ W_hh.
            a_n = (1 - z) * (1 - n * n)
            coef = torch.cat([a_n * gh_n * r * (1 - r), (h_prev - n) * z * (1 - z), a_n * r], dim=-1).view(T, B, 3, H)
            dh_all = torch.empty_like(hs)
            dgh = torch.empty(T, B, 3, H, dtype=hs.dtype, device=hs.device)
            for t in range(T - 1, -1, -1):
                dh = d_out[t] + carry
                dh_all[t] = dh
                torch.mul(coef[t], dh.unsqueeze(1), out=dgh[t])
                carry = torch.addmm(dh * z[t], dgh[t].view(B, 3 * H), w_hh)
            dgh = dgh.view(T, B, 3 * H)
            dgi = dgh.clone()
            dgi[..., 2 * H:] = dh_all * a_n  # the input's n block skips r
        d_w = dgh.reshape(T * B, 3 * H).t() @ h_prev.reshape(T * B, H)
        return dgi, carry, d_w, dgh.sum(dim=(0, 1)), None, None


def _layer_params(gru: nn.GRU, k: int):
    return (getattr(gru, f"weight_ih_l{k}"), getattr(gru, f"weight_hh_l{k}"),
            getattr(gru, f"bias_ih_l{k}"), getattr(gru, f"bias_hh_l{k}"))


def uses_fast_backward(gru: nn.RNNBase, x: torch.Tensor) -> bool:
    """The fast path covers what the figures train: CPU, grad on, biases, one direction, no projection."""
    return (x.device.type == "cpu" and torch.is_grad_enabled() and gru.bias and not gru.bidirectional
            and gru.mode == "GRU" and gru.proj_size == 0 and x.dtype in (torch.float32, torch.float64))


def implementation(rnn: nn.RNNBase, x: torch.Tensor, grad: bool | None = None) -> str:
    """The code ``run_rnn(rnn, x)`` runs (``grad``: whether gradients are on; default: as now).

    "c_gru" (the C time loops of ``gru_cpu.c``), "torch_gru" (their fallback without a C compiler
    or with ``LIMITS_CPU_KERNELS=0``: ``torch.gru`` forward, PyTorch-ops backward), else the module
    itself: "cudnn" on CUDA, "torch" elsewhere (any LSTM, and a GRU without gradients).
    ``run_rnn`` dispatches on this very function, so what it says is what runs.
    """
    with torch.set_grad_enabled(torch.is_grad_enabled() if grad is None else grad):
        fast = uses_fast_backward(rnn, x)
    if fast:
        return "c_gru" if _kernel() is not None else "torch_gru"
    return "cudnn" if x.is_cuda else "torch"


def run_rnn(gru: nn.RNNBase, x: torch.Tensor, h0: torch.Tensor | None = None):
    """``gru(x, h0)``, through the fast CPU backward where it applies (any other RNN module runs as is)."""
    impl = implementation(gru, x)
    if impl not in ("c_gru", "torch_gru"):
        return gru(x, h0)
    seq = x.transpose(0, 1) if gru.batch_first else x  # (T, B, D)
    T, B, _ = seq.shape
    if h0 is None:
        h0 = seq.new_zeros(gru.num_layers, B, gru.hidden_size)
    finals = []
    lib = _kernel() if impl == "c_gru" else None
    for k in range(gru.num_layers):
        if k > 0 and gru.dropout > 0 and gru.training:
            seq = F.dropout(seq, gru.dropout, training=True)
        w_ih, w_hh, b_ih, b_hh = _layer_params(gru, k)
        gi = F.linear(seq, w_ih, b_ih)
        with torch.no_grad():
            if lib is not None:
                hs, gates = _c_forward(gi, h0[k], w_hh, b_hh)
            else:
                hs, _ = torch.gru(seq, h0[k: k + 1], [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, False)
                gates = None
        seq = _GRULayer.apply(gi, h0[k], w_hh, b_hh, hs, gates)
        finals.append(seq[-1])
    out = seq.transpose(0, 1) if gru.batch_first else seq
    return out, torch.stack(finals)
