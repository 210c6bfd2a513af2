"""Mamba on CPU: the fused C scan against the PyTorch-ops scan, and against the Transformer it is compared with.

    python -m benchmarks.mamba_cpu --threads 1            # the CPU figures' shapes and the 0.1M shape
    python -m benchmarks.mamba_cpu --threads 1 --repeats 9

One training step (forward + backward of the next-token loss, no optimiser) per model, timed in
one process with interleaved repeats and medians. "ops" is the same model with
``LIMITS_CPU_KERNELS=0`` (the scan as PyTorch ops, what runs without a C compiler). The last
column scales the Mamba/Transformer step-time ratio by their parameter counts: the cost per
token at equal parameters (the issue's yardstick, <= 2).
"""
from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F

from benchmarks.common import interleaved, table
from benchmarks.throughput import VOCAB, configs
from common.models import Transformer
from common.models.mamba import MambaLM


def shapes() -> dict[str, tuple[dict, dict, int, int, int]]:
    """label -> (Mamba kwargs, Transformer kwargs, batch, context, vocab)."""
    small = configs("small")
    return {
        # repeat_after_me/configs/fig1b_cpu.yaml, fig5_cpu.yaml, fig6_cpu.yaml: Mamba and Hard-ALiBi 2 x 64, 32 x 88.
        "repeat_after_me fig1b/5/6_cpu": (
            dict(vocab_size=30, d_model=64, n_layer=2, d_state=16, expand=2),
            dict(vocab_size=30, d_model=64, n_layer=2, n_head=8, position="hard_alibi", num_masked_heads=6), 32, 88, 30),
        # rnns_not_transformers/configs/fig3_cpu.yaml: Mamba 3 x 128 (d_state 4, expand 1) and the
        # Transformer 4 x 64, ~165k parameters each; 32 graphs of ~96 tokens (n = 8, CoT).
        "rnns_not_transformers fig3_cpu": (
            dict(vocab_size=25, d_model=128, n_layer=3, d_state=4, expand=1, norm="rms"),
            dict(vocab_size=25, d_model=64, n_layer=4, n_head=4, d_ff=128, norm="rms", mlp="swiglu", bias=False,
                 position="rope"), 32, 96, 25),
        # benchmarks.throughput's small size: ~0.1M parameters each, 16 x 256.
        "throughput small (0.1M)": (dict(vocab_size=VOCAB, **small["mamba"]), dict(vocab_size=VOCAB, **small["transformer"]),
                                    16, 256, VOCAB),
    }


def _step(model, x) -> None:
    out = model(x)
    F.cross_entropy(out.reshape(-1, out.shape[-1]), x.reshape(-1)).backward()
    model.zero_grad(set_to_none=True)


def _with_kernel(flag: str, model, x):
    def run():
        old = os.environ.get("LIMITS_CPU_KERNELS")
        os.environ["LIMITS_CPU_KERNELS"] = flag
        try:
            _step(model, x)
        finally:
            if old is None:
                del os.environ["LIMITS_CPU_KERNELS"]
            else:
                os.environ["LIMITS_CPU_KERNELS"] = old
    return run


def run(repeats: int = 5, only: list[str] | None = None) -> str:
    rows = []
    for label, (mk, tk, batch, seq, vocab) in shapes().items():
        if only and not any(o in label for o in only):
            continue
        torch.manual_seed(0)
        mamba, tr = MambaLM(**mk), Transformer(**tk)
        x = torch.randint(0, vocab, (batch, seq))
        fns = {"fused": _with_kernel("1", mamba, x), "ops": _with_kernel("0", mamba, x), "transformer": lambda: _step(tr, x)}
        for f in fns.values():
            f()  # warm-up (and the kernel's one-off build)
        t = interleaved(fns, repeats)
        pm, pt = mamba.num_params(), tr.num_params()
        rows.append([label, f"{batch} x {seq}", f"{pm / 1e3:.0f}k / {pt / 1e3:.0f}k", f"{t['fused'] * 1e3:.0f}",
                     f"{t['ops'] * 1e3:.0f}", f"{t['transformer'] * 1e3:.0f}", f"{t['ops'] / t['fused']:.2f}",
                     f"{t['fused'] / t['transformer']:.2f}", f"{t['fused'] / t['transformer'] * pt / pm:.2f}"])
    header = ["shape", "batch x seq", "params Mamba / Transformer", "fused ms", "ops ms", "Transformer ms",
              "ops / fused", "Mamba / Transformer", "per token at equal params"]
    return (f"Mamba training step on {torch.get_num_threads()} CPU thread(s), median of {repeats} interleaved repeats\n"
            + table(header, rows))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of the shape labels to run")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(run(args.repeats, args.only))


if __name__ == "__main__":
    main()
