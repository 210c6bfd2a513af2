"""Selective scan of Mamba (Gu & Dao, 2023): the recurrence, a fast exact form, and a dispatcher.

For every batch row b and channel d the scan runs an independent linear recurrence over a
state of size ``d_state``::

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * u_t * B_t        (elementwise over the state)
    y_t = <C_t, h_t> + D * u_t,        out_t = y_t * silu(z_t)

Shapes follow mamba_ssm's ``selective_scan_fn``: u, delta, z (batch, d_inner, L); A (d_inner,
d_state), real; B, C (batch, d_state, L), real and input-dependent; D, delta_bias (d_inner,).
``initial_state`` (batch, d_inner, d_state) lets a scan continue where another stopped, which
is what chunked decoding needs; the CUDA kernel has no such argument.

Work is done in float32, or float64 for float64 inputs; ``out`` is cast back to u's dtype and
the last state stays in the working dtype.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from common.models import scan_kernel

__all__ = ["selective_scan_ref", "selective_scan_sequential", "selective_scan_chunked", "selective_scan", "implementation",
           "SCAN_BACKENDS"]

SCAN_BACKENDS = ("torch", "ref", "mamba_ssm")


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def _check(u, delta, A, B, C, D, z, delta_bias, initial_state) -> None:
    """Fail early, with the shapes, instead of deep inside a broadcast."""
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be (batch, d_inner, L); got {tuple(u.shape)} and {tuple(delta.shape)}")
    b, d, L = u.shape
    if A.is_complex() or B.is_complex() or C.is_complex():
        raise ValueError("only real A, B, C are supported (Mamba's S4D-real parameterisation)")
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"A must be (d_inner={d}, d_state); got {tuple(A.shape)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != (b, n, L):
            raise ValueError(f"{name} must be (batch, d_state, L) = {(b, n, L)}; got {tuple(t.shape)}")
    for name, t, shape in (("D", D, (d,)), ("delta_bias", delta_bias, (d,)), ("z", z, (b, d, L)),
                           ("initial_state", initial_state, (b, d, n))):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}; got {tuple(t.shape)}")


def _prepare_delta(delta, delta_bias, delta_softplus, dtype):
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return delta


def _finish(y, u, D, z, dtype_in, last, return_last_state):
    """Skip connection, gate, cast back: the part shared by every scan."""
    if D is not None:
        y = y + u * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    y = y.to(dtype_in)
    return (y, last) if return_last_state else y


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False, initial_state=None):
    """The recurrence one time step at a time: slow, obviously right, the yardstick for the others."""
    _check(u, delta, A, B, C, D, z, delta_bias, initial_state)
    dtype_in, wt = u.dtype, _work_dtype(u.dtype)
    u = u.to(wt)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, wt)
    A, B, C = A.to(wt), B.to(wt), C.to(wt)
    b, d, L = u.shape
    h = u.new_zeros(b, d, A.shape[1]) if initial_state is None else initial_state.to(wt)
    ys = []
    for t in range(L):
        dt = delta[:, :, t, None]  # (b, d, 1)
        h = torch.exp(dt * A) * h + (dt * u[:, :, t, None]) * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1) if ys else u.new_zeros(b, d, 0)
    return _finish(y, u, D, z, dtype_in, h, return_last_state)


# --- sequential scan ----------------------------------------------------------------------------
#
# The recurrence itself, arranged for a CPU: every per-step factor is computed at once in a
# time-major (L, b, d, n) layout, so each step is one fused multiply-add on a contiguous
# (b, d, n) slice that stays in cache. On CPUs this beats the doubling form below, whose
# (b, d, n, Q) tensors are streamed through memory log2(Q) times; on GPUs the reverse holds.
# The backward is the adjoint recurrence, one fused op per step as well.


class _SequentialScan(torch.autograd.Function):
    """y = <C_t, h_t> and the last state, for a delta that already has its bias and softplus.

    Forward and backward walk the steps one at a time and do all of a step's work while its
    state block is in cache: on a CPU the scan is bound by memory traffic, and whole-sequence
    elementwise passes (or einsum, which transposes these tensors first) read and write the
    L x b x d x n states many times over. States are kept as (L, b, n, d), channels innermost,
    so the sums over the state (n, 16 wide) add whole rows instead of reducing short vectors.
    Only the states and their decays are kept for the backward.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0):
        L, b, d, n = u.shape[-1], u.shape[0], u.shape[1], A.shape[1]
        At = A.t().contiguous()  # (n, d)
        dt = delta.permute(2, 0, 1).contiguous()[:, :, None, :]  # (L, b, 1, d)
        x = (delta * u).permute(2, 0, 1).contiguous()[:, :, None, :]  # (L, b, 1, d): the step's input scale
        Bt = B.permute(2, 0, 1).contiguous()[..., None]  # (L, b, n, 1)
        Ct = C.permute(2, 0, 1).contiguous()[:, :, None, :]  # (L, b, 1, n)
        floor = _decay_floor(u.dtype)
        decay = u.new_empty(L, b, n, d)
        hs = torch.empty_like(decay)
        y = u.new_empty(L, b, 1, d)
        h = h0.transpose(1, 2)
        for t in range(L):
            dc = torch.mul(dt[t], At, out=decay[t]).clamp_(min=floor).exp_()
            h = torch.addcmul(Bt[t] * x[t], dc, h, out=hs[t])
            torch.bmm(Ct[t], h, out=y[t])
        ctx.save_for_backward(u, delta, A, B, C, h0, decay, hs)
        return y.squeeze(2).permute(1, 2, 0), hs[-1].transpose(1, 2).contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, glast):
        u, delta, A, B, C, h0, decay, hs = ctx.saved_tensors
        b, d, L = u.shape
        n = A.shape[1]
        if gy is None:
            gy = torch.zeros_like(u)
        At = A.t().contiguous()
        gyt = gy.permute(2, 0, 1).contiguous()[:, :, None, :]  # (L, b, 1, d)
        dt = delta.permute(2, 0, 1).contiguous()[:, :, None, :]
        x = (delta * u).permute(2, 0, 1).contiguous()[..., None]  # (L, b, d, 1)
        Bt = B.permute(2, 0, 1).contiguous()[:, :, None, :]  # (L, b, 1, n)
        Ct = C.permute(2, 0, 1).contiguous()[..., None]  # (L, b, n, 1)
        h0t = h0.transpose(1, 2)
        lam_B = u.new_empty(L, b, 1, d)  # dLoss/d(delta * u)
        g_dA = u.new_empty(L, b, d)  # sum over the state of dLoss/d(log-decay) * A
        gB = u.new_empty(L, b, n, 1)
        gC = u.new_empty(L, b, n, 1)
        gA = torch.zeros_like(At)
        # lam = dLoss/dh_t, through y_t and every later state: the recurrence run backwards.
        lam = h0t.new_zeros(b, n, d) if glast is None else glast.transpose(1, 2).contiguous()
        for t in range(L - 1, -1, -1):
            if t < L - 1:
                lam = lam * decay[t + 1]
            lam.addcmul_(Ct[t], gyt[t])
            g = lam * decay[t] * (hs[t - 1] if t > 0 else h0t)  # dLoss/d(log-decay_t)
            gA.add_((g * dt[t]).sum(0))
            torch.sum(g.mul_(At), 1, out=g_dA[t])
            torch.bmm(Bt[t], lam, out=lam_B[t])
            torch.bmm(lam, x[t], out=gB[t])
            torch.bmm(hs[t], gyt[t].transpose(1, 2), out=gC[t])
        need = ctx.needs_input_grad
        lam_B = lam_B.squeeze(2)
        gu = (dt.squeeze(2) * lam_B).permute(1, 2, 0) if need[0] else None
        gdelta = (g_dA + u.permute(2, 0, 1) * lam_B).permute(1, 2, 0) if need[1] else None
        gh0 = (lam * decay[0]).transpose(1, 2) if need[5] else None
        return (gu, gdelta, gA.t() if need[2] else None, gB.squeeze(3).permute(1, 2, 0) if need[3] else None,
                gC.squeeze(3).permute(1, 2, 0) if need[4] else None, gh0)


