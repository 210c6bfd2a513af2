"""Training the runs of a figure: validate all, skip the finished, train the rest serially or in workers.

Each run trains (or resumes from its last checkpoint) in ``<runs_dir>/<replication>/<figure>/<labels>-<run id>/``
and ends with a ``result.json``; runs already finished are skipped, so rerunning a command resumes it.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import lightning as L
import torch
import yaml
from jsonargparse import Namespace
from lightning.pytorch.loggers import TensorBoardLogger

from common import estimate
from common.checkpoints import AtomicCheckpointIO, ResumeCheckpoint, check_resumable
from common.config import build, check_buildable, figure_from, plan_runs
from common.errors import ConfigError
from common.io import atomic_write_text, run_lock
from common.results import RESULT_FILE, ResultRecorder, load_result, run_dir_name, write_result
from common.sweep import Run, select
from common.validate import check_writable
from common.workers import WORKER_ENV, train_in_workers


def figure_dir(cfg: Namespace, replication: str) -> Path:
    return Path(cfg.sweep.runs_dir) / replication.split(".")[-1] / cfg.figure.id


def is_rank_zero() -> bool:
    """True in the process that writes files (the only one, or rank 0 of a DDP launch)."""
    return all(int(os.environ.get(v, 0)) == 0 for v in ("LOCAL_RANK", "NODE_RANK", "RANK"))


def finished(run_dir: Path) -> bool:
    """True when the run has a result file; a one-line ConfigError when that file is unreadable."""
    try:
        return load_result(run_dir) is not None
    except ValueError as e:
        raise ConfigError(str(e)) from None


def train_run(parser, run: Run, run_dir: Path, checkpoint_every: int | None, tag: str = "") -> dict | None:
    """Train one run (resuming from its last checkpoint if there is one) and write its result file.

    ``parser`` is unused (runs are built by ``common.config.build``); it stays for callers.
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    resume_step = None
    if last.exists():
        try:
            resume_step = int(check_resumable(last, run.run_id).get("global_step", 0))
        except ValueError as e:
            raise ConfigError(str(e)) from None
    if is_rank_zero():
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(run.config, sort_keys=False))
        if resume_step is not None:
            print(f"{tag}{run.name}: resumed from step {resume_step} ({last})", flush=True)
    L.seed_everything(run.namespace.seed_everything, workers=True, verbose=False)
    init = build(run.namespace)
    dm, model, tkw = init.data, init.model, init.trainer
    recorder = ResultRecorder(run_id=run.run_id, batch_size=dm.batch_size)
    # One checkpoint, rewritten after every validation (and every `checkpoint_every` steps if set).
    ckpt = ResumeCheckpoint(last, every_n_steps=checkpoint_every)
    tkw["callbacks"] = list(tkw.get("callbacks") or []) + [recorder, ckpt]
    tkw["enable_checkpointing"] = True
    tkw["default_root_dir"] = str(run_dir)
    tkw["plugins"] = list(tkw.get("plugins") or []) + [AtomicCheckpointIO()]
    if tkw.get("logger") in (None, True):
        tkw["logger"] = TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version=0, default_hp_metric=False)
    trainer = L.Trainer(**tkw)
    try:
        trainer.fit(model, dm, ckpt_path=str(last) if last.exists() else None)
        trainer.test(model, dm, verbose=False)
        model.check_finite(weights=True)
    except FloatingPointError as e:
        kept = ""
        if last.exists():
            step = torch.load(last, map_location="cpu", weights_only=False).get("global_step")
            kept = f"; its last good checkpoint (step {step}, before the divergence) is {last}"
        raise ConfigError(f"run {run.name}: {e}{kept}") from None
    if not trainer.is_global_zero:
        return None
    return write_result(run_dir, run_id=run.run_id, labels=run.labels, config=run.config,
                        final=model.last_eval["test"], recorder=recorder, trainer=trainer, model=model)


def print_plan(runs: list[Run], chosen: list[Run], fig_dir: Path) -> None:
    """``--sweep.dry_run``: one line per run: chosen (*), index, run id, done/partial/todo, labels."""
    for run in runs:
        d = fig_dir / run_dir_name(run.labels, run.run_id)
        state = "done" if (d / RESULT_FILE).exists() else "partial" if (d / "checkpoints" / "last.ckpt").exists() else "todo"
        mark = "*" if run in chosen else " "
        print(f"{mark} {run.index:3d}  {run.run_id}  {state:7s}  {run.name}")


def train_serially(pending: list[tuple[Run, Path]], total: int, checkpoint_every: int | None) -> None:
    """Train runs one after another in this process, each under its run lock."""
    for run, run_dir in pending:
        tag = f"[{run.index + 1}/{total}] "
        with (run_lock(run_dir) if is_rank_zero() else contextlib.nullcontext()) as holder:
            if holder:
                print(f"{tag}{run.name}: skipped, {holder} is training it (lock {run_dir / 'lock'}); "
                      "run fit again once it has finished", flush=True)
                continue
            if finished(run_dir):  # finished by another fit while this one waited its turn
                print(f"{tag}{run.name}: done, skipped ({run_dir})")
                continue
            print(f"{tag}{run.name}: training in {run_dir}", flush=True)
            result = train_run(None, run, run_dir, checkpoint_every, tag)
        if result is not None:
            print(f"{tag}{run.name}: {result['steps']} steps, {result['wall_time_s']} s")


def fit(replication: str, parser, cfg: Namespace, argv: list[str] = ()) -> list[Run] | None:
    """Validate every run of the figure, then train those not finished. Returns the plan (None after a dry run
    or when the user declined a paper-scale figure on a CPU); the caller reports."""
    runs = plan_runs(parser, cfg, argv)
    try:
        chosen = select(runs, cfg.sweep.only)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    fig_dir = figure_dir(cfg, replication)
    if cfg.sweep.dry_run:
        print_plan(runs, chosen, fig_dir)
        return None
    if cfg.sweep.workers < 1:
        raise ConfigError(f"sweep.workers={cfg.sweep.workers} must be >= 1")
    figure = figure_from(cfg)
    cost = {run.index: check_buildable(parser, run, figure) for run in chosen}
    try:
        check_writable(fig_dir)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    pending = []
    for run in chosen:
        run_dir = fig_dir / run_dir_name(run.labels, run.run_id)
        if finished(run_dir):
            print(f"[{run.index + 1}/{len(runs)}] {run.name}: done, skipped ({run_dir})")
        else:
            pending.append((run, run_dir))
    if cfg.figure.scale == "paper" and pending and not os.environ.get(WORKER_ENV) and not estimate.go_on_without_gpu(
            [r for r, _ in pending], cost, lambda r: build(r.namespace), cfg.sweep.workers):
        return None
    if cfg.sweep.workers > 1 and len(pending) > 1:
        runs_pending = [r for r, _ in pending]
        secs = estimate.timed_costs(runs_pending, lambda r: build(r.namespace), [cost[r.index] for r in runs_pending])
        cost.update({r.index: c for r, c in zip(runs_pending, secs)})
        pending.sort(key=lambda p: -cost[p[0].index])  # longest first: the last ones to start end soonest
        train_in_workers(replication, list(argv), pending, len(runs), cfg.sweep.workers)
    else:
        train_serially(pending, len(runs), cfg.sweep.checkpoint_every)
    return runs
