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
import signal
import sys
import warnings
from pathlib import Path

import lightning as L
import torch
import yaml
from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from common.checkpoints import AtomicCheckpointIO, ResumeCheckpoint, check_resumable
from common.errors import ConfigError, Interrupted, TrainingCrash
from common.figure import Claim, Figure, Sweep
from common.io import atomic_write_text, os_error_line, run_lock
from common.lit.datamodule import SyntheticDataModule
from common.lit.module import SequenceLM
from common import estimate
from common.published import load_published
from common.report import build_report, series_name, write_report
from common.results import (
    RESULT_FILE,
    ResultRecorder,
    load_result,
    run_dir_name,
    write_result,
)
from common.sweep import Axis, Run, expand, get_dotted, run_id, select, set_dotted
from common.validate import (
    check_figure,
    check_figure_data,
    check_ranges,
    check_sizes,
    check_writable,
)
from common.workers import (
    WORKER_ENV,
    die_with_parent,
    stop_on_signals,
    train_in_workers,
)

MISSING = object()
COMMANDS = {"fit": "train every run of a figure not yet finished, then report",
            "report": "aggregate finished runs into the measured-vs-published table and plot"}


def replication_dir(replication: str) -> Path:
    """The folder of a replication package (its configs/ and published.yaml live there)."""
    return Path(importlib.import_module(replication).__file__).parent


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
        if not Path(value).exists():
            for candidate in (configs_dir / value, configs_dir / f"{value}.yaml"):
                if candidate.exists():
                    out[j] = str(candidate) if j != i else f"--config={candidate}"
                    value = str(candidate)
                    break
            else:
                names = sorted(p.stem for p in configs_dir.glob("*.yaml"))
                raise ConfigError(f"config {value!r} is neither a file nor one of {configs_dir}: {', '.join(names)}")
        check_yaml(Path(value))
    return out


def check_yaml(path: Path) -> None:
    """A config file that is not a YAML mapping stops here with its name (and line), before jsonargparse sees it."""
    if path.is_dir():
        raise ConfigError(f"config {path} is a folder; give a .yaml file")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not text (not UTF-8); give a .yaml file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML error: {getattr(e, 'problem', None) or e}") from None
    if doc is None:
        raise ConfigError(f"config {path} is empty; a figure config has model, data, trainer, sweep and figure sections")
    if not isinstance(doc, dict):
        raise ConfigError(f"config {path} holds a {type(doc).__name__}, not sections (model:, data:, trainer:, ...)")


