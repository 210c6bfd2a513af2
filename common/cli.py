"""The command line shared by every replication: ``python -m replications.<paper> fit|report --config figN.yaml``.

A figure config is a LightningCLI config (``model``, ``data``, ``trainer``, ``seed_everything``)
plus ``sweep`` (the runs) and ``figure`` (what is plotted and compared). ``fit`` validates every
run before training any, trains the runs not yet finished (resuming interrupted ones from their
last checkpoint), then prints the measured-vs-published table and writes the plot. ``report``
does only the last step.
"""
from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import yaml
from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from common.checkpoints import AtomicCheckpointIO, check_resumable
from common.figure import Claim, Figure, Sweep
from common.io import atomic_write_text
from common.lit.datamodule import SyntheticDataModule
from common.lit.module import SequenceLM
from common import estimate
from common.published import load_published
from common.report import build_report, write_report
from common.results import RESULT_FILE, ResultRecorder, load_result, run_dir_name, write_result
from common.sweep import Axis, Run, expand, run_id, select, set_dotted

COMMANDS = {"fit": "train every run of a figure not yet finished, then report",
            "report": "aggregate finished runs into the measured-vs-published table and plot"}


def replication_dir(replication: str) -> Path:
    """The folder of a replication package (its configs/ and published.yaml live there)."""
    return Path(importlib.import_module(replication).__file__).parent


class ConfigError(Exception):
    """Bad user input: printed as one line, exit code 2, nothing written."""


class ReplicationCLI(LightningCLI):
    """LightningCLI that only parses: runs are instantiated one by one by ``fit``."""

    def add_arguments_to_parser(self, parser: ArgumentParser) -> None:
        parser.link_arguments("data.vocab_size", "model.init_args.vocab_size", apply_on="instantiate")
        parser.add_class_arguments(Sweep, "sweep")
        parser.add_class_arguments(Figure, "figure")

    def instantiate_classes(self) -> None:
        pass


STRUCTURAL = ("Does not validate", "Subtypes:", "Errors:", "- Expected a <class 'NoneType'>", "Given value",
              "Parser key", "- Problem with given class_path", "Problem with given class_path")


def one_line(message: str) -> str:
    """Condense a (nested) jsonargparse error into the one line that says what to change."""
    keys = re.findall(r'Parser key "([^"]+)"', message)
    bad = re.findall(r"(?:Option|Key) '([^']+)' is not (?:accepted|expected)", message)
    cls = re.findall(r"class_path '([^']+)'", message)
    if bad:
        where = ".".join(dict.fromkeys(keys)) if keys else ""
        full = ".".join(p for p in (where, bad[-1]) if p)
        return (f"unknown config key '{full}'" + (f" (not an argument of {cls[-1]})" if cls else "")
                + "; check its spelling against `fit --help`")
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    useful = [ln.removeprefix("- ") for ln in lines if not ln.startswith(STRUCTURAL)]
    where = f"{keys[-1]}: " if keys else ""
    return where + (useful[0] if useful else lines[0] if lines else message)


def resolve_config_names(argv: list[str], configs_dir: Path) -> list[str]:
    """Replace a bare ``--config NAME`` by ``<replication>/configs/NAME[.yaml]`` when it is not a path."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--config" and i + 1 < len(out):
            j, value = i + 1, out[i + 1]
        elif arg.startswith("--config="):
            j, value = i, arg.split("=", 1)[1]
        else:
            continue
        if Path(value).exists():
            continue
        for candidate in (configs_dir / value, configs_dir / f"{value}.yaml"):
            if candidate.exists():
                out[j] = str(candidate) if j != i else f"--config={candidate}"
                break
        else:
            names = sorted(p.stem for p in configs_dir.glob("*.yaml"))
            raise ConfigError(f"config {value!r} is neither a file nor one of {configs_dir}: {', '.join(names)}")
    return out


def parse(replication: str, argv: list[str], prog: str) -> tuple[ArgumentParser, Namespace]:
    try:
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        with quiet_lightning():
            cli = ReplicationCLI(
                SequenceLM, SyntheticDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                args=argv, save_config_callback=None, auto_configure_optimizers=False,
                parser_kwargs={"prog": prog, "exit_on_error": False, "default_env": False},
            )
    except Exception as e:  # jsonargparse raises ArgumentError; a bad class path raises others
        raise ConfigError(one_line(str(e))) from None
    cli.parser.replication_cli = cli
    return cli.parser, cli.config


def instantiate(parser: ArgumentParser, ns: Namespace) -> Namespace:
    """Build one run's classes from its namespace.

    LightningCLI's instantiators save, as the module's hyperparameters, a dump of the config the
    CLI parsed, not of the namespace being instantiated; SequenceLM reads lr, schedule, etc. from
    its hyperparameters, so a run whose sweep axis sets the learning rate would train with the
    base config's. Pointing the CLI at the run's namespace while it builds keeps the two equal.
    """
    cli = getattr(parser, "replication_cli", None)
    if cli is None:
        return parser.instantiate(ns)
    base = cli.config
    cli.config = ns
    cli.__dict__.pop("config_dump", None)
    try:
        return parser.instantiate(ns)
    finally:
        cli.config = base
        cli.__dict__.pop("config_dump", None)


def _strip(cfg: dict) -> dict:
    """The run's own config: without the sweep/figure blocks and the vocab size linked from the data."""
    out = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in ("config", "__path__", "sweep", "figure")}
    if isinstance(out.get("model", {}).get("init_args"), dict):
        out["model"]["init_args"].pop("vocab_size", None)
    return out


