"""Minimum depth by search: train depth 1, 2, ... of each (group, model, length, seed) until one succeeds.

A figure whose sweep has an axis named ``depth`` (last, after the model axis, so that it sets
``n_layer`` inside the chosen model) is a set of searches: the runs that share every label
but ``depth``. ``fit`` trains them in rounds: each round trains, for every search not yet
decided, its next depth (several at once with ``sweep.workers``), through the shared CLI's
``train_run`` / ``train_in_workers``; a search stops at its first success, and reads "not
solved" (the cap + 1) when every depth failed. Re-running ``fit`` resumes where it stopped.

Success, as in the paper (Merrill, Petty & Sabharwal 2024, Fig. 3): at least 90% of the
held-out test sequences right at every position (``acc_seq@held_out`` >= 0.9).

``report`` turns the searches into one record per search with ``min_depth`` and hands them
to the shared report (``common.report``: table against ``published.yaml``, claims, plot);
the figure block of such a config therefore has ``y: min_depth``. The sequence accuracy of
every run trained is appended to the report, so near misses stay visible.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from common import cli
from common.io import atomic_write_text
from common.published import load_published
from common.report import build_report, write_report
from common.results import load_result, run_dir_name

DEPTH_AXIS = "depth"
METRIC = "acc_seq@held_out"
SUCCESS = 0.9


def has_depth_axis(cfg) -> bool:
    return any(a["name"] == DEPTH_AXIS for a in cfg.sweep.as_dict().get("grid") or [])


def searches(runs: list) -> dict[tuple, list]:
    """Runs grouped by every label but the depth, each group sorted by depth."""
    out: dict[tuple, list] = {}
    for run in runs:
        try:
            int(run.labels[DEPTH_AXIS])
        except ValueError:
            raise cli.ConfigError(f"sweep axis {DEPTH_AXIS!r} must list whole numbers of layers; "
                                  f"got {run.labels[DEPTH_AXIS]!r}") from None
        key = tuple((k, v) for k, v in run.labels.items() if k != DEPTH_AXIS)
        out.setdefault(key, []).append(run)
    for chain in out.values():
        chain.sort(key=lambda r: int(r.labels[DEPTH_AXIS]))
    return out


def solved(result: dict) -> bool:
    return result["final"].get(METRIC, 0.0) >= SUCCESS


def outcome(chain: list, results: dict) -> tuple[int | None, object]:
    """(minimum depth or cap + 1 when none succeeded, None), or (None, the next run to train)."""
    for run in chain:
        r = results.get(run.index)
        if r is None:
            return None, run
        if solved(r):
            return int(run.labels[DEPTH_AXIS]), None
    return int(chain[-1].labels[DEPTH_AXIS]) + 1, None


def load_results(runs: list, fig_dir: Path) -> dict[int, dict]:
    out = {}
    for run in runs:
        try:
            r = load_result(fig_dir / run_dir_name(run.labels, run.run_id))
        except ValueError as e:
            raise cli.ConfigError(str(e)) from None
        if r is not None and r.get("run_id") == run.run_id:
            out[run.index] = r
    return out


def fit(replication: str, parser, cfg, argv: list[str]) -> None:
    """Train the searches round by round, then report."""
    runs = cli.plan_runs(parser, cfg, argv)
    chains = searches(runs)
    fig_dir = cli.figure_dir(cfg, replication)
    if cfg.sweep.workers < 1:
        raise cli.ConfigError(f"sweep.workers={cfg.sweep.workers} must be >= 1")
    for run in runs:  # validate every run before training any
        cli.check_buildable(parser, run)
    for round_no in range(1, max(len(c) for c in chains.values()) + 1):
        results = load_results(runs, fig_dir)
        pending = [nxt for chain in chains.values() for _, nxt in [outcome(chain, results)] if nxt is not None]
        if not pending:
            break
        print(f"depth search, round {round_no}: {len(pending)} of {len(chains)} searches undecided")
        todo = [(run, fig_dir / run_dir_name(run.labels, run.run_id)) for run in pending]
        if cfg.sweep.workers > 1 and len(todo) > 1:  # each child trains one run, measuring METRIC
            cli.train_in_workers(replication, argv + ["--figure.y", METRIC], todo, len(runs), cfg.sweep.workers)
        else:
            for run, run_dir in todo:
                print(f"[{run.index + 1}/{len(runs)}] {run.name}: training in {run_dir}")
                result = cli.train_run(parser, run, run_dir, cfg.sweep.checkpoint_every)
                if result is not None:
                    print(f"[{run.index + 1}/{len(runs)}] {run.name}: {result['steps']} steps, "
                          f"{METRIC} {result['final'].get(METRIC, float('nan')):.3f}")
    if cli.is_rank_zero():
        print(report(replication, parser, cfg, argv))


def min_depth_records(runs: list, results: dict[int, dict]) -> tuple[list[dict], int]:
    """One record per decided search: its labels (without depth) and ``final: {min_depth: d}``."""
    chains = searches(runs)
    records = []
    for key, chain in chains.items():
        depth, _ = outcome(chain, results)
        if depth is not None:
            records.append({"labels": dict(key), "final": {"min_depth": depth}, "history": []})
    return records, len(chains)


def accuracy_table(runs: list, results: dict[int, dict]) -> str:
    """Markdown: sequence accuracy of every trained run, one row per search, one column per depth."""
    chains = searches(runs)
    depths = sorted({int(r.labels[DEPTH_AXIS]) for r in runs})
    axes = [k for k in runs[0].labels if k != DEPTH_AXIS]
    lines = [f"### Sequence accuracy by depth ({METRIC}; success >= {SUCCESS}; blank: not trained)", "",
             "| " + " | ".join(axes + [f"depth {d}" for d in depths] + ["min depth"]) + " |",
             "|" + "---|" * (len(axes) + len(depths) + 1)]
    for key, chain in chains.items():
        by_depth = {int(r.labels[DEPTH_AXIS]): results.get(r.index) for r in chain}
        cells = [f"{by_depth[d]['final'].get(METRIC, float('nan')):.3f}" if by_depth.get(d) else "" for d in depths]
        depth, _ = outcome(chain, results)
        shown = "" if depth is None else (f"not solved ({depth})" if depth > max(by_depth) else str(depth))
        lines.append("| " + " | ".join([v for _, v in key] + cells + [shown]) + " |")
    return "\n".join(lines) + "\n"


def report(replication: str, parser, cfg, argv: list[str]) -> str:
    runs = cli.plan_runs(parser, cfg, argv)
    fig_dir = cli.figure_dir(cfg, replication)
    results = load_results(runs, fig_dir)
    records, n_searches = min_depth_records(runs, results)
    figure = cli.figure_from(cfg)
    if figure.y != "min_depth":
        raise cli.ConfigError(f"figure.y={figure.y!r}: a figure with a '{DEPTH_AXIS}' sweep axis plots min_depth")
    rep_dir = cli.replication_dir(replication)
    published = load_published(rep_dir / "published.yaml")
    paper = (yaml.safe_load((rep_dir / "published.yaml").read_text()) or {}).get("paper", replication)
    rep = build_report(figure, records, published, paper, expected_runs=n_searches)
    md = write_report(rep, figure, published, fig_dir)
    md += (f"\nEach of the {n_searches} \"runs\" above is one depth search ({len(results)} of {len(runs)} "
           f"trainings done; a search stops at its first depth with {METRIC} >= {SUCCESS}).\n\n"
           + accuracy_table(runs, results))
    atomic_write_text(fig_dir / "report.md", md)
    return md + f"\nWritten: {fig_dir / 'report.md'}, {fig_dir / 'report.csv'}, {fig_dir / (figure.id + '.png')}\n"


def main(replication: str, argv: list[str] | None = None) -> int:
    """The shared CLI, with ``fit`` and ``report`` of figures that have a depth axis done by search.

    Dry runs and figures without a depth axis go to ``common.cli.main`` unchanged, and so do the
    ``sweep.workers`` children that train one run each. ``fit --sweep.only ...`` trains exactly the
    runs named (e.g. one per array job, every depth), then prints the min-depth report.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("fit", "report") or os.environ.get(cli.WORKER_ENV):
        return cli.main(replication, argv)
    try:
        args = cli.resolve_config_names(argv[1:], cli.replication_dir(replication) / "configs")
        parser, cfg = cli.parse(replication, args, f"python -m {replication} {argv[0]}")
        if not has_depth_axis(cfg) or cfg.sweep.dry_run:
            return cli.main(replication, argv)
        if argv[0] == "fit" and cfg.sweep.only not in (None, ""):  # train exactly the runs named, no search
            os.environ[cli.WORKER_ENV] = "1"  # the shared report knows no min_depth: skip it, print ours
            try:  # the runs measure METRIC; min_depth is derived from them afterwards, by report()
                code = cli.main(replication, argv + ["--figure.y", METRIC])
            finally:
                os.environ.pop(cli.WORKER_ENV, None)
            if code:
                return code
        if argv[0] == "fit" and cfg.sweep.only in (None, ""):
            fit(replication, parser, cfg, args)
        else:
            print(report(replication, parser, cfg, args))
    except cli.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
