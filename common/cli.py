"""The command line shared by every replication: ``python -m replications.<paper> fit|report --config figN.yaml``.

``fit`` validates every run of a figure before training any, trains the runs not yet finished
(resuming interrupted ones from their last checkpoint), then prints the measured-vs-published table
and writes the plot. ``report`` does only the last step. The jobs live in their own modules:
``common.config`` (parse, plan, validate, build), ``common.runner`` (train serially or in workers)
and ``common.report`` (the table, claims and plot); this module routes a command to them.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys
from pathlib import Path

import yaml
from jsonargparse import Namespace

from common.config import (  # noqa: F401  (re-exported: the names replications and scripts import from here)
    build,
    check_buildable,
    figure_from,
    instantiate,
    one_line,
    parse,
    plan_runs,
    quiet_lightning,
    resolve_config_names,
)
from common.errors import ConfigError, Interrupted, TrainingCrash
from common.io import os_error_line
from common.published import load_published
from common.report import build_report, write_report
from common.results import RESULT_FILE, load_result, run_dir_name
from common.runner import figure_dir, fit, is_rank_zero, train_run  # noqa: F401  (re-exported)
from common.sweep import Run, run_id
from common.workers import WORKER_ENV, die_with_parent, stop_on_signals, train_in_workers  # noqa: F401

COMMANDS = {"fit": "train every run of a figure not yet finished, then report",
            "report": "aggregate finished runs into the measured-vs-published table and plot"}


def replication_dir(replication: str) -> Path:
    """The folder of a replication package (its configs/ and published.yaml live there)."""
    return Path(importlib.import_module(replication).__file__).parent


def paper_name(replication: str) -> str:
    """The paper's citation line from the replication's published.yaml (its package name if none)."""
    path = replication_dir(replication) / "published.yaml"
    doc = yaml.safe_load(path.read_text()) if path.exists() else None
    return (doc or {}).get("paper", replication) if isinstance(doc, dict) else replication


def report(replication: str, cfg: Namespace, runs: list[Run]) -> str:
    """The figure's measured-vs-published table (markdown), written with its csv and plot beside the runs."""
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
    published = load_published(replication_dir(replication) / "published.yaml")
    figure = figure_from(cfg)
    rep = build_report(figure, results, published, paper_name(replication), expected_runs=len(runs))
    md = write_report(rep, figure, published, fig_dir)
    return md + f"\nWritten: {fig_dir / 'report.md'}, {fig_dir / 'report.csv'}, {fig_dir / (figure.id + '.png')}\n"


def usage(replication: str, prog: str) -> None:
    print(f"usage: {prog} {{{','.join(COMMANDS)}}} --config FIGURE.yaml [overrides]\n")
    for name, what in COMMANDS.items():
        print(f"  {name:8s} {what}")
    configs = sorted(p.stem for p in (replication_dir(replication) / "configs").glob("*.yaml"))
    print(f"\nconfigs (bare names resolve to {replication.replace('.', '/')}/configs/): {', '.join(configs)}")
    print(f"\n`{prog} fit --help` lists every option.")


def run_command(replication: str, command: str, rest: list[str], prog: str) -> None:
    if command not in COMMANDS:
        raise ConfigError(f"unknown command {command!r}; use one of: {', '.join(COMMANDS)}")
    args = resolve_config_names(rest, replication_dir(replication) / "configs")
    parser, cfg = parse(replication, args, f"{prog} {command}")
    if command == "report":
        print(report(replication, cfg, plan_runs(parser, cfg, args)))
        return
    runs = fit(replication, parser, cfg, args)  # None after a dry run
    if runs is not None and is_rank_zero() and not os.environ.get(WORKER_ENV):  # workers leave it to the parent
        print(report(replication, cfg, runs))


def main(replication: str, argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = f"python -m {replication}"
    if not argv or argv[0] in ("-h", "--help"):
        usage(replication, prog)
        return 0
    if os.environ.get(WORKER_ENV):
        die_with_parent()
    try:
        with stop_on_signals():
            run_command(replication, argv[0], argv[1:], prog)
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
