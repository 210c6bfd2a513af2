"""The command line shared by every replication: ``python -m replications.<paper> fit|report --config figN.yaml``
and ``python -m replications.<paper> reproduce --scale cpu|paper``.

``fit`` validates every run of a figure before training any, trains the runs not yet finished
(resuming interrupted ones from their last checkpoint), then prints the measured-vs-published table
and writes the plot. ``report`` does only the last step. ``reproduce`` does ``fit`` for every figure
of the paper at one scale, in one pool of workers, and writes the paper's REPORT.md. The jobs live in
their own modules: ``common.config`` (parse, plan, validate, build), ``common.runner`` (train serially
or in workers), ``common.reproduce`` and ``common.reporting``; this module routes a command to them.
"""
from __future__ import annotations

import os
import signal
import sys

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
from common.reporting import paper_name, replication_dir, report  # noqa: F401  (re-exported)
from common.reproduce import reproduce
from common.runner import figure_dir, fit, is_rank_zero, train_run  # noqa: F401  (re-exported)
from common.workers import WORKER_ENV, die_with_parent, stop_on_signals, train_in_workers  # noqa: F401

COMMANDS = {"fit": "train every run of a figure not yet finished, then report",
            "report": "aggregate finished runs into the measured-vs-published table and plot (--scale: REPORT.md)",
            "reproduce": "every figure of the paper at --scale cpu|paper (default cpu), then runs/<paper>/REPORT.md"}


def usage(replication: str, prog: str) -> None:
    print(f"usage: {prog} {{fit,report}} --config FIGURE.yaml [overrides]\n"
          f"       {prog} {{reproduce,report}} --scale cpu|paper [overrides]\n")
    for name, what in COMMANDS.items():
        print(f"  {name:8s} {what}")
    configs = sorted(p.stem for p in (replication_dir(replication) / "configs").glob("*.yaml"))
    print(f"\nconfigs (bare names resolve to {replication.replace('.', '/')}/configs/): {', '.join(configs)}")
    print(f"\n`{prog} fit --help` lists every option.")


def run_command(replication: str, command: str, rest: list[str], prog: str) -> None:
    if command not in COMMANDS:
        raise ConfigError(f"unknown command {command!r}; use one of: {', '.join(COMMANDS)}")
    if command == "reproduce" or (command == "report" and any(a.startswith("--scale") for a in rest)):
        reproduce(replication, rest, prog, train=command == "reproduce")
        return
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
