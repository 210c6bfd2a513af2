"""The package's own overhead: a Lightning training step of SequenceLM against a bare PyTorch loop.

Same model, same pre-generated batches, same optimiser, schedule and gradient clipping; only
the loop differs. Ratio > 1 is time the package adds.
"""
from __future__ import annotations

import argparse
import copy

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from benchmarks.common import device, interleaved, table
from common.lit.module import IGNORE, SequenceLM
from common.models import LSTM, Transformer
from common.seeding import rng_for
from replications.repeat_after_me.data import CopyDataModule

MODELS = {
    "transformer d64 L2": lambda v: Transformer(v, d_model=64, n_layer=2, n_head=4, position="rope"),
    "lstm d112": lambda v: LSTM(v, d_model=112),
}


def batches(n: int, batch_size: int) -> list[dict]:
    dm = CopyDataModule(alphabet=26, max_train_len=20, context_len=64, batch_size=batch_size)
    return [dm.train_batch(rng_for(0, "train", i)) for i in range(n)]


def bare_loop(module: SequenceLM, data: list[dict], steps: int):
    opt_cfg = module.configure_optimizers()
    opt, sched = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
    model = module.model.train()
    for batch in data[:steps]:
        logits = model(batch["inputs"])
        targets = batch["targets"].masked_fill(~batch["loss_mask"], IGNORE)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()


def lightning_loop(module: SequenceLM, data: list[dict], steps: int):
    trainer = L.Trainer(max_steps=steps, accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0, gradient_clip_val=1.0)
    trainer.fit(module, train_dataloaders=DataLoader(data[:steps], batch_size=None))


def run(steps: int = 200, batch_size: int = 32, repeats: int = 3) -> str:
    data = batches(steps, batch_size)
    rows = []
    for name, factory in MODELS.items():
        torch.manual_seed(0)
        base = SequenceLM(factory, vocab_size=30, lr=1e-3, warmup_steps=10, check_finite_every=50)
        fns = {"bare": lambda: bare_loop(copy.deepcopy(base), data, steps),
               "lightning": lambda: lightning_loop(copy.deepcopy(base), data, steps)}
        t = interleaved(fns, repeats)
        rows.append([name, f"{steps / t['bare']:.1f}", f"{steps / t['lightning']:.1f}", f"{t['lightning'] / t['bare']:.3f}"])
    return (f"Lightning training step vs bare PyTorch loop ({steps} steps, batch {batch_size}, {device()}; "
            f"median of {repeats} interleaved repeats)\n"
            + table(["model", "bare steps/s", "lightning steps/s", "ratio lightning/bare"], rows))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(run(a.steps, repeats=a.repeats))
