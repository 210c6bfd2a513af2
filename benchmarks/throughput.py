"""Training throughput of every family: tokens/s of forward + backward, on this machine's device.

    python -m benchmarks.throughput            # small (~0.1M) and paper (~1M) sizes
    python -m benchmarks.throughput --quick    # fewer, shorter steps: under 2 minutes on 2 CPU cores
    python -m benchmarks.throughput --quick --threads 1   # on a shared CPU (oversubscribed threads spin)

Paper sizes follow the 1M configs of "RNNs are not Transformers (Yet)" (Transformer d64 x 16
LLaMA layers, Mamba d128 x 10, hybrid d128 x 7 Mamba + 1 attention layer); LSTM/GRU are sized to
the same parameter count with ``common.models.sizing``. The optimizer step is not timed (it is
the same per parameter for every family). On CUDA the step runs under bf16 autocast (``--precision``).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from common.doctor import device_line
from common.models import FAMILIES
from common.models.sizing import fit_size

VOCAB = 32
# Dense bf16 peak FLOP/s by device name, for model FLOPs utilisation (MFU).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
COPY_PAPER = {  # Jelassi et al. 2024: ~160M-parameter models (GPT-NeoX-160M shape; Mamba-130M shape)
    "transformer": dict(d_model=768, n_layer=12, n_head=12, position="rope"),
    "mamba": dict(d_model=768, n_layer=24),
}
PAPER = {
    "transformer": dict(d_model=64, n_layer=16, n_head=4, d_ff=256, norm="rms", mlp="swiglu", bias=False),
    "mamba": dict(d_model=128, n_layer=10),
    "hybrid": dict(d_model=128, n_layer=7, n_head=4, d_ff=256),
}


def configs(size: str) -> dict[str, dict]:
    """Constructor kwargs per family at ``size`` ("small" ~0.1M, "paper" ~1M, "copy" ~160M parameters)."""
    if size == "copy":
        return dict(COPY_PAPER)
    if size == "small":
        return {f: fit_size(f, 100_000, VOCAB, n_layer=2) for f in FAMILIES}
    target = FAMILIES["mamba"](VOCAB, **PAPER["mamba"]).num_params()
    return {f: PAPER.get(f) or fit_size(f, target, VOCAB, n_layer=2) for f in FAMILIES}


def flops_per_token(model, seq: int) -> float:
    """Training FLOPs per token: 6 N for the weights plus 12 L d T for attention scores (PaLM appendix B)."""
    attn_layers = sum(1 for m in model.modules() if type(m).__name__ == "SelfAttention")
    return 6 * model.num_params() + 12 * attn_layers * getattr(model, "d_model", 0) * seq


def peak_flops(device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def tokens_per_s(model, batch: int, seq: int, steps: int, warmup: int, device, dtype) -> float:
    x = torch.randint(0, VOCAB, (batch, seq + 1), device=device)
    inputs, targets = x[:, :-1], x[:, 1:]

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        model.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * seq * steps / (time.perf_counter() - t0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed steps; on CPU shorter, smaller batches")
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--sizes", nargs="*", default=["small", "paper"], choices=["small", "paper", "copy"],
                    help="copy: the copying paper's ~160M Transformer and Mamba (GPU)")
    ap.add_argument("--compile", action="store_true", help="time torch.compile(model) instead of eager")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (torch default otherwise); use 1 on a shared, oversubscribed machine")
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16", help="autocast dtype on CUDA")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" and args.precision == "bf16" else None
    gpu = device.type == "cuda"
    steps, warmup = (2, 1) if args.quick else (10, 3)
    quick_cpu = args.quick and not gpu
    shapes = {"small": (args.batch or (64 if gpu else 8 if quick_cpu else 16), 64 if quick_cpu else 256),
              "paper": (args.batch or (64 if gpu else 4 if quick_cpu else 8), 128 if quick_cpu else 512),
              "copy": (args.batch or (16 if gpu else 1), 640 if gpu else 64)}
    load = f"   load avg: {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"device: {device_line()}   torch {torch.__version__}   autocast: {dtype}{load}")
    print(f"compile: {args.compile}")
    print("| family | size | params | d_model | n_layer | batch x seq | backend | train tokens/s | MFU |")
    print("|---|---|---|---|---|---|---|---|---|")
    peak = peak_flops(device)
    for size in args.sizes:
        for fam, kw in configs(size).items():
            if fam not in args.families:
                continue
            torch.manual_seed(0)
            model = FAMILIES[fam](VOCAB, **kw).to(device).train()
            batch, seq = shapes[size]
            run = torch.compile(model) if args.compile else model
            tps = tokens_per_s(run, batch, seq, steps, warmup, device, dtype)
            mfu = f"{tps * flops_per_token(model, seq) / peak:.1%}" if peak else "n/a"
            print(f"| {fam} | {size} | {model.num_params() / 1e6:.3f}M | {kw['d_model']} | {kw['n_layer']} "
                  f"| {batch} x {seq} | {model.backend} | {tps:,.0f} | {mfu} |", flush=True)


if __name__ == "__main__":
    main()
