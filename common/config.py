"""A figure config from the command line to validated runs, and the one builder that makes a run's objects.

A figure config is a Lightning-style config (``model``, ``data``, ``trainer``, ``seed_everything``)
plus ``sweep`` (the runs) and ``figure`` (what is plotted and compared). ``parse`` reads it with a
jsonargparse parser; ``plan_runs`` expands the sweep into runs, each parsed and range-checked on
its own; ``build`` instantiates a run's model, data and trainer arguments. ``fit``, ``report``,
the worker processes and ``common.load.load_run`` all go through these functions, so a value in
a run's config is the value its objects are built with.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import re
import sys
from pathlib import Path
from typing import Union

import lightning as L
import torch
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace
from lightning.pytorch.cli import LightningArgumentParser

from common.errors import ConfigError
from common.figure import Claim, Figure, Sweep
from common.lit.datamodule import SyntheticDataModule
from common.report import series_name
from common.sweep import Axis, Run, expand, get_dotted, run_id, set_dotted
from common.validate import check_figure, check_figure_data, check_ranges, check_sizes

MISSING = object()
NOT_RUN_KEYS = ("config", "__path__", "sweep", "figure")  # parsed from a figure config, not part of a run
NOT_CONFIG_FLAGS = ("--config", "--sweep", "--figure", "--print_config", "--help")


# ----- parsing -----

def add_run_arguments(parser: LightningArgumentParser) -> None:
    """The sections of one run: seed, trainer, model and data (a SyntheticDataModule).

    The model is any LightningModule that trains a ``common.models.base.Network`` as ``.model`` and
    names what it measures in ``METRICS`` and ``WHOLE_METRICS``: ``common.lit.module.SequenceLM``
    (sequence models) or ``common.lit.classifier.BinaryClassifier`` (networks on vectors). The data
    tells the model its input size: a vocabulary (``vocab_size``) or a vector length (``input_size``);
    a link whose source the DataModule lacks is skipped.
    """
    parser.add_argument("--seed_everything", type=Union[bool, int], default=True,
                        help="seed of the run (weights, dropout); an explicit integer is required")
    parser.add_lightning_class_args(L.Trainer, "trainer")
    parser.add_lightning_class_args(L.LightningModule, "model", subclass_mode=True)
    parser.add_lightning_class_args(SyntheticDataModule, "data", subclass_mode=True)
    parser.link_arguments("data.vocab_size", "model.init_args.vocab_size", apply_on="instantiate")
    parser.link_arguments("data.input_size", "model.init_args.input_size", apply_on="instantiate")


def _new_parser(**kwargs) -> LightningArgumentParser:
    kwargs = {"exit_on_error": False, "default_env": False, "allow_abbrev": False,
              "dump_header": [f"lightning.pytorch=={L.__version__}"], **kwargs}
    return LightningArgumentParser(**kwargs)


def figure_parser(prog: str = "fit") -> LightningArgumentParser:
    """Parser of a figure config file: a run's sections plus ``sweep`` and ``figure``."""
    parser = _new_parser(prog=prog, description="Train and report one figure of a replication.")
    parser.add_argument("-c", "--config", action=ActionConfigFile, help="the figure's config file (yaml)")
    add_run_arguments(parser)
    parser.add_class_arguments(Sweep, "sweep")
    parser.add_class_arguments(Figure, "figure")
    return parser


@functools.lru_cache(maxsize=1)
def run_parser() -> LightningArgumentParser:
    """Parser of one run's resolved config (the ``config.yaml`` in its run directory); built once per process."""
    parser = _new_parser(prog="run")
    add_run_arguments(parser)
    return parser


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
    """(parser, figure config) from command-line arguments; a bad value is a one-line ConfigError."""
    parser = figure_parser(prog)
    try:
        return parser, parser.parse_args(list(argv))
    except Exception as e:  # jsonargparse raises ArgumentError; a bad class path raises others
        raise ConfigError(one_line(str(e))) from None


def figure_from(cfg: Namespace) -> Figure:
    d = cfg.figure.as_dict()
    return Figure(**{**d, "claims": [Claim(**c) for c in d.get("claims") or []]})


# ----- planning -----

def _strip(cfg: dict) -> dict:
    """The run's own config: without the figure-level blocks and the input sizes linked from the data."""
    out = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in NOT_RUN_KEYS}
    if isinstance(out.get("model", {}).get("init_args"), dict):
        out["model"]["init_args"].pop("vocab_size", None)
        out["model"]["init_args"].pop("input_size", None)
    return out


def command_line_keys(argv: list[str]) -> list[str]:
    """The dotted config keys given as flags (``--trainer.max_steps 100`` -> ``trainer.max_steps``)."""
    return [a[2:].split("=", 1)[0] for a in argv if a.startswith("--") and not a.startswith(NOT_CONFIG_FLAGS)]


def parse_run(config: dict, name: str = "run") -> Namespace:
    """One run's namespace from its config dict (sections model, data, trainer, seed_everything)."""
    try:
        ns = run_parser().parse_object(_strip(config))
    except Exception as e:
        raise ConfigError(f"run {name}: {one_line(str(e))}") from None
    if not isinstance(ns.seed_everything, int) or isinstance(ns.seed_everything, bool):
        raise ConfigError(f"run {name}: seed_everything must be an explicit integer, got {ns.seed_everything!r}")
    return ns