def check_not_shadowed(axes: list[Axis], argv: list[str]) -> None:
    """A command-line override inside a subtree that a sweep axis replaces would be silently lost: refuse it."""
    given = [a[2:].split("=", 1)[0] for a in argv if a.startswith("--") and not a.startswith(("--config", "--sweep", "--figure"))]
    for axis in axes:
        for _, over in axis.points():
            for key in over:
                for g in given:
                    if g == key or g.startswith(key + "."):
                        raise ConfigError(f"--{g} is replaced by sweep axis {axis.name!r} (it sets {key}); change it in "
                                          f"that axis's values (in the config or with --sweep.grid) instead")


def plan_runs(parser: ArgumentParser, cfg: Namespace, argv: list[str] = ()) -> list[Run]:
    """Expand the grid and validate every run (types, keys, and constructor checks on the meta device)."""
    base = _strip(cfg.as_dict())
    axes = [Axis(a["name"], a["values"], a.get("key")) for a in cfg.sweep.as_dict().get("grid") or []]
    check_not_shadowed(axes, list(argv))
    try:
        runs = expand(axes)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for run in runs:
        full = copy.deepcopy(base)
        for key, value in run.overrides.items():
            set_dotted(full, key, value)
        if full.get("data", {}).get("init_args", {}).get("seed", 0) is None:
            full["data"]["init_args"]["seed"] = full.get("seed_everything") or 0
        try:
            ns = parser.parse_object({**full, "sweep": cfg.sweep.as_dict(), "figure": cfg.figure.as_dict()})
        except Exception as e:
            raise ConfigError(f"run {run.name}: {one_line(str(e))}") from None
        if not isinstance(ns.seed_everything, int) or isinstance(ns.seed_everything, bool):
            raise ConfigError(f"run {run.name}: seed_everything must be an explicit integer, got {ns.seed_everything!r}")
        run.config = _strip(ns.as_dict())
        run.run_id = run_id(run.config)
        run.namespace = ns
    return runs


@contextlib.contextmanager
def quiet_lightning():
    """Silence Lightning's start-up notes (devices found, tips) for Trainers built only as a check."""
    logs = [logging.getLogger(n) for n in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                                            "lightning.pytorch.accelerators.cuda", "lightning.fabric.utilities.seed")]
    levels = [g.level for g in logs]
    for g in logs:
        g.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for g, lv in zip(logs, levels):
            g.setLevel(lv)


def check_buildable(parser: ArgumentParser, run: Run) -> float:
    """Build data and model on the meta device so impossible sizes fail before any training.

    Returns a rough cost of the run (steps x batch x longest sequence x parameters), used to
    start the longest runs first when several train at once.
    """
    try:
        with torch.device("meta"):
            init = instantiate(parser, copy.deepcopy(run.namespace))
        dm, model = init.data, init.model
        longest = getattr(dm, "max_eval_tokens", lambda: None)()
        limit = model.model.max_seq_len
        if longest and limit and longest > limit:
            raise ValueError(f"evaluation needs {longest} tokens but the model's max_seq_len is {limit}")
        tkw = dict(init.trainer.as_dict() if isinstance(init.trainer, Namespace) else init.trainer)
        if not isinstance(tkw.get("max_steps"), int) or tkw["max_steps"] < 1:
            raise ValueError(f"trainer.max_steps={tkw.get('max_steps')} must be a positive number of steps "
                             "(figures train for a fixed step budget)")
        with quiet_lightning():
            L.Trainer(**{**tkw, "logger": False, "enable_checkpointing": False, "callbacks": []})
        return float(tkw["max_steps"] * getattr(dm, "batch_size", 1) * (longest or 1) * model.model.num_params())
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"run {run.name}: {one_line(str(e))}") from None