def parse(replication: str, argv: list[str], prog: str) -> tuple[ArgumentParser, Namespace]:
    try:
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        with quiet_lightning():
            cli = ReplicationCLI(
                SequenceLM, SyntheticDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                args=argv, save_config_callback=None, auto_configure_optimizers=False,
                parser_kwargs={"prog": prog, "exit_on_error": False, "default_env": False, "allow_abbrev": False},
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


NOT_CONFIG_FLAGS = ("--config", "--sweep", "--figure", "--print_config", "--help")


def command_line_keys(argv: list[str]) -> list[str]:
    """The dotted config keys given as flags (``--trainer.max_steps 100`` -> ``trainer.max_steps``)."""
    return [a[2:].split("=", 1)[0] for a in argv if a.startswith("--") and not a.startswith(NOT_CONFIG_FLAGS)]


def plan_runs(parser: ArgumentParser, cfg: Namespace, argv: list[str] = ()) -> list[Run]:
    """Expand the grid and validate every run (types, keys, and constructor checks on the meta device)."""
    base = _strip(cfg.as_dict())
    axes = [Axis(a["name"], a["values"], a.get("key")) for a in cfg.sweep.as_dict().get("grid") or []]
    # A key given on the command line wins over a sweep axis that sets it (see common.sweep.expand).
    pinned = {g: get_dotted(base, g) for g in command_line_keys(list(argv)) if get_dotted(base, g, MISSING) is not MISSING}
    try:
        check_ranges({k: v for k, v in cfg.sweep.as_dict().items() if k in ("workers", "checkpoint_every")}, "sweep.")
        runs, notes = expand(axes, pinned)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
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
        try:
            check_ranges(run.config)
        except ValueError as e:
            raise ConfigError(f"run {run.name}: {e}") from None
        run.run_id = run_id(run.config)
        run.namespace = ns
    runs = merge_identical(runs)
    figure = figure_from(cfg)
    try:
        check_figure(figure, [a.name for a in axes], {series_name(r.labels, figure) for r in runs})
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return runs


def merge_identical(runs: list[Run]) -> list[Run]:
    """Keep one run of each run id, renumbered: a command-line key, or an axis value that pins a key another
    axis sweeps (one seed for a control series), can make runs of a sweep identical."""
    kept: dict[str, Run] = {}
    same = []
    for run in runs:
        if run.run_id in kept:
            same.append(f"{run.name} = {kept[run.run_id].name}")
        else:
            kept[run.run_id] = run
    if same:
        print(f"note: {len(same)} run(s) of the sweep are the same as another (e.g. {same[0]}); each trains once, "
              "under the first one's labels", file=sys.stderr)
    out = list(kept.values())
    for i, run in enumerate(out):
        run.index = i
    return out


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


def check_buildable(parser: ArgumentParser, run: Run, figure: Figure | None = None) -> float:
    """Build data and model on the meta device so impossible sizes fail before any training.

    Also checks the data's length and memory bounds and, given ``figure``, that its x and y name
    evaluation sets and metrics this run measures.

    Returns a rough cost of the run (steps x batch x longest sequence x parameters), used to
    start the longest runs first when several train at once.
    """
    try:
        with torch.device("meta"):
            init = instantiate(parser, copy.deepcopy(run.namespace))
        dm, model = init.data, init.model
        check_sizes(dm)
        if figure is not None:
            check_figure_data(figure, dm)
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


def train_run(parser: ArgumentParser, run: Run, run_dir: Path, checkpoint_every: int | None, tag: str = "") -> dict | None:
    """Train one run (resuming from its last checkpoint if there is one) and write its result file."""
    ns = copy.deepcopy(run.namespace)
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
    L.seed_everything(ns.seed_everything, workers=True, verbose=False)
    init = instantiate(parser, ns)
    dm, model = init.data, init.model
    tkw = dict(init.trainer.as_dict() if isinstance(init.trainer, Namespace) else init.trainer)
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


def finished(run_dir: Path) -> bool:
    """True when the run has a result file; a one-line ConfigError when that file is unreadable."""
    try:
        return load_result(run_dir) is not None
    except ValueError as e:
        raise ConfigError(str(e)) from None


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
    cost = {run.index: check_buildable(parser, run, figure_from(cfg)) for run in chosen}
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
            [r for r, _ in pending], cost, lambda r: instantiate(parser, copy.deepcopy(r.namespace)), cfg.sweep.workers):
        return
    if cfg.sweep.workers > 1 and len(pending) > 1:
        pending.sort(key=lambda p: -cost[p[0].index])  # longest first: the last ones to start end soonest
        train_in_workers(replication, argv, pending, len(runs), cfg.sweep.workers)
    else:
        for run, run_dir in pending:
            tag = f"[{run.index + 1}/{len(runs)}] "
            with (run_lock(run_dir) if is_rank_zero() else contextlib.nullcontext()) as holder:
                if holder:
                    print(f"{tag}{run.name}: skipped, {holder} is training it (lock {run_dir / 'lock'}); "
                          "run fit again once it has finished", flush=True)
                    continue
                if finished(run_dir):  # finished by another fit while this one waited its turn
                    print(f"{tag}{run.name}: done, skipped ({run_dir})")
                    continue
                print(f"{tag}{run.name}: training in {run_dir}", flush=True)
                result = train_run(parser, run, run_dir, cfg.sweep.checkpoint_every, tag)
            if result is not None:
                print(f"{tag}{run.name}: {result['steps']} steps, {result['wall_time_s']} s")
    if is_rank_zero() and not os.environ.get(WORKER_ENV):
        print(report(replication, cfg, runs))


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
    if os.environ.get(WORKER_ENV):
        die_with_parent()
    command, rest = argv[0], argv[1:]
    try:
        with stop_on_signals():
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
    except OSError as e:
        print(f"error: {os_error_line(e)}", file=sys.stderr)
        return 2
    except TrainingCrash as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        name = signal.Signals(e.signum).name
        print(f"interrupted ({name}): unfinished runs keep their last checkpoint; rerun the same command to resume them",
              file=sys.stderr, flush=True)
        return 128 + e.signum
    return 0