def selective_scan_sequential(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                              return_last_state=False, initial_state=None):
    """Same result as ``selective_scan_ref``, walking the steps in order; keeps every state for the backward.

    On CPU tensors it runs the fused C loop of ``scan_kernel`` (forward and backward each one pass
    over time, the state kept in cache: 6-20x faster than the PyTorch ops at the CPU figures' sizes),
    or, where that cannot be built, ``_SequentialScan`` (the same recurrence as PyTorch ops). The
    two agree to rounding.
    """
    scan = scan_kernel.fused_scan if _sequential_implementation(u.device) == "c_scan" else _SequentialScan.apply
    return _run(scan, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, initial_state)


def _sequential_implementation(device: torch.device | str) -> str:
    """"c_scan" where the C loop is used (CPU tensors, kernel built), else "torch_scan" (PyTorch ops)."""
    return "c_scan" if torch.device(device).type == "cpu" and scan_kernel.load() is not None else "torch_scan"


def _run(scan, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, initial_state, *extra):
    """Checks, working dtype, delta's bias and softplus, then ``scan(u, delta, A, B, C, h0, *extra)``."""
    _check(u, delta, A, B, C, D, z, delta_bias, initial_state)
    dtype_in, wt = u.dtype, _work_dtype(u.dtype)
    u = u.to(wt)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, wt)
    b, d, L = u.shape
    h0 = u.new_zeros(b, d, A.shape[1]) if initial_state is None else initial_state.to(wt)
    if L == 0:
        y, last = u.new_zeros(b, d, 0), h0
    else:
        y, last = scan(u, delta, A.to(wt), B.to(wt), C.to(wt), h0, *extra)
    return _finish(y, u, D, z, dtype_in, last, return_last_state)


