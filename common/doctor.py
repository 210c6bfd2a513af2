"""``python -m common.doctor``: the device, torch, and which optional kernels this machine can run.

One line per kernel: what it is for and, when missing, why (not installed, no CUDA device, a
broken build...), so "why is my run slow / which backend ran" has a first answer.
"""
from __future__ import annotations

import platform

import torch

from common import backends
from common.models import attention, ckernels

# kernel -> what it accelerates
ROLES = {
    "mamba_ssm": "Mamba selective-scan CUDA kernels (MambaLM/Hybrid backend=mamba_ssm)",
    "causal_conv1d": "Mamba's fused causal depthwise conv",
    "flash_attn": "FlashAttention-2 (attention_backend=flash_attn: causal, ALiBi, one window)",
    "flex_attention": "FlexAttention (attention_backend=flex: per-head Hard-ALiBi windows)",
    "cpu_kernels": "C time loops of the CPU Mamba scan and GRU (built on first use with the system C compiler)",
}


def device_line() -> str:
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"CUDA {torch.version.cuda}: {names}"
    build = "CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build, no device visible"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; torch {build})"


def kernel_lines() -> list[str]:
    lines = []
    for name, role in ROLES.items():
        if name == "flex_attention":
            ok, why = attention.available("flex")
        elif name == "cpu_kernels":
            ok, why = ckernels.status()
            why = why if ok else why + " -- the PyTorch-ops fall-back runs, several times slower"
        else:
            ok, why = backends.probe(name)
            if not ok and backends.importable(name)[0]:
                why = "installed, but " + why
            elif not ok:
                why = f"not installed ({why}); pip install '.[gpu]' on a CUDA machine"
        lines.append(f"  {'yes' if ok else 'no ':3}  {name:15} {role}" + ("" if why == "ok" else f" -- {why}"))
    return lines


def report() -> str:
    return "\n".join([
        f"device:  {device_line()}",
        f"torch:   {torch.__version__}   python: {platform.python_version()}",
        "kernels:",
        *kernel_lines(),
        "attention auto: flash_attn if usable, else flex for per-head windows on CUDA, else sdpa",
    ])


def main() -> None:
    print(report())


if __name__ == "__main__":
    main()