def figure_dir(cfg: Namespace, replication: str) -> Path:
    return Path(cfg.sweep.runs_dir) / replication.split(".")[-1] / cfg.figure.id


def is_rank_zero() -> bool:
    """True in the process that writes files (the only one, or rank 0 of a DDP launch)."""
    return all(int(os.environ.get(v, 0)) == 0 for v in ("LOCAL_RANK", "NODE_RANK", "RANK"))


def train_run(parser: ArgumentParser, run: Run, run_dir: Path, checkpoint_every: int | None) -> dict | None:
    ns = copy.deepcopy(run.namespace)
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.exists():
        try:
            check_resumable(last, run.run_id)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    if is_rank_zero():
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(run.config, sort_keys=False))
    L.seed_everything(ns.seed_everything, workers=True, verbose=False)
    init = instantiate(parser, ns)
    dm, model = init.data, init.model
    tkw = dict(init.trainer.as_dict() if isinstance(init.trainer, Namespace) else init.trainer)
    recorder = ResultRecorder(run_id=run.run_id, samples_per_step=dm.batch_size * tkw.get("num_nodes", 1) * max(1, torch.cuda.device_count() if tkw.get("accelerator") == "gpu" else 1))
    # Without checkpoint_every, checkpoint after each validation, so a resumed run keeps its whole curve.
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="step{step}", save_last=True, save_top_k=0,
                           every_n_train_steps=checkpoint_every, save_on_train_epoch_end=False)
    tkw["callbacks"] = list(tkw.get("callbacks") or []) + [recorder, ckpt]
    tkw["enable_checkpointing"] = True
    tkw["default_root_dir"] = str(run_dir)
    tkw["plugins"] = list(tkw.get("plugins") or []) + [AtomicCheckpointIO()]
    if tkw.get("logger") in (None, True):
        tkw["logger"] = TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version=0, default_hp_metric=False)
    trainer = L.Trainer(**tkw)
    try:
        trainer.fit(model, dm, ckpt_path=str(last) if last.exists() else None)
    except FloatingPointError as e:
        raise ConfigError(f"run {run.name}: {e}") from None
    trainer.test(model, dm, verbose=False)
    if not trainer.is_global_zero:
        return None
    return write_result(run_dir, run_id=run.run_id, labels=run.labels, config=run.config,
                        final=model.last_eval["test"], recorder=recorder, trainer=trainer, model=model)


def figure_from(cfg: Namespace) -> Figure:
    d = cfg.figure.as_dict()
    return Figure(**{**d, "claims": [Claim(**c) for c in d.get("claims") or []]})


def report(replication: str, cfg: Namespace, runs: list[Run]) -> str:
    fig_dir = figure_dir(cfg, replication)
    results = []
    for run in runs:
        path = fig_dir / run_dir_name(run.labels, run.run_id)
        try:
            r = load_result(path)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if r is None:
            continue
        if r.get("run_id") != run.run_id or run_id(r["config"]) != run.run_id:
            raise ConfigError(f"{path / RESULT_FILE} was produced by a different config than run {run.name} of this "
                              "figure; delete it or rerun with the config that made it")
        results.append(r)
    rep_dir = replication_dir(replication)
    published = load_published(rep_dir / "published.yaml")
    paper = yaml.safe_load((rep_dir / "published.yaml").read_text()).get("paper", replication) if (rep_dir / "published.yaml").exists() else replication
    figure = figure_from(cfg)
    rep = build_report(figure, results, published, paper, expected_runs=len(runs))
    md = write_report(rep, figure, published, fig_dir)
    return md + f"\nWritten: {fig_dir / 'report.md'}, {fig_dir / 'report.csv'}, {fig_dir / (figure.id + '.png')}\n"


