"""Greedy decoding with the model's step-wise state (KV cache / recurrent state) against recomputing the prefix.

With the state, a token costs O(1) for recurrent models and O(length) for attention; recomputing
the whole prefix every token costs O(length) and O(length^2). Time per generated token should stay
flat with length for the cached recurrent paths.
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.common import device, interleaved, table
from common.decoding import greedy_generate
from common.models import LSTM, MambaLM, Transformer

MODELS = {
    "transformer": lambda: Transformer(30, d_model=64, n_layer=2, n_head=4, position="rope"),
    "lstm": lambda: LSTM(30, d_model=112),
    "mamba": lambda: MambaLM(30, d_model=64, n_layer=2),
}


@torch.no_grad()
def recompute_generate(model, prompt: torch.Tensor, new: int) -> torch.Tensor:
    seq = prompt
    for _ in range(new):
        seq = torch.cat([seq, model(seq)[:, -1:].argmax(-1)], dim=1)
    return seq[:, prompt.shape[1]:]


def run(lengths=(32, 64, 128, 256), batch: int = 8, repeats: int = 3) -> str:
    rows = []
    for name, factory in MODELS.items():
        torch.manual_seed(0)
        model = factory().eval()
        for n in lengths:
            prompt = torch.randint(0, 30, (batch, n))
            cached = lambda: greedy_generate(model, prompt, n)
            t = interleaved({"cached": cached, "recompute": lambda: recompute_generate(model, prompt, n)}, repeats)
            agree = (cached() == recompute_generate(model, prompt, n)).float().mean().item()
            rows.append([name, n, f"{1e3 * t['cached'] / n:.2f}", f"{1e3 * t['recompute'] / n:.2f}",
                         f"{t['recompute'] / t['cached']:.1f}x", f"{agree:.3f}"])
    return (f"Greedy decoding: prompt of n tokens, then n generated ({device()}, batch {batch}; ms per generated token)\n"
            + table(["model", "n", "cached ms/token", "recompute ms/token", "speed-up", "tokens agreeing"], rows))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=3)
    print(run(repeats=p.parse_args().repeats))