# --- chunked scan ------------------------------------------------------------------------------
#
# Inside a chunk of Q steps the recurrence is solved by recursive doubling (Hillis-Steele) in log
# space. Before the round with stride k (1, 2, 4, ...), x_t holds the contribution of the steps in
# (t - k, t] and w_t their summed log-decay; the round
#     x_t += exp(w_t) * x_{t-k};   w_t += w_{t-k}
# doubles both windows to (t - 2k, t].
# Every exponent is a sum of delta*A over a window, i.e. <= 0 whenever delta >= 0 and A <= 0 (as
# in Mamba), so nothing overflows, and window sums avoid the cancellation of subtracting two long
# cumulative sums. log2(Q) rounds per chunk; the carried state enters as exp(w_t) * h_prev with
# w_t the log-decay since the chunk start. Chunks are visited in a Python loop, time steps never.
#
# A masked Q x Q segment-sum (the Mamba-2/SSD form) would also be exact, but Mamba-1's decay
# depends on the state index, so its decay matrix is (batch, d_inner, d_state, Q, Q): Q times the
# work of the recurrence and a tensor of 2^29 elements at batch 32, d_inner 256, Q 64. Doubling
# costs log2(Q) times the recurrence and only (batch, d_inner, d_state, Q) tensors.
#
# The backward pass is written out (the adjoint of a linear recurrence is the same recurrence run
# backwards), so nothing per time step is kept for autograd: only the inputs and the state at each
# chunk start; each chunk's states are recomputed when its gradient is taken.


def _decay_floor(dtype: torch.dtype) -> float:
    return 0.5 * math.log(torch.finfo(dtype).tiny)


def _decay(logdecay: torch.Tensor) -> torch.Tensor:
    """exp(logdecay), with the exponent floored at half the log of the smallest normal float.

    Decays below ~1e-19 (float32) or ~1e-154 (float64) are numerically zero next to any term they
    are added to; flooring them keeps exp and the products after it out of subnormal numbers,
    which are many times slower on CPUs (about 3x on a whole float32 scan with Mamba's decays).
    """
    return torch.exp(logdecay.clamp(min=_decay_floor(logdecay.dtype)))