def plan_runs(parser: ArgumentParser | None, cfg: Namespace, argv: list[str] = ()) -> list[Run]:
    """Expand the grid and validate every run (types, keys and ranges); ``parser`` is unused, kept for callers."""
    base = _strip(cfg.as_dict())
    sweep = cfg.sweep.as_dict()
    axes = [Axis(a["name"], a["values"], a.get("key")) for a in sweep.get("grid") or []]
    # A key given on the command line wins over a sweep axis that sets it (see common.sweep.expand).
    pinned = {g: get_dotted(base, g) for g in command_line_keys(list(argv)) if get_dotted(base, g, MISSING) is not MISSING}
    try:
        check_ranges({k: v for k, v in sweep.items() if k in ("workers", "checkpoint_every")}, "sweep.")
        runs, notes = expand(axes, pinned)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    parsed: dict[str, Namespace] = {}
    for run in runs:
        full = copy.deepcopy(base)
        for key, value in run.overrides.items():
            set_dotted(full, key, value)
        derived_seed = full.get("data", {}).get("init_args", {}).get("seed", 0) is None
        if derived_seed:
            full["data"]["init_args"]["seed"] = full.get("seed_everything") or 0
        key = seedless_key(full, derived_seed)
        ns = reuse_parse(parsed.get(key), full, derived_seed)
        if ns is None:
            ns = parsed[key] = parse_run(full, run.name)
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


def seedless_key(full: dict, derived_seed: bool) -> str:
    """A run's config without its seeds (the data seed only where it follows ``seed_everything``)."""
    out = {**full, "seed_everything": None}
    if derived_seed:
        out["data"] = {**out["data"], "init_args": {**out["data"]["init_args"], "seed": None}}
    return json.dumps(out, sort_keys=True, default=repr)


def reuse_parse(hit: Namespace | None, full: dict, derived_seed: bool) -> Namespace | None:
    """``hit``, the namespace of an already-parsed run that differs only in its seeds, given this run's seeds.

    Parsing is the slowest part of planning (about 0.1 s a run) and the seed axis multiplies the
    runs; seeds are plain integers that no type check or default depends on. None when there is no
    such run or this run's seed is not an explicit integer (``parse_run`` then says so).
    """
    seed = full.get("seed_everything")
    if hit is None or not isinstance(seed, int) or isinstance(seed, bool):
        return None
    ns = hit.clone()
    ns.seed_everything = seed
    if derived_seed:
        ns.data.init_args.seed = full["data"]["init_args"]["seed"]
    return ns


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


# ----- building -----

def build(ns: Namespace, instantiators=None) -> Namespace:
    """A run's objects from its namespace: ``.model`` (its LightningModule), ``.data`` (its DataModule), ``.trainer``
    (the Trainer's keyword arguments, a dict) and ``.seed_everything``.

    jsonargparse's own instantiation (``instantiators`` are passed to it: a test records every
    constructor call this way): each class gets the arguments of this namespace, so a module saves
    as hyperparameters exactly the values it was built with. ``ns`` is not modified.
    """
    init = run_parser().instantiate(copy.deepcopy(ns), instantiators=instantiators)
    trainer = init.trainer
    init.trainer = dict(trainer.as_dict() if isinstance(trainer, Namespace) else trainer)
    return init


def instantiate(parser: ArgumentParser | None, ns: Namespace) -> Namespace:
    """``build`` under its former name (benchmarks and notebooks call it with a parser first)."""
    return build(ns)


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


def check_buildable(parser: ArgumentParser | None, run: Run, figure: Figure | None = None) -> float:
    """Build data and model on the meta device so impossible sizes fail before any training.

    Also checks the data's length and memory bounds and, given ``figure``, that its x and y name
    evaluation sets and metrics this run measures.

    Returns a rough cost of the run (steps x batch x longest sequence x parameters): the scale of a
    paper-scale estimate, and the fallback order of a pool when its runs cannot be timed
    (``common.estimate.timed_costs``).
    """
    try:
        with torch.device("meta"):
            init = build(run.namespace)
        dm, model = init.data, init.model
        check_sizes(dm)
        if figure is not None:
            check_figure_data(figure, dm, model.METRICS, model.WHOLE_METRICS)
        longest = dm.max_eval_tokens()
        limit = model.model.max_seq_len
        if longest and limit and longest > limit:
            raise ValueError(f"evaluation needs {longest} tokens but the model's max_seq_len is {limit}")
        tkw = init.trainer
        if not isinstance(tkw.get("max_steps"), int) or tkw["max_steps"] < 1:
            raise ValueError(f"trainer.max_steps={tkw.get('max_steps')} must be a positive number of steps "
                             "(figures train for a fixed step budget)")
        with quiet_lightning():
            L.Trainer(**{**tkw, "logger": False, "enable_checkpointing": False, "callbacks": []})
        return float(tkw["max_steps"] * dm.batch_size * (longest or 1) * model.model.num_params())
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"run {run.name}: {one_line(str(e))}") from None
