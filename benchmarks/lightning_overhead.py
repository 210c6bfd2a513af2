"""The package's own overhead: a Lightning training step of SequenceLM against a bare PyTorch loop.

Same model, same pre-generated batches, same optimiser, schedule and gradient clipping; only
the loop differs. The per-step ratio is measured in steady state (from step ``WARM`` to the
last), where a sweep spends its time; the one-off cost of building the Trainer and entering
``fit`` is reported apart, in seconds. Ratio > 1 is time the package adds.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from benchmarks.common import device, table
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


WARM = 10  # steps left out of the steady-state timing (first-call allocations, autograd warm-up)


def bare_loop(module: SequenceLM, data: list[dict], steps: int) -> tuple[float, float]:
    """(seconds from step WARM to the end, seconds before step WARM incl. set-up)."""
    t0 = time.perf_counter()
    opt_cfg = module.configure_optimizers()
    opt, sched = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
    model = module.model.train()
    for i, batch in enumerate(data[:steps]):
        if i == WARM:
            t_warm = time.perf_counter()
        logits = model(batch["inputs"])
        targets = batch["targets"].masked_fill(~batch["loss_mask"], IGNORE)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    _sync()
    return time.perf_counter() - t_warm, t_warm - t0


class _Clock(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == WARM:
            _sync()
            self.t_warm = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        _sync()
        self.t_end = time.perf_counter()


def lightning_loop(module: SequenceLM, data: list[dict], steps: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    clock = _Clock()
    with tempfile.TemporaryDirectory() as logs:  # as in a figure run: TensorBoard, loss every 50 steps
        trainer = L.Trainer(max_steps=steps, accelerator="auto", devices=1, enable_checkpointing=False,
                            logger=TensorBoardLogger(logs), log_every_n_steps=50, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                            gradient_clip_val=1.0, callbacks=[clock])
        trainer.fit(module, train_dataloaders=DataLoader(data[:steps], batch_size=None))
    return clock.t_end - clock.t_warm, clock.t_warm - t0


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run(steps: int = 200, batch_size: int = 32, repeats: int = 3) -> str:
    data = batches(steps, batch_size)
    rows = []
    for name, factory in MODELS.items():
        torch.manual_seed(0)
        base = SequenceLM(factory, vocab_size=30, lr=1e-3, warmup_steps=10, check_finite_every=50)
        loops = {"bare": bare_loop, "lightning": lightning_loop}
        times = {k: [] for k in loops}
        for _ in range(repeats):  # interleaved, so drifting load hits both alike
            for k, loop in loops.items():
                times[k].append(loop(copy.deepcopy(base), data, steps))
        per_step = {k: statistics.median(t[0] for t in v) / (steps - WARM) for k, v in times.items()}
        start = {k: statistics.median(t[1] for t in v) - WARM * per_step[k] for k, v in times.items()}
        rows.append([name, f"{per_step['bare'] * 1e3:.2f}", f"{per_step['lightning'] * 1e3:.2f}",
                     f"{per_step['lightning'] / per_step['bare']:.3f}", f"{start['lightning'] - start['bare']:.2f}"])
    return (f"Lightning training step vs bare PyTorch loop ({steps} steps, batch {batch_size}, {device()}; "
            f"steady state from step {WARM}, median of {repeats} interleaved repeats)\n"
            + table(["model", "bare ms/step", "lightning ms/step", "ratio lightning/bare", "extra start-up s"], rows))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(run(a.steps, repeats=a.repeats))