def _scan_forward(x: torch.Tensor, w: torch.Tensor) -> None:
    """In place: x_t <- sum_{s<=t} exp(sum_{s<j<=t} logdecay_j) x_s, with w the per-step log-decay.

    On return w_t holds the log-decay summed over steps 0..t of the chunk.
    """
    q, k = x.shape[-1], 1
    while k < q:
        x[..., k:] += _decay(w[..., k:]) * x[..., :-k]
        w[..., k:] = w[..., k:] + w[..., :-k]  # right side first: the two slices overlap
        k *= 2


def _scan_backward(x: torch.Tensor, v: torch.Tensor) -> None:
    """In place, the reverse recurrence: x_t <- sum_{s>=t} exp(sum_{t<j<=s} logdecay_j) x_s.

    ``v`` must hold logdecay_{t+1} at t (0 at the last step); on return v_t is the log-decay
    summed over steps t+1..end of the chunk.
    """
    q, k = x.shape[-1], 1
    while k < q:
        x[..., :-k] += _decay(v[..., :-k]) * x[..., k:]
        v[..., :-k] = v[..., :-k] + v[..., k:]
        k *= 2


def _chunk_states(u, delta, A, B, h0):
    """All states of one chunk, (b, d, n, q), from the state h0 before it; also the per-step log-decay."""
    logdecay = delta[:, :, None, :] * A[None, :, :, None]  # (b, d, n, q)
    x = (delta * u)[:, :, None, :] * B[:, None, :, :]  # (b, d, n, q): input of each step
    w = logdecay.clone()
    _scan_forward(x, w)
    x += _decay(w) * h0[..., None]
    return x, logdecay


class _ChunkedScan(torch.autograd.Function):
    """y = <C_t, h_t> and the last state, for a delta that already has its bias and softplus."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0, chunk_size: int):
        b, d, L = u.shape
        starts = []
        y = u.new_empty(b, d, L)
        h = h0
        for t0 in range(0, L, chunk_size):
            sl = slice(t0, min(L, t0 + chunk_size))
            starts.append(h)
            hs, _ = _chunk_states(u[..., sl], delta[..., sl], A, B[..., sl], h)
            y[..., sl] = (hs * C[:, None, :, sl]).sum(2)
            h = hs[..., -1].contiguous()
        ctx.save_for_backward(u, delta, A, B, C, *starts)
        ctx.chunk_size = chunk_size
        return y, h

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, glast):
        u, delta, A, B, C, *starts = ctx.saved_tensors
        Q, L = ctx.chunk_size, u.shape[-1]
        need_u, need_delta, need_A, need_B, need_C, need_h0 = ctx.needs_input_grad[:6]
        gu = torch.zeros_like(u) if need_u else None
        gdelta = torch.zeros_like(delta) if need_delta else None
        gA = torch.zeros_like(A) if need_A else None
        gB = torch.zeros_like(B) if need_B else None
        gC = torch.zeros_like(C) if need_C else None
        if gy is None:
            gy = torch.zeros_like(u)
        # carry: gradient reaching the last state of the current chunk from everything after it.
        carry = torch.zeros_like(starts[0]) if glast is None else glast
        for ci in reversed(range(len(starts))):
            t0 = ci * Q
            sl = slice(t0, min(L, t0 + Q))
            u_c, dl_c, B_c, C_c, gy_c, h0 = u[..., sl], delta[..., sl], B[..., sl], C[..., sl], gy[..., sl], starts[ci]
            hs, logdecay = _chunk_states(u_c, dl_c, A, B_c, h0)
            # lam_t = dLoss/dh_t, through y_t and every later state.
            lam = gy_c[:, :, None, :] * C_c[:, None, :, :]
            v = torch.zeros_like(logdecay)
            v[..., :-1] = logdecay[..., 1:]
            _scan_backward(lam, v)
            lam += _decay(v) * carry[..., None]
            h_prev = torch.cat([h0[..., None], hs[..., :-1]], dim=-1)
            decay = _decay(logdecay)
            g_logdecay = lam * decay * h_prev  # (b, d, n, q)
            carry = decay[..., 0] * lam[..., 0]
            lam_B = (lam * B_c[:, None, :, :]).sum(2)  # (b, d, q): dLoss/d(delta*u)
            if need_C:
                gC[..., sl] = (gy_c[:, :, None, :] * hs).sum(1)
            if need_delta:
                gdelta[..., sl] = (g_logdecay * A[None, :, :, None]).sum(2) + u_c * lam_B
            if need_A:
                gA += (g_logdecay * dl_c[:, :, None, :]).sum((0, 3))
            if need_u:
                gu[..., sl] = dl_c * lam_B
            if need_B:
                gB[..., sl] = (lam * (dl_c * u_c)[:, :, None, :]).sum(1)
        gh0 = carry if need_h0 else None
        return gu, gdelta, gA, gB, gC, gh0, None


def selective_scan_chunked(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                           return_last_state=False, initial_state=None, chunk_size: int = 64):
    """Same result as ``selective_scan_ref`` without a loop over time: log-space doubling within
    chunks of ``chunk_size`` steps, state carried across chunks (see the notes above).

    Gradients come from a hand-written backward (first order only), which keeps memory at the
    inputs plus one state per chunk instead of one per time step.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    return _run(_ChunkedScan.apply, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state,
                initial_state, int(chunk_size))


