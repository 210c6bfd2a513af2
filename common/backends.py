"""Lazy probes for the optional CUDA kernel packages (the ``gpu`` extra).

Nothing here imports a kernel package at module import: a probe tries the import the first time
it is asked and caches the answer, so CPU-only installs never pay for (or crash on) CUDA builds.
Add a kernel by adding a row to ``KERNELS``.
"""
from __future__ import annotations

import functools
import importlib

import torch

# probe name -> (module whose import proves the kernels are usable, pip distribution name)
KERNELS: dict[str, tuple[str, str]] = {
    "mamba_ssm": ("mamba_ssm.ops.selective_scan_interface", "mamba-ssm"),
    "causal_conv1d": ("causal_conv1d", "causal-conv1d"),
    "flash_attn": ("flash_attn", "flash-attn"),
    # FlexAttention ships with torch >= 2.5; on CUDA it is compiled through triton.
    "flex_attention": ("torch.nn.attention.flex_attention", "torch>=2.5"),
    "triton": ("triton", "triton"),
}


def _spec(name: str) -> tuple[str, str]:
    if name not in KERNELS:
        raise ValueError(f"unknown kernel package {name!r}; known: {sorted(KERNELS)}")
    return KERNELS[name]


@functools.lru_cache(maxsize=None)
def importable(name: str) -> tuple[bool, str]:
    """(True, "ok") when the package imports, else (False, "<ExceptionType>: <message>")."""
    module, _ = _spec(name)
    try:
        importlib.import_module(module)
    except Exception as e:  # ImportError, but broken CUDA builds also raise OSError/RuntimeError
        return False, f"{type(e).__name__}: {e}".splitlines()[0]
    return True, "ok"


@functools.lru_cache(maxsize=None)
def probe(name: str) -> tuple[bool, str]:
    """(available, reason): available means it imports AND a CUDA device is present to run it."""
    ok, reason = importable(name)
    if not ok:
        return False, reason
    if not torch.cuda.is_available():
        return False, "no CUDA device"
    return True, "ok"


def require(name: str, setting: str = "model.backend", fallback: str = "backend=torch") -> None:
    """Raise a one-line RuntimeError saying how to fix it when ``name`` was asked for but won't import."""
    ok, reason = importable(name)
    if not ok:
        raise RuntimeError(f"{setting}={name} but {_spec(name)[1]} is not installed ({reason}); "
                           f"use {fallback} or pip install '.[gpu]'")
