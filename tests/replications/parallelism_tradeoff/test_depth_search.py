"""The depth search: the minimum-depth logic on given results, the claims of the figure configs being
decidable on the series they produce, and (slow) a tiny search trained end to end through the CLI."""
import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from common.cli import figure_from, parse
from common.published import load_published
from common.report import build_report
from common.sweep import Run
from replications.parallelism_tradeoff import depth_search
from replications.parallelism_tradeoff.depth_search import METRIC, main, min_depth_records, outcome

ROOT = Path(__file__).parents[3] / "replications" / "parallelism_tradeoff"
CONFIGS = sorted((ROOT / "configs").glob("depth_vs_length*.yaml"))


def chain(*depths):
    return [Run(i, {"group": "A5", "depth": str(d)}, {}) for i, d in enumerate(depths)]


def res(acc):
    return {"final": {METRIC: acc}}


def test_minimum_depth_is_the_first_success_and_cap_plus_one_when_none():
    c = chain(1, 2, 3)
    assert outcome(c, {0: res(0.5), 1: res(0.95), 2: res(1.0)}) == (2, None)
    assert outcome(c, {0: res(0.9)}) == (1, None)  # the threshold itself counts as success
    assert outcome(c, {0: res(0.1), 1: res(0.2), 2: res(0.89)}) == (4, None)
    assert outcome(c, {0: res(0.1)}) == (None, c[1])  # undecided: depth 2 is next
    assert outcome(c, {}) == (None, c[0])


def test_records_carry_the_labels_without_depth():
    runs = chain(1, 2) + [Run(2, {"group": "Z60", "depth": "1"}, {}), Run(3, {"group": "Z60", "depth": "2"}, {})]
    records, n = min_depth_records(runs, {0: res(0.0), 1: res(0.99), 2: res(0.2)})
    assert n == 2 and records == [{"labels": {"group": "A5"}, "final": {"min_depth": 2}, "history": []}]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_claim_and_published_value_is_decidable_on_the_series_the_figure_makes(path):
    """Fill every (group, arch, length) of the figure with a depth: each claim must then hold or fail."""
    cfg = yaml.safe_load(path.read_text())
    axes = {a["name"]: a["values"] for a in cfg["sweep"]["grid"]}
    records = [{"labels": {"group": g, "arch": a, "length": str(n), "seed": "0"}, "final": {"min_depth": 1}}
               for g in axes["group"] for a in axes["arch"] for n in axes["length"]]
    _, ns = parse("replications.parallelism_tradeoff", ["--config", str(path)], "test")
    figure = figure_from(ns)
    published = load_published(ROOT / "published.yaml")
    rep = build_report(figure, records, published, "paper", expected_runs=len(records))
    assert [c["verdict"] for c in rep["claims"] if c["verdict"] not in ("holds", "fails")] == []
    if figure.scale == "paper":  # every published value has a measured counterpart at paper scale
        assert rep["rows"] and all(r["status"] in ("agrees", "differs") for r in rep["rows"])


def tiny_config(tmp_path, depths=(1, 2)):
    cfg = yaml.safe_load((ROOT / "configs" / "depth_vs_length_cpu.yaml").read_text())
    grid = cfg["sweep"]["grid"]
    grid[0]["values"], grid[1]["values"], grid[3]["values"], grid[4]["values"] = ["Z60"], [3], [0], list(depths)
    grid[2]["values"] = {"transformer": copy.deepcopy(grid[2]["values"]["transformer"]),
                         "lstm": copy.deepcopy(grid[2]["values"]["lstm"])}
    grid[2]["values"]["transformer"]["model.init_args.model"]["init_args"].update(d_model=8, n_head=2, d_ff=16)
    grid[2]["values"]["lstm"]["model.init_args.model"]["init_args"].update(d_model=8)
    cfg["sweep"]["workers"] = 1
    made = {"Z60/transformer", "Z60/lstm"}  # claims must name series the sweep makes: keep those about Z60
    cfg["figure"]["claims"] = [c for c in cfg["figure"]["claims"]
                               if set(re.findall(r"'([^']+/[^']+)'", c["holds_if"])) <= made]
    cfg["data"]["init_args"].update(batch_size=4, eval_examples=6, eval_batch_size=6)
    cfg["trainer"].update(max_steps=2, val_check_interval=1, logger=False, enable_model_summary=False)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, cfg


