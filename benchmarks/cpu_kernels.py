"""The C kernels on CPU: each model with them and without, against the baseline it is compared with.

    python -m benchmarks.cpu_kernels --threads 1            # every shape below
    python -m benchmarks.cpu_kernels --threads 1 --repeats 9 --only fig3 gru

Rows: Mamba (fused scan, ``scan_cpu.c``) against the Transformer at the CPU figures' shapes and
at ``benchmarks.throughput``'s 0.1M size; the GRU (``gru_cpu.c``) against the LSTM at that size.
One training step (forward + backward of the next-token loss, no optimiser) per model, timed in
one process with interleaved repeats and medians. "without" is the same model with
``LIMITS_CPU_KERNELS=0`` (PyTorch ops, what runs without a C compiler). The last column scales
the step-time ratio to the baseline by their parameter counts: the cost per token at equal
parameters (the goals: Mamba <= 2, GRU <= 1.3).
"""
from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F

from benchmarks.common import interleaved, table
from benchmarks.throughput import VOCAB, configs
from common.models import GRU, LSTM, Transformer
from common.models.mamba import MambaLM


def shapes() -> dict[str, tuple]:
    """label -> (model class, kwargs, baseline class, kwargs, batch, context, vocab)."""
    small = configs("small")
    return {k: (MambaLM, m, Transformer, t, *rest) for k, (m, t, *rest) in _mamba_shapes(small).items()} | {
        "GRU vs LSTM, throughput small (0.1M)": (GRU, dict(vocab_size=VOCAB, **small["gru"]), LSTM,
                                                 dict(vocab_size=VOCAB, **small["lstm"]), 16, 256, VOCAB)}


def _mamba_shapes(small) -> dict:
    return {
        # repeat_after_me/configs/*_cpu.yaml: Mamba and Hard-ALiBi 2 x 64, batch 32; rows of 88 tokens (the
        # figures' contexts run from 48 to 168; fig5/fig6_cpu: 80).
        "Mamba vs Hard-ALiBi, repeat_after_me copying models": (
            dict(vocab_size=30, d_model=64, n_layer=2, d_state=16, expand=2),
            dict(vocab_size=30, d_model=64, n_layer=2, n_head=8, position="hard_alibi", num_masked_heads=6), 32, 88, 30),
        # rnns_not_transformers/configs/fig3_cpu.yaml: Mamba 3 x 128 (d_state 4, expand 1) and the
        # Transformer 4 x 64, ~165k parameters each; at n = 8, CoT rows are 28-40 tokens (batch 32)
        # and retrieval rows 73-295 (batch 8), padded to the longest in the batch.
        **{f"Mamba vs Transformer, rnns_not_transformers fig3_cpu n = 8 {fmt}": (
            dict(vocab_size=25, d_model=128, n_layer=3, d_state=4, expand=1, norm="rms"),
            dict(vocab_size=25, d_model=64, n_layer=4, n_head=4, d_ff=128, norm="rms", mlp="swiglu", bias=False,
                 position="rope"), batch, seq, 25) for fmt, batch, seq in (("CoT", 32, 40), ("retrieval", 8, 295))},
        # benchmarks.throughput's small size: ~0.1M parameters each, 16 x 256.
        "Mamba vs Transformer, throughput small (0.1M)": (
            dict(vocab_size=VOCAB, **small["mamba"]), dict(vocab_size=VOCAB, **small["transformer"]), 16, 256, VOCAB),
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
    for label, (cls, kw, base_cls, base_kw, batch, seq, vocab) in shapes().items():
        if only and not any(o.lower() in label.lower() for o in only):
            continue
        torch.manual_seed(0)
        model, base = cls(**kw), base_cls(**base_kw)
        x = torch.randint(0, vocab, (batch, seq))
        fns = {"with": _with_kernel("1", model, x), "without": _with_kernel("0", model, x),
               "baseline": lambda: _step(base, x)}
        for f in fns.values():
            f()  # warm-up (and the kernel's one-off build)
        t = interleaved(fns, repeats)
        pm, pb = model.num_params(), base.num_params()
        rows.append([label, f"{batch} x {seq}", f"{pm / 1e3:.0f}k / {pb / 1e3:.0f}k", f"{t['with'] * 1e3:.0f}",
                     f"{t['without'] * 1e3:.0f}", f"{t['baseline'] * 1e3:.0f}", f"{t['without'] / t['with']:.2f}",
                     f"{t['with'] / t['baseline']:.2f}", f"{t['with'] / t['baseline'] * pb / pm:.2f}"])
    header = ["model vs baseline, shape", "batch x seq", "params / baseline's", "with C ms", "without ms",
              "baseline ms", "without / with", "with / baseline", "per token at equal params"]
    return (f"Training step on {torch.get_num_threads()} CPU thread(s), median of {repeats} interleaved repeats\n"
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
