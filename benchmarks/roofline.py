"""Roofline of the CPU figures: achieved GFLOP/s of each model's training step against this machine's matmul peak.

    python -m benchmarks.roofline                  # every *_cpu.yaml of every replication
    python -m benchmarks.roofline --threads 1 --replications repeat_after_me

The peak is the matmul rate measured here (square 1024 x 1024 products, the best of a few) in the
precision timed: fp32, or with ``--precision bf16-mixed`` bf16 under autocast, as Lightning's
``trainer.precision: bf16-mixed`` trains (CPUs with bf16 instructions multiply bf16 several times
faster than fp32). It is what a dense layer can reach on this CPU, so "fraction of peak" says how
far a model's step is from being bound by its matrix products. Each row is one distinct model and batch shape found
in a figure's sweep, built through the same config path as ``fit``; its FLOPs are counted by
``torch.utils.flop_counter`` over one training step (forward + backward of the loss, matrix
products and attention only: elementwise work such as Mamba's scan counts as zero, which is why
an elementwise-bound model shows a low fraction of peak).

A second table adds up each figure's training time from these step times: every run of the sweep
(seeds included) costs its ``trainer.max_steps`` times its model's step time. It leaves out
evaluation, data generation and start-up, so it is a floor on the figure's wall time, and it is
how the same figures are compared across code versions (``LIMITS_CPU_KERNELS=0`` gives the
PyTorch-ops paths the C kernels replace).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import table

ROOT = Path(__file__).resolve().parent.parent / "replications"


PRECISIONS = {"32-true": torch.float32, "bf16-mixed": torch.bfloat16}  # Lightning's names


def matmul_peak(n: int = 1024, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Best GFLOP/s of an n x n x n matmul in ``dtype`` at the current thread count."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def figure_models(replication: str, config: Path):
    """Distinct (label, built SequenceLM, one training batch, max_steps of every run using them) of a figure's sweep."""
    from common.cli import instantiate, parse, plan_runs, quiet_lightning

    parser, cfg = parse(f"replications.{replication}", ["--config", str(config)], prog="roofline")
    groups: dict[str, list] = {}
    for run in plan_runs(parser, cfg):
        model_cfg = run.config["model"]["init_args"].get("model")
        data = copy.deepcopy(run.config["data"])
        data.get("init_args", {}).pop("seed", None)  # seeds change the numbers drawn, not the shapes timed
        groups.setdefault(repr((model_cfg, data)), []).append(run)
    for runs in groups.values():
        with quiet_lightning():
            init = instantiate(parser, copy.deepcopy(runs[0].namespace))
        dm, module = init.data, init.model
        dm.setup("fit")
        batch = next(iter(dm.train_dataloader()))
        yield runs[0].name, module, batch, [int(r.config["trainer"]["max_steps"]) for r in runs]


def autocast(precision: str):
    """The training step's precision context: nothing for fp32, CPU autocast for bf16-mixed."""
    if precision == "32-true":
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=PRECISIONS[precision])


def step_time(module, batch, repeats: int, precision: str = "32-true") -> float:
    def step():
        with autocast(precision):
            loss = module.training_step(batch, 0)
        loss.backward()
        module.zero_grad(set_to_none=True)

    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def step_flops(module, batch) -> int:
    with FlopCounterMode(display=False) as counter:
        module.training_step(batch, 0).backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def rows(replications: list[str], peak: float, repeats: int, pattern: str = "*_cpu.yaml", walls: dict | None = None,
         precision: str = "32-true"):
    """Roofline rows; ``walls`` (if given) collects (replication, figure) -> [runs, steps, seconds of training]."""
    for rep in replications:
        for config in sorted((ROOT / rep / "configs").glob(pattern)):
            try:
                models = list(figure_models(rep, config))
            except Exception as e:  # a config this benchmark cannot build is reported, not fatal
                yield [rep, config.stem, f"not built: {str(e).splitlines()[0][:60]}", "", "", "", "", "", ""]
                continue
            for name, module, batch, steps in models:
                module.train()
                flops = step_flops(module, batch)
                sec = step_time(module, batch, repeats, precision)
                if walls is not None:
                    w = walls.setdefault((rep, config.stem), [0, 0, 0.0])
                    w[0], w[1], w[2] = w[0] + len(steps), w[1] + sum(steps), w[2] + sec * sum(steps)
                inputs = batch["inputs"] if "inputs" in batch else batch["x"]  # sequence models / classifiers
                shape = "x".join(str(s) for s in inputs.shape)
                gflops = flops / sec / 1e9
                family = type(module.model).__name__
                yield [rep, config.stem, name, family, f"{module.model.num_params() / 1e3:.0f}k", shape,
                       f"{sec * 1e3:.1f}", f"{gflops:.2f}", f"{gflops / peak:.1%}"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", nargs="*", default=sorted(p.name for p in ROOT.iterdir() if (p / "configs").is_dir()))
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch default otherwise)")
    ap.add_argument("--repeats", type=int, default=3, help="timed steps per model (median)")
    ap.add_argument("--configs", default="*_cpu.yaml", help="which configs of each replication (a glob)")
    ap.add_argument("--precision", choices=list(PRECISIONS), default="32-true",
                    help="time the training steps in fp32 or under bf16 autocast (CPU)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    peaks = {p: matmul_peak(dtype=d) for p, d in PRECISIONS.items()}
    for p, d in PRECISIONS.items():
        print(f"{str(d).removeprefix('torch.')} matmul peak: {peaks[p]:.1f} GFLOP/s at {threads} thread(s) "
              f"({peaks[p] / threads:.1f} per thread)")
    peak = peaks[args.precision]
    print(f"training steps timed at precision {args.precision}; fraction of the {args.precision} peak")
    header = ["replication", "figure", "run", "model", "params", "batch", "ms/step", "GFLOP/s", "of peak"]
    walls: dict = {}
    print(table(header, list(rows(args.replications, peak, args.repeats, args.configs, walls, args.precision))))
    print(f"\nTraining time of each figure from these step times ({threads} thread(s), runs one after another; "
          "evaluation not included)")
    wall_rows = [[rep, fig, str(n), f"{steps:,}", f"{sec / 60:.1f}"] for (rep, fig), (n, steps, sec) in walls.items()]
    for rep in dict.fromkeys(r[0] for r in wall_rows):
        mine = [w for w in walls.items() if w[0][0] == rep]
        wall_rows.append([rep, "all", str(sum(v[0] for _, v in mine)), f"{sum(v[1] for _, v in mine):,}",
                          f"{sum(v[2] for _, v in mine) / 60:.1f}"])
    print(table(["replication", "figure", "runs", "training steps", "minutes"], wall_rows))


if __name__ == "__main__":
    main()
