"""The package's own overhead: a Lightning training step of SequenceLM against a bare PyTorch loop.

    python -m benchmarks.lightning_overhead                       # every family, torch's default threads
    python -m benchmarks.lightning_overhead --threads 1 --families lstm gru
    python -m benchmarks.lightning_overhead --families tiny      # Lightning's fixed cost a step, in ms

Same model, same pre-generated batches, same optimiser, schedule and gradient clipping; only
the loop differs. The per-step ratio is measured in steady state (from step ``WARM`` to the
last), where a sweep spends its time; the one-off cost of building the Trainer and entering
``fit`` is reported apart, in seconds. Ratio > 1 is time the package adds. Both loops record
the intra-op thread count they ran with, so the table shows that they match.
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
from common.models import FAMILIES
from common.models.sizing import fit_size
from common.seeding import rng_for
from replications.repeat_after_me.data import CopyDataModule

VOCAB = 30  # what the copy task's data module reports for alphabet=26
# One model per family at about 0.1M parameters, the CPU figures' scale: the Transformer d64 x 2
# and the LSTM d112 this benchmark has always used; GRU, Mamba and hybrid sized to the LSTM's count.
SHAPES = {
    "transformer": dict(d_model=64, n_layer=2, n_head=4, position="rope"),
    "lstm": dict(d_model=112),
    "gru": dict(n_layer=1),
    "mamba": dict(n_layer=2),
    "hybrid": dict(n_layer=2, n_head=4),
    # Near-zero compute (an LSTM of width 4): the difference of the two loops is Lightning's fixed cost a
    # step, in ms, which a larger model's ratio carries divided by its step time.
    "tiny": dict(d_model=4),
}
FAMILY = {"tiny": "lstm"}  # the model family of a SHAPES entry whose name is not one
DEFAULT = [name for name in SHAPES if name not in FAMILY]  # the families; probes only when asked


def family_of(name: str) -> str:
    return FAMILY.get(name, name)


def model_kwargs(family: str) -> dict:
    """Constructor arguments of ``family``'s model here (fixed, or solved for d_model)."""
    kw = SHAPES[family]
    if "d_model" in kw:
        return dict(kw)
    target = FAMILIES["lstm"](VOCAB, **SHAPES["lstm"]).num_params()
    return fit_size(family_of(family), target, VOCAB, **kw)


def batches(n: int, batch_size: int) -> list[dict]:
    dm = CopyDataModule(alphabet=26, max_train_len=20, context_len=64, batch_size=batch_size)
    return [dm.train_batch(rng_for(0, "train", i)) for i in range(n)]


WARM = 10  # steps left out of the steady-state timing (first-call allocations, autograd warm-up)


def bare_loop(module: SequenceLM, data: list[dict], steps: int) -> tuple[float, float, int]:
    """(seconds from step WARM to the end, seconds before step WARM incl. set-up, threads used)."""
    t0 = time.perf_counter()
    opt_cfg = module.configure_optimizers()
    opt, sched = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
    model = module.model.train()
    threads = torch.get_num_threads()
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
    return time.perf_counter() - t_warm, t_warm - t0, threads


class _Clock(L.Callback):
    """Times steps WARM..last exactly as the bare loop does: from the start of step WARM to the end of
    the last step (not ``on_train_end``, which also counts the end-of-epoch and logger work done once)."""

    def __init__(self, steps: int):
        self.steps = steps

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == WARM:
            _sync()
            self.t_warm = time.perf_counter()
            self.threads = torch.get_num_threads()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == self.steps - 1:
            _sync()
            self.t_end = time.perf_counter()


def lightning_loop(module: SequenceLM, data: list[dict], steps: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    clock = _Clock(steps)
    with tempfile.TemporaryDirectory() as logs:  # as in a figure run: TensorBoard, loss every 50 steps
        trainer = L.Trainer(max_steps=steps, accelerator="auto", devices=1, enable_checkpointing=False,
                            logger=TensorBoardLogger(logs), log_every_n_steps=50, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                            gradient_clip_val=1.0, callbacks=[clock])
        trainer.fit(module, train_dataloaders=DataLoader(data[:steps], batch_size=None))
    return clock.t_end - clock.t_warm, clock.t_warm - t0, clock.threads


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run(steps: int = 200, batch_size: int = 32, repeats: int = 3, families: list[str] | None = None) -> str:
    data = batches(steps, batch_size)
    rows = []
    for family in families or DEFAULT:
        kw = model_kwargs(family)
        torch.manual_seed(0)
        base = SequenceLM(lambda v, f=family_of(family), k=kw: FAMILIES[f](v, **k), vocab_size=VOCAB, lr=1e-3,
                          warmup_steps=10, check_finite_every=50)
        loops = {"bare": bare_loop, "lightning": lightning_loop}
        times = {k: [] for k in loops}
        backend = ""
        for _ in range(repeats):  # interleaved, so drifting load hits both alike
            for k, loop in loops.items():
                module = copy.deepcopy(base)
                times[k].append(loop(module, data, steps))
                backend = module.model.backend
        per_step = {k: statistics.median(t[0] for t in v) / (steps - WARM) for k, v in times.items()}
        start = {k: statistics.median(t[1] for t in v) - WARM * per_step[k] for k, v in times.items()}
        threads = "/".join(str(sorted({t[2] for t in times[k]})).strip("[]") for k in loops)
        name = f"{family_of(family)} d{kw['d_model']} L{kw.get('n_layer', 1)}"
        rows.append([name, f"{base.model.num_params() / 1e3:.0f}k", backend, threads,
                     f"{per_step['bare'] * 1e3:.2f}", f"{per_step['lightning'] * 1e3:.2f}",
                     f"{per_step['lightning'] / per_step['bare']:.3f}", f"{start['lightning'] - start['bare']:.2f}"])
    return (f"Lightning training step vs bare PyTorch loop ({steps} steps, batch {batch_size} x 64, {device()}; "
            f"steady state from step {WARM}, median of {repeats} interleaved repeats)\n"
            + table(["model", "params", "backend", "threads bare/lightning", "bare ms/step", "lightning ms/step",
                     "ratio lightning/bare", "extra start-up s"], rows))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (torch's default otherwise)")
    p.add_argument("--families", nargs="*", default=DEFAULT, choices=list(SHAPES))
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(run(a.steps, repeats=a.repeats, families=a.families))