def trained(fig_dir):
    return sorted((tuple(sorted(r["labels"].items())), r["steps"])
                  for r in (json.loads(p.read_text()) for p in fig_dir.glob("*/result.json")))


@pytest.mark.slow
def test_tiny_search_stops_at_the_first_success_and_reports_beside_the_published_depths(tmp_path, monkeypatch):
    path, cfg = tiny_config(tmp_path)
    runs = tmp_path / "runs"
    fig_dir = runs / "parallelism_tradeoff" / cfg["figure"]["id"]
    monkeypatch.setattr(depth_search, "SUCCESS", 0.0)  # every run succeeds: only depth 1 is trained
    assert main("replications.parallelism_tradeoff", ["fit", "--config", str(path), "--sweep.runs_dir", str(runs)]) == 0
    assert sorted(dict(labels)["depth"] for labels, _ in trained(fig_dir)) == ["1", "1"]
    md = (fig_dir / "report.md").read_text()
    assert "Runs finished: 2 of 2" in md and (fig_dir / "depth_vs_length_cpu.png").exists()
    assert "| Z60/lstm | 3 | 1.000 | 0.000 | 1 |" in md and "| Z60/transformer | 3 | 1.000 | 0.000 | 1 |" in md
    assert "Published values at paper scale (context" in md  # a CPU figure shows them, never compares
    assert "Sequence accuracy by depth" in md

    monkeypatch.setattr(depth_search, "SUCCESS", 1.01)  # nothing succeeds: every depth, then "not solved"
    assert main("replications.parallelism_tradeoff", ["fit", "--config", str(path), "--sweep.runs_dir", str(runs)]) == 0
    assert sorted(dict(labels)["depth"] for labels, _ in trained(fig_dir)) == ["1", "1", "2", "2"]
    assert all(steps == 2 for _, steps in trained(fig_dir))
    md = (fig_dir / "report.md").read_text()
    assert "| Z60/lstm | 3 | 3.000 | 0.000 | 1 |" in md
    assert md.count("not solved (3)") == 2

    before = sorted(p.stat().st_mtime for p in fig_dir.glob("*/result.json"))  # resumed: nothing retrained
    assert main("replications.parallelism_tradeoff", ["report", "--config", str(path), "--sweep.runs_dir", str(runs)]) == 0
    assert main("replications.parallelism_tradeoff", ["fit", "--config", str(path), "--sweep.runs_dir", str(runs)]) == 0
    assert sorted(p.stat().st_mtime for p in fig_dir.glob("*/result.json")) == before
    # one named run (as an array job would): the shared CLI trains it, the min-depth report stays ours
    assert main("replications.parallelism_tradeoff", ["fit", "--config", str(path), "--sweep.runs_dir", str(runs),
                                                       "--sweep.only", "arch=lstm,depth=2"]) == 0
    assert "| Z60/lstm | 3 | 3.000 | 0.000 | 1 |" in (fig_dir / "report.md").read_text()


@pytest.mark.slow
def test_tiny_search_trains_its_rounds_in_worker_processes(tmp_path, monkeypatch):
    """With sweep.workers > 1 each run trains in a child process of the shared CLI, which measures the
    sequence accuracy (the figure's min_depth is the parent's, derived afterwards)."""
    path, cfg = tiny_config(tmp_path)
    cfg["sweep"]["workers"] = 2
    path.write_text(yaml.safe_dump(cfg))
    runs = tmp_path / "runs"
    fig_dir = runs / "parallelism_tradeoff" / cfg["figure"]["id"]
    monkeypatch.setattr(depth_search, "SUCCESS", 1.01)  # nothing succeeds: two rounds of two children
    assert main("replications.parallelism_tradeoff", ["fit", "--config", str(path), "--sweep.runs_dir", str(runs)]) == 0
    assert sorted(dict(labels)["depth"] for labels, _ in trained(fig_dir)) == ["1", "1", "2", "2"]
    assert (fig_dir / "report.md").read_text().count("not solved (3)") == 2


def test_a_figure_with_a_depth_axis_must_plot_min_depth(tmp_path, capsys):
    path, cfg = tiny_config(tmp_path)
    cfg["figure"]["y"] = "acc_seq@held_out"
    path.write_text(yaml.safe_dump(cfg))
    assert main("replications.parallelism_tradeoff", ["report", "--config", str(path), "--sweep.runs_dir",
                                                       str(tmp_path / "runs")]) == 2
    assert "plots min_depth" in capsys.readouterr().err
