"""Small C kernels for CPU training (``*.c`` beside this file, sharing ``*.h``): built on first use, loaded with ctypes.

The C files include no PyTorch headers, so each builds with the system C compiler in about a
second; the shared library is cached per source, flags and compiler (``$LIMITS_KERNEL_CACHE``,
default ``~/.cache/limits-replications``) and written atomically, so concurrent runs share one
build. Without a C compiler, or with ``LIMITS_CPU_KERNELS=0``, ``load`` returns None and callers
run their PyTorch-ops path: same computation, same results to rounding, slower.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sysconfig
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

__all__ = ["load", "enabled", "ptr", "parallel"]

_HERE = Path(__file__).parent
_libs: dict[str, ctypes.CDLL | None] = {}
_why: dict[str, str] = {}  # why a kernel is None


def enabled() -> bool:
    """False when ``LIMITS_CPU_KERNELS`` is 0 (force the PyTorch ops)."""
    return os.environ.get("LIMITS_CPU_KERNELS", "1") != "0"


def _flags() -> list[str]:
    # -fno-trapping-math lets floorf vectorise; neither it nor -fno-math-errno changes a result
    # (no -ffast-math: that would also flush denormals process-wide when the library loads).
    flags = ["-O3", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno", "-fPIC", "-shared"]
    # Vector width: what PyTorch itself dispatches to on this CPU (AVX2 or better: 8 floats).
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def _compiler() -> str | None:
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc") or shutil.which("gcc")


def _build(source: Path) -> Path:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC)")
    flags = _flags()
    headers = b"".join(h.read_bytes() for h in sorted(source.parent.glob("*.h")))  # a header edit rebuilds
    key = hashlib.sha256(source.read_bytes() + headers + " ".join([cc, *flags]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("LIMITS_KERNEL_CACHE") or Path.home() / ".cache" / "limits-replications")
    lib = cache / f"{source.stem}-{key}.so"
    if lib.exists():
        return lib
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
    os.close(fd)
    try:
        res = subprocess.run([cc, *flags, f"-I{source.parent}", "-o", tmp, str(source), "-lm"], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{cc} failed: {res.stderr.strip()[:500]}")
        os.replace(tmp, lib)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


def load(name: str, signatures: dict[str, int]) -> ctypes.CDLL | None:
    """``name``.c built and loaded, or None (disabled, or it could not be built: warned once).

    signatures: function -> number of pointer arguments after its leading sizes (int64) and
    real (the float type of its suffix, ``_f32`` or ``_f64``); see ``sig``.
    """
    if not enabled():
        return None
    if name not in _libs:
        try:
            lib = ctypes.CDLL(str(_build(_HERE / f"{name}.c")))
            for fn, argtypes in signatures.items():
                getattr(lib, fn).argtypes = argtypes
            _libs[name] = lib
        except Exception as e:  # noqa: BLE001 (any failure means: use the PyTorch ops)
            warnings.warn(f"C kernel {name} unavailable ({e}); using the slower PyTorch ops", stacklevel=2)
            _libs[name], _why[name] = None, str(e).splitlines()[0]
    return _libs[name]


def status() -> tuple[bool, str]:
    """(True, "ok") when every C kernel here builds and loads, else (False, why); for ``common.doctor``."""
    if not enabled():
        return False, "disabled by LIMITS_CPU_KERNELS=0"
    from common.models import gru_cpu, scan_kernel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        missing = [n for n, f in (("scan_cpu", scan_kernel.load), ("gru_cpu", gru_cpu._kernel)) if f() is None]
    if missing:
        return False, "; ".join(f"{n}: {_why.get(n, 'not loaded')}" for n in missing)
    return True, "ok"


def sig(n_sizes: int, real: type, n_ptrs: int) -> list:
    """ctypes argtypes: ``n_sizes`` int64, one ``real``, ``n_ptrs`` pointers."""
    return [ctypes.c_int64] * n_sizes + [real] + [ctypes.c_void_p] * n_ptrs


def ptr(t: torch.Tensor | None, offset: int = 0):
    """Address of ``t``'s element ``offset`` (None for a NULL pointer)."""
    return None if t is None else ctypes.c_void_p(t.data_ptr() + offset * t.element_size())


_pool: ThreadPoolExecutor | None = None


def parallel(calls) -> None:
    """Run the calls on threads (ctypes releases the GIL while C runs); one call runs inline.

    Callers split their batch into ``torch.get_num_threads()`` parts, so the kernels use the
    threads PyTorch was given; the pool is kept between calls (made once per process).
    """
    global _pool
    if len(calls) == 1:
        calls[0]()
        return
    if _pool is None or _pool._max_workers < len(calls):
        _pool = ThreadPoolExecutor(len(calls), thread_name_prefix="ckernels")
    for f in [_pool.submit(c) for c in calls]:
        f.result()
