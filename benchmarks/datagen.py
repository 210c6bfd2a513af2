"""Task-data generation against training consumption: generation must never be the bottleneck.

Compares samples/s that a DataModule generates (in the training process, as the package does)
with samples/s that a training step consumes, for each replication's CPU-scale task.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks.common import device, interleaved, table
from common.lit.module import IGNORE
from common.models import Transformer
from common.seeding import rng_for


def tasks():
    from replications.repeat_after_me.data import CopyDataModule
    out = {"copy (len 5-20, packed 64)": CopyDataModule(alphabet=26, max_train_len=20, context_len=64, batch_size=32)}
    try:
        from replications.rnns_not_transformers.data import IsTreeDataModule
        out["istree cot (n=12)"] = IsTreeDataModule(n=12, fmt="cot", batch_size=32)
    except Exception:  # the replication may not be present or may name its arguments differently
        pass
    return out


def run(steps: int = 30, repeats: int = 3) -> str:
    rows = []
    for name, dm in tasks().items():
        data = [dm.train_batch(rng_for(0, "train", i)) for i in range(steps)]
        model = Transformer(dm.vocab_size, d_model=64, n_layer=2, n_head=4, position="rope")
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def generate():
            for i in range(steps):
                dm.train_batch(rng_for(0, "train", i))

        def train():
            for b in data:
                logits = model(b["inputs"])
                loss = F.cross_entropy(logits.flatten(0, 1), b["targets"].masked_fill(~b["loss_mask"], IGNORE).flatten(),
                                       ignore_index=IGNORE)
                opt.zero_grad()
                loss.backward()
                opt.step()

        t = interleaved({"generate": generate, "train": train}, repeats)
        n = steps * dm.batch_size
        rows.append([name, f"{n / t['generate']:.0f}", f"{n / t['train']:.0f}", f"{t['train'] / t['generate']:.1f}"])
    return (f"Data generation vs training consumption (samples/s, {device()}, tiny Transformer d64 L2)\n"
            + table(["task", "generated/s", "trained/s", "generation headroom (x)"], rows))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=3)
    print(run(repeats=p.parse_args().repeats))
