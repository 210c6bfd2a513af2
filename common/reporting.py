"""Reports from finished runs: one figure's measured-vs-published table, claims and plot, and a paper's
REPORT.md that gathers all of its figures."""
from __future__ import annotations

import importlib
import time
from pathlib import Path

import yaml
from jsonargparse import Namespace

from common.config import figure_from
from common.errors import ConfigError
from common.io import atomic_write_text
from common.published import load_published
from common.report import build_report, write_report
from common.results import RESULT_FILE, load_result, run_dir_name
from common.runner import figure_dir
from common.sweep import Run, run_id


def replication_dir(replication: str) -> Path:
    """The folder of a replication package (its configs/ and published.yaml live there)."""
    return Path(importlib.import_module(replication).__file__).parent


def paper_name(replication: str) -> str:
    """The paper's citation line from the replication's published.yaml (its package name if none)."""
    path = replication_dir(replication) / "published.yaml"
    doc = yaml.safe_load(path.read_text()) if path.exists() else None
    return doc.get("paper", replication) if isinstance(doc, dict) else replication


def finished_results(replication: str, cfg: Namespace, runs: list[Run]) -> list[dict]:
    """The result files of the figure's finished runs, each checked to come from its run's config."""
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
    return results


def figure_report(replication: str, cfg: Namespace, runs: list[Run]) -> tuple[str, dict, list[dict]]:
    """(markdown, report, results) of one figure; writes report.md, report.csv and the plot beside its runs."""
    results = finished_results(replication, cfg, runs)
    published = load_published(replication_dir(replication) / "published.yaml")
    figure = figure_from(cfg)
    rep = build_report(figure, results, published, paper_name(replication), expected_runs=len(runs))
    return write_report(rep, figure, published, figure_dir(cfg, replication)), rep, results


def report(replication: str, cfg: Namespace, runs: list[Run]) -> str:
    """The figure's report as printed by ``fit`` and ``report``: its markdown and where the files went."""
    md, _, _ = figure_report(replication, cfg, runs)
    fig_dir, fid = figure_dir(cfg, replication), cfg.figure.id
    return md + f"\nWritten: {fig_dir / 'report.md'}, {fig_dir / 'report.csv'}, {fig_dir / (fid + '.png')}\n"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def paper_report(replication: str, scale: str, figures: list[tuple[Namespace, list[Run]]], made_by: str,
                 out: Path, wall_s: float) -> str:
    """REPORT.md of a paper at one scale: a summary of every claim, then each figure's plot, table and claims,
    its training time and the provenance of its runs. Written to ``out``; returns the text."""
    sections, claims, n_done, n_runs, train_s = [], [], 0, 0, 0.0
    for cfg, runs in figures:
        md, rep, results = figure_report(replication, cfg, runs)
        fid = cfg.figure.id
        n_done, n_runs = n_done + len(results), n_runs + len(runs)
        fig_train = sum(float(r.get("wall_time_s") or 0) for r in results)
        train_s += fig_train
        claims += [[fid, c["claim"], c["kind"], c["verdict"]] for c in rep["claims"]]
        prov = sorted({(r["provenance"].get("git_commit"), r["provenance"].get("torch"), r["provenance"].get("device"))
                       for r in results if r.get("provenance")}, key=str)
        made = "; ".join(f"commit {c}, torch {t}, {d}" for c, t, d in prov) or "no finished run"
        plot = figure_dir(cfg, replication).relative_to(out.parent) / f"{fid}.png"
        body = md.split("\n", 1)
        sections.append("\n".join([body[0], "", f"![{fid}]({plot.as_posix()})", "",
                                   f"Training time: {_duration(fig_train)} over {len(results)} run(s). Made with: {made}.",
                                   "", body[1] if len(body) > 1 else ""]))
    head = [f"# {paper_name(replication)}: every figure at {scale} scale", "",
            f"Made by {made_by}. Figures: {len(figures)}; runs "
            f"finished: {n_done} of {n_runs}; training time summed over runs: {_duration(train_s)}; wall time of "
            f"this command: {_duration(wall_s)}; written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    if claims:
        tally = {"holds": 0, "fails": 0, "inconclusive": 0}  # a check's verdict counts as its plain one
        for c in claims:
            key = c[3].split(" (")[0].lower()
            tally[key] = tally.get(key, 0) + 1
        head += ["Claims: " + ", ".join(f"{n} {v}" for v, n in tally.items() if n) + ".", ""]
        head += ["| figure | claim | kind | verdict |", "|---|---|---|---|"]
        head += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in claims]
        head.append("")
    text = "\n".join(head + sections) + "\n"
    atomic_write_text(out, text)
    return text