def implementation(backend: str, chunk_size: int, device: torch.device | str) -> str:
    """The code that ``selective_scan(..., backend=backend, chunk_size=chunk_size)`` runs on ``device``.

    "c_scan" (the C loop of ``scan_cpu.c``), "torch_scan" (the same sequential recurrence as
    PyTorch ops: no C compiler, ``LIMITS_CPU_KERNELS=0``, or a non-CPU device), "chunked_scan"
    (doubling within chunks), "ref_scan" (step by step) or "mamba_ssm" (the CUDA kernel).
    ``selective_scan`` dispatches on this very function, so what it says is what runs.
    """
    if backend == "torch":
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
        return _sequential_implementation(device) if chunk_size == 1 else "chunked_scan"
    if backend == "ref":
        return "ref_scan"
    if backend == "mamba_ssm":
        return "mamba_ssm"
    raise ValueError(f"unknown scan backend={backend!r}; choose one of {SCAN_BACKENDS}")


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, initial_state=None, *, backend: str = "torch",
                   chunk_size: int = 64):
    """Run the scan on ``backend``: "torch" (``chunk_size`` 1: sequential, the fastest on CPUs; more:
    chunked doubling, for GPUs without the kernel), "ref" (step by step) or "mamba_ssm" (CUDA kernel).
    ``implementation`` names the code this runs.

    The mamba_ssm kernel starts from a zero state, so it refuses ``initial_state``.
    """
    impl = implementation(backend, chunk_size, u.device)
    if impl in ("c_scan", "torch_scan"):
        scan = scan_kernel.fused_scan if impl == "c_scan" else _SequentialScan.apply
        return _run(scan, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, initial_state)
    if impl == "chunked_scan":
        return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                      return_last_state, initial_state, chunk_size=chunk_size)
    if impl == "ref_scan":
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                  return_last_state, initial_state)
    if impl == "mamba_ssm":
        if initial_state is not None:
            raise ValueError("backend=mamba_ssm: selective_scan_fn has no initial state; use backend=torch")
        from common import backends

        backends.require("mamba_ssm", setting="scan backend")
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

        f32 = lambda t: None if t is None else t.float()  # noqa: E731 (the kernel wants fp32 D and bias)
        return selective_scan_fn(u, delta, A, B, C, f32(D), z, f32(delta_bias), delta_softplus, return_last_state)
    raise AssertionError(impl)  # unreachable: implementation() names only the paths above
