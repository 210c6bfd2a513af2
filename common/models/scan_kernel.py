"""The fused CPU selective scan (``scan_cpu.c``): built on first use, loaded with ctypes.

The C file has no PyTorch headers, so it builds with the system C compiler in about a second; the
shared library is cached per source, flags and compiler (``$LIMITS_KERNEL_CACHE``, default
``~/.cache/limits-replications``) and written atomically, so concurrent runs share one build.
Without a C compiler, or with ``LIMITS_SCAN_KERNEL=0``, ``load()`` returns None and the scan runs
as PyTorch ops (``scan._SequentialScan``): same recurrence, same results to rounding, slower.

Why it exists and what it computes: see the header of ``scan_cpu.c``.
"""
from __future__ import annotations

import ctypes
import hashlib
import math
import os
import shutil
import subprocess
import sysconfig
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

__all__ = ["load", "fused_scan", "enabled"]

SOURCE = Path(__file__).with_name("scan_cpu.c")
_lib: ctypes.CDLL | None | bool = False  # False: not tried yet


def enabled() -> bool:
    """False when ``LIMITS_SCAN_KERNEL`` is set to 0 (force the PyTorch ops)."""
    return os.environ.get("LIMITS_SCAN_KERNEL", "1") != "0"


def _flags() -> list[str]:
    # -fno-trapping-math lets floorf vectorise; neither flag changes any result (no -ffast-math).
    flags = ["-O3", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno", "-fPIC", "-shared"]
    # Vector width: what PyTorch itself dispatches to on this CPU (AVX2 or better: 8 floats).
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def _compiler() -> str | None:
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc") or shutil.which("gcc")


def _build() -> Path:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC)")
    flags = _flags()
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join([cc, *flags]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("LIMITS_KERNEL_CACHE") or Path.home() / ".cache" / "limits-replications")
    lib = cache / f"scan_cpu-{key}.so"
    if lib.exists():
        return lib
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
    os.close(fd)
    try:
        res = subprocess.run([cc, *flags, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{cc} failed: {res.stderr.strip()[:500]}")
        os.replace(tmp, lib)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


def load() -> ctypes.CDLL | None:
    """The compiled kernel, or None (disabled, or it could not be built: warned once)."""
    global _lib
    if not enabled():
        return None
    if _lib is False:
        try:
            lib = ctypes.CDLL(str(_build()))
            sizes, ptr = [ctypes.c_int64] * 4, ctypes.c_void_p
            for dtype, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
                getattr(lib, f"scan_fwd_{dtype}").argtypes = [*sizes, real] + [ptr] * 8
                getattr(lib, f"scan_bwd_{dtype}").argtypes = [*sizes, real] + [ptr] * 14
            _lib = lib
        except Exception as e:  # noqa: BLE001 (any failure means: use the PyTorch ops)
            warnings.warn(f"fused CPU scan unavailable ({e}); using the slower PyTorch ops", stacklevel=2)
            _lib = None
    return _lib


def _ptr(t: torch.Tensor | None, offset: int = 0):
    return None if t is None else ctypes.c_void_p(t.data_ptr() + offset * t.element_size())


def _floor(dtype: torch.dtype) -> float:
    return 0.5 * math.log(torch.finfo(dtype).tiny)


def _batch_slices(nb: int) -> list[tuple[int, int]]:
    """Batch rows split over the intra-op threads (ctypes releases the GIL during each call)."""
    k = max(1, min(torch.get_num_threads(), nb))
    bounds = [nb * i // k for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def _parallel(calls) -> None:
    if len(calls) == 1:
        calls[0]()
        return
    with ThreadPoolExecutor(len(calls)) as pool:
        for f in [pool.submit(c) for c in calls]:
            f.result()


class _FusedScan(torch.autograd.Function):
    """y = <C_t, h_t> and the last state (same contract as ``scan._SequentialScan``), in C."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0):
        lib = load()
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
        fwd = getattr(lib, f"scan_fwd_{name}")
        floor = _floor(u.dtype)
        calls = []
        for s, e in _batch_slices(b):
            args = (e - s, L, d, n, floor, _ptr(ut, s * L * d), _ptr(dt, s * L * d), _ptr(At), _ptr(Bt, s * L * n),
                    _ptr(Ct, s * L * n), _ptr(h0t, s * n * d), _ptr(y, s * L * d), _ptr(last, s * n * d))
            calls.append(lambda a=args: fwd(*a))
        _parallel(calls)
        ctx.save_for_backward(ut, dt, At, Bt, Ct, h0t)  # the backward recomputes the states
        return y.transpose(1, 2), last.transpose(1, 2).contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, glast):
        ut, dt, At, Bt, Ct, h0t = ctx.saved_tensors
        lib = load()
        b, L, d = ut.shape
        n = At.shape[0]
        name = "f64" if ut.dtype == torch.float64 else "f32"
        gyt = ut.new_zeros(b, L, d) if gy is None else gy.transpose(1, 2).contiguous()
        glt = None if glast is None else glast.transpose(1, 2).contiguous()
        gu, gdelta = torch.empty_like(ut), torch.empty_like(ut)
        gB, gC = torch.empty_like(Bt), torch.empty_like(Ct)
        gh0 = torch.empty_like(h0t)
        slices = _batch_slices(b)
        gAs = [torch.zeros_like(At) for _ in slices]  # one accumulator per thread, summed below
        bwd = getattr(lib, f"scan_bwd_{name}")
        floor = _floor(ut.dtype)
        calls = []
        for (s, e), gA in zip(slices, gAs):
            args = (e - s, L, d, n, floor, _ptr(ut, s * L * d), _ptr(dt, s * L * d), _ptr(At), _ptr(Bt, s * L * n),
                    _ptr(Ct, s * L * n), _ptr(h0t, s * n * d), _ptr(gyt, s * L * d),
                    _ptr(glt, s * n * d), _ptr(gu, s * L * d), _ptr(gdelta, s * L * d), _ptr(gA),
                    _ptr(gB, s * L * n), _ptr(gC, s * L * n), _ptr(gh0, s * n * d))
            calls.append(lambda a=args: bwd(*a))
        _parallel(calls)
        gA = gAs[0] if len(gAs) == 1 else torch.stack(gAs).sum(0)
        return (gu.transpose(1, 2), gdelta.transpose(1, 2), gA.t(), gB.transpose(1, 2), gC.transpose(1, 2),
                gh0.transpose(1, 2))


def fused_scan(u, delta, A, B, C, h0):
    """Same inputs and outputs as ``scan._SequentialScan.apply``; needs ``load()`` to succeed."""
    return _FusedScan.apply(u, delta, A, B, C, h0)