def fit(replication: str, parser: ArgumentParser, cfg: Namespace, argv: list[str] = ()) -> None:
    runs = plan_runs(parser, cfg, argv)
    try:
        chosen = select(runs, cfg.sweep.only)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    fig_dir = figure_dir(cfg, replication)
    if cfg.sweep.dry_run:
        for run in runs:
            d = fig_dir / run_dir_name(run.labels, run.run_id)
            state = "done" if (d / RESULT_FILE).exists() else "partial" if (d / "checkpoints" / "last.ckpt").exists() else "todo"
            mark = "*" if run in chosen else " "
            print(f"{mark} {run.index:3d}  {run.run_id}  {state:7s}  {run.name}")
        return
    if cfg.sweep.workers < 1:
        raise ConfigError(f"sweep.workers={cfg.sweep.workers} must be >= 1")
    cost = {run.index: check_buildable(parser, run) for run in chosen}
    pending = []
    for run in chosen:
        run_dir = fig_dir / run_dir_name(run.labels, run.run_id)
        try:
            finished = load_result(run_dir) is not None
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if finished:
            print(f"[{run.index + 1}/{len(runs)}] {run.name}: done, skipped ({run_dir})")
        else:
            pending.append((run, run_dir))
    if cfg.figure.scale == "paper" and pending and not os.environ.get(WORKER_ENV) and not estimate.go_on_without_gpu(
            [r for r, _ in pending], cost, lambda r: instantiate(parser, copy.deepcopy(r.namespace)), cfg.sweep.workers):
        return
    if cfg.sweep.workers > 1 and len(pending) > 1:
        pending.sort(key=lambda p: -cost[p[0].index])  # longest first: the last ones to start end soonest
        train_in_workers(replication, argv, pending, len(runs), cfg.sweep.workers)
    else:
        for run, run_dir in pending:
            print(f"[{run.index + 1}/{len(runs)}] {run.name}: training in {run_dir}")
            result = train_run(parser, run, run_dir, cfg.sweep.checkpoint_every)
            if result is not None:
                print(f"[{run.index + 1}/{len(runs)}] {run.name}: {result['steps']} steps, {result['wall_time_s']} s")
    if is_rank_zero() and not os.environ.get(WORKER_ENV):
        print(report(replication, cfg, runs))


WORKER_ENV = "LIMITS_SWEEP_WORKER"  # set in worker processes: they train one run and leave the report to the parent


def train_in_workers(replication: str, argv: list[str], pending: list, total: int, workers: int) -> None:
    """Train ``pending`` runs, ``workers`` at a time, each in a child process running this CLI on one run.

    Each child gets cores // workers intra-op threads (unless OMP_NUM_THREADS is set) and writes its
    output to ``train.log`` in its run directory; a failed run is reported at the end, with its log.
    """
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // workers))
    env = {**os.environ, WORKER_ENV: "1", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    queue, running, failed = list(pending), {}, []
    print(f"training {len(pending)} runs, {workers} at a time, {threads} thread(s) each; logs: <run dir>/train.log")
    try:
        while queue or running:
            while queue and len(running) < workers:
                run, run_dir = queue.pop(0)
                run_dir.mkdir(parents=True, exist_ok=True)
                log = open(run_dir / "train.log", "ab")
                cmd = [sys.executable, "-m", replication, "fit", *argv, "--sweep.only", str(run.index), "--sweep.workers", "1"]
                running[subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)] = (run, run_dir, log, time.time())
                print(f"[{run.index + 1}/{total}] {run.name}: training in {run_dir}")
            time.sleep(0.2)
            for proc in [p for p in running if p.poll() is not None]:
                run, run_dir, log, t0 = running.pop(proc)
                log.close()
                if proc.returncode == 0:
                    print(f"[{run.index + 1}/{total}] {run.name}: finished in {time.time() - t0:.0f} s")
                else:
                    failed.append(f"{run.name} (exit {proc.returncode}, log {run_dir / 'train.log'})")
                    print(f"[{run.index + 1}/{total}] {run.name}: FAILED, see {run_dir / 'train.log'}")
    finally:
        for proc in running:
            proc.terminate()
    if failed:
        raise ConfigError(f"{len(failed)} of {len(pending)} runs failed: " + "; ".join(failed))


def main(replication: str, argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = f"python -m {replication}"
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {prog} {{{','.join(COMMANDS)}}} --config FIGURE.yaml [overrides]\n")
        for name, what in COMMANDS.items():
            print(f"  {name:8s} {what}")
        configs = sorted(p.stem for p in (replication_dir(replication) / "configs").glob("*.yaml"))
        print(f"\nconfigs (bare names resolve to {replication.replace('.', '/')}/configs/): {', '.join(configs)}")
        print(f"\n`{prog} fit --help` lists every option.")
        return 0
    command, rest = argv[0], argv[1:]
    try:
        if command not in COMMANDS:
            raise ConfigError(f"unknown command {command!r}; use one of: {', '.join(COMMANDS)}")
        configs_dir = replication_dir(replication) / "configs"
        args = resolve_config_names(rest, configs_dir)
        parser, cfg = parse(replication, args, f"{prog} {command}")
        if command == "fit":
            fit(replication, parser, cfg, args)
        else:
            print(report(replication, cfg, plan_runs(parser, cfg, args)))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
