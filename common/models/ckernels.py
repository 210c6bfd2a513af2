"""Small C kernels for CPU training (``*.c`` beside this file, sharing ``*.h``): built on first use, loaded with ctypes.

The C files include no PyTorch headers, so each builds with the system C compiler in about a
second; the shared library is cached per source, flags and compiler (``$LIMITS_KERNEL_CACHE``,
default ``~/.cache/limits-replications``) and written atomically, so concurrent runs share one
build. Without a C compiler, or with ``LIMITS_CPU_KERNELS=0``, ``load`` returns None and callers
run their PyTorch-ops path: same computation, same results to rounding, slower.

Threads: a kernel splits its batch into ``torch.get_num_threads()`` slices of rows and runs them
on PyTorch's own OpenMP team. The library is compiled with ``-fopenmp`` but not linked to an
OpenMP runtime, so its ``GOMP_*`` calls bind to the one PyTorch has loaded. Threads of our own
would compete for the cores with PyTorch's, which spin for a while after every parallel operator:
at 2 threads that made the C GRU no faster than at 1 (measured in ``docs/benchmarks.md``). Where
that binding fails (a PyTorch without libgomp in its global scope) the library is rebuilt without
OpenMP and the slices run on a Python thread pool (ctypes releases the GIL).
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

__all__ = ["load", "enabled", "ptr", "threads", "run_sliced", "uses_openmp"]

_HERE = Path(__file__).parent
_libs: dict[str, ctypes.CDLL | None] = {}
_why: dict[str, str] = {}  # why a kernel is None
_openmp: dict[str, bool] = {}  # whether a loaded kernel runs its slices on PyTorch's OpenMP team


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


def _build(source: Path, openmp: bool) -> Path:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC)")
    flags = _flags() + (["-fopenmp"] if openmp else [])
    headers = b"".join(h.read_bytes() for h in sorted(source.parent.glob("*.h")))  # a header edit rebuilds
    key = hashlib.sha256(source.read_bytes() + headers + " ".join([cc, *flags]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("LIMITS_KERNEL_CACHE") or Path.home() / ".cache" / "limits-replications")
    lib = cache / f"{source.stem}-{key}.so"
    if lib.exists():
        return lib
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
    os.close(fd)
    obj = tmp[:-3] + ".o"
    try:
        # Compiled and linked apart: linking with -fopenmp would add the system's libgomp, a second
        # OpenMP runtime beside PyTorch's; left undefined, GOMP_* bind to PyTorch's when loaded.
        for cmd in ([cc, *flags, "-c", f"-I{source.parent}", "-o", obj, str(source)],
                    [cc, "-shared", "-o", tmp, obj, "-lm"]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"{cc} failed: {res.stderr.strip()[:500]}")
        os.replace(tmp, lib)
    finally:
        for f in (tmp, obj):
            if os.path.exists(f):
                os.unlink(f)
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
            try:
                lib, _openmp[name] = ctypes.CDLL(str(_build(_HERE / f"{name}.c", openmp=True))), True
            except (OSError, RuntimeError):  # no OpenMP in the compiler, or GOMP_* not in PyTorch's scope
                lib, _openmp[name] = ctypes.CDLL(str(_build(_HERE / f"{name}.c", openmp=False))), False
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
    if all(_openmp.values()):
        return True, "ok"
    return True, "built without OpenMP: batch slices run on Python threads, slower at 2+ threads"


def sig(n_sizes: int, real: type, n_ptrs: int) -> list:
    """ctypes argtypes: ``n_sizes`` int64, one ``real``, ``n_ptrs`` pointers."""
    return [ctypes.c_int64] * n_sizes + [real] + [ctypes.c_void_p] * n_ptrs


def ptr(t: torch.Tensor | None, offset: int = 0):
    """Address of ``t``'s element ``offset`` (None for a NULL pointer)."""
    return None if t is None else ctypes.c_void_p(t.data_ptr() + offset * t.element_size())


_pool: ThreadPoolExecutor | None = None


def threads(nb: int) -> int:
    """How many slices a batch of ``nb`` rows is split into: PyTorch's intra-op threads, at most ``nb``."""
    return max(1, min(torch.get_num_threads(), nb))


def run_sliced(name: str, fn: str, sizes: tuple, nt: int, real: float, ptrs: tuple) -> None:
    """Kernel ``name``'s ``fn`` (e.g. ``gru_fwd_f32``) over ``nt`` slices of the batch.

    The C file defines, for each such ``<stem>_<type>``, ``<stem>_slice_<type>(*sizes, nt, i,
    real, *ptrs)`` (slice i of nt) and ``<stem>_par_<type>`` (every slice, on the calling thread's
    OpenMP team). The latter runs when the library has OpenMP (or there is one slice); otherwise
    the slices run on a Python thread pool.
    """
    lib = _libs[name]
    stem, real_type = fn.rsplit("_", 1)
    if nt == 1 or _openmp[name]:
        getattr(lib, f"{stem}_par_{real_type}")(*sizes, nt, 0, real, *ptrs)
        return
    one = getattr(lib, f"{stem}_slice_{real_type}")
    calls = [lambda i=i: one(*sizes, nt, i, real, *ptrs) for i in range(nt)]
    global _pool
    if _pool is None or _pool._max_workers < nt:
        _pool = ThreadPoolExecutor(nt, thread_name_prefix="ckernels")
    for f in [_pool.submit(c) for c in calls]:
        f.result()


def uses_openmp(name: str) -> bool:
    """Whether loaded kernel ``name`` runs its slices on PyTorch's OpenMP team (else on Python threads)."""
    return _openmp.get(name, False)
