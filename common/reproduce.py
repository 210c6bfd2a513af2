"""``python -m replications.<paper> reproduce --scale cpu|paper``: every figure of a paper, then one REPORT.md.

Every config of the replication at that scale is parsed and validated before any run trains; the
runs not yet finished then train in one pool shared by all figures (longest first, so no core
waits for the last run of one figure while another figure has work), or one after another with
``--sweep.workers 1``. Finished runs are skipped, interrupted ones resume: rerunning the command
continues it. Other flags (``--sweep.runs_dir``, ``--trainer.accelerator`` ...) apply to every figure.
"""
from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import yaml

from common import estimate
from common.config import build, check_buildable, figure_from, parse, plan_runs
from common.errors import ConfigError
from common.reporting import paper_report, replication_dir
from common.runner import figure_dir, finished, train_serially
from common.results import run_dir_name
from common.validate import check_writable
from common.workers import WORKER_ENV, train_in_workers

SCALES = ("cpu", "paper")


def split_flag(argv: list[str], flag: str) -> tuple[str | None, list[str]]:
    """(value of ``--flag V`` or ``--flag=V``, the other arguments)."""
    value, rest, it = None, [], iter(argv)
    for arg in it:
        if arg == flag:
            value = next(it, None)
            if value is None or value.startswith("--"):
                raise ConfigError(f"{flag} needs a value")
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return value, rest


def scale_configs(configs_dir: Path, scale: str) -> list[Path]:
    """The replication's figure configs at ``scale`` (their ``figure.scale``), in name order."""
    out = []
    for path in sorted(configs_dir.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and (doc.get("figure") or {}).get("scale", "paper") == scale:
            out.append(path)
    return out


def go_on_without_gpu(runs: list, cost: dict, workers: int) -> bool:
    """``estimate.go_on_without_gpu`` over runs of several figures (their indices repeat: renumbered copies)."""
    mine = [copy.copy(r) for r in runs]
    for i, r in enumerate(mine):
        r.index = i
    return estimate.go_on_without_gpu(mine, {i: cost[id(r)] for i, r in enumerate(runs)}, lambda r: build(r.namespace),
                                      workers)


def reproduce(replication: str, argv: list[str], prog: str, train: bool = True) -> None:
    """Validate every figure of the paper at ``--scale``, train what is not finished, write REPORT.md.

    ``train=False`` (``report --scale``) writes REPORT.md from the runs finished so far and trains nothing.
    """
    t0 = time.time()
    scale, rest = split_flag(argv, "--scale")
    scale = scale or "cpu"
    if scale not in SCALES:
        raise ConfigError(f"--scale {scale}: use cpu (minutes to hours on a laptop) or paper (the published setup, a GPU)")
    if any(a.startswith(("--config", "--sweep.only", "--sweep.dry_run")) for a in rest):
        raise ConfigError("--scale covers every figure of the paper: for one figure or some runs, use fit --config "
                          "(report --config)")
    workers, rest = split_flag(rest, "--sweep.workers")
    paths = scale_configs(replication_dir(replication) / "configs", scale)
    if not paths:
        raise ConfigError(f"{replication} has no {scale}-scale figure config")
    figures, pending, cost, every = [], [], {}, {}
    for path in paths:  # parse and validate everything before anything trains
        args = ["--config", str(path), *rest]
        parser, cfg = parse(replication, args, f"{prog} reproduce")
        runs, figure, fig_dir = plan_runs(parser, cfg, args), figure_from(cfg), figure_dir(cfg, replication)
        figures.append((cfg, runs))
        for run in runs:
            cost[id(run)], every[id(run)] = check_buildable(parser, run, figure), cfg.sweep.checkpoint_every
        try:
            check_writable(fig_dir)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        pending += [(run, fig_dir / run_dir_name(run.labels, run.run_id), args) for run in runs
                    if not finished(fig_dir / run_dir_name(run.labels, run.run_id))]
    n_workers = int(workers) if workers else max(cfg.sweep.workers for cfg, _ in figures)
    total = sum(len(runs) for _, runs in figures)
    print(f"{len(figures)} figures at {scale} scale, {total} runs, {total - len(pending)} already finished", flush=True)
    base = " ".join([f"python -m {replication} reproduce --scale {scale}", *rest])
    if not train:
        out = Path(figures[0][0].sweep.runs_dir) / replication.split(".")[-1] / "REPORT.md"
        made = (f"`python -m {replication} report --scale {scale}` from the runs finished so far "
                f"(`{base}` trains the others)")
        paper_report(replication, scale, figures, made, out, time.time() - t0)
        print(f"Written: {out}", flush=True)
        return
    if scale == "paper" and pending and not go_on_without_gpu([r for r, _, _ in pending], cost, n_workers):
        return
    pool = n_workers > 1 and len(pending) > 1
    if pool:
        runs_pending = [r for r, _, _ in pending]
        secs = estimate.timed_costs(runs_pending, lambda r: build(r.namespace), [cost[id(r)] for r in runs_pending])
        cost.update({id(r): c for r, c in zip(runs_pending, secs)})
    pending.sort(key=lambda p: -cost[id(p[0])])  # longest first, across figures
    if pool:
        train_in_workers(replication, [], pending, total, n_workers)
    else:
        for run, run_dir, _ in pending:
            train_serially([(run, run_dir)], total, every[id(run)])
    if os.environ.get(WORKER_ENV):
        return
    out = Path(figures[0][0].sweep.runs_dir) / replication.split(".")[-1] / "REPORT.md"
    paper_report(replication, scale, figures, f"`{base}` (rerun it to resume; finished runs are kept)", out,
                 time.time() - t0)
    print(f"Written: {out}", file=sys.stdout, flush=True)
