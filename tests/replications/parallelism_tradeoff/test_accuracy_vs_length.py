"""The one-layer companion figure (accuracy_vs_length): its claims are decidable on the series the sweep
makes, hold on the pattern the paper's Fig. 3 implies for one layer, and fail on patterns that contradict it.

The oracle is published.yaml: a cell is "solved at one layer" exactly when its published minimum depth
is 1, so accuracies of 1.0 there and 0.0 elsewhere are what the paper predicts for this figure.
"""
from pathlib import Path

import pytest
import yaml

from common.figure import Claim, Figure
from common.published import load_published
from common.report import build_report

ROOT = Path(__file__).parents[3] / "replications" / "parallelism_tradeoff"
CONFIGS = sorted((ROOT / "configs").glob("accuracy_vs_length*.yaml"))
PUBLISHED = load_published(ROOT / "published.yaml")


def figure_and_cells(path):
    cfg = yaml.safe_load(path.read_text())
    d = cfg["figure"]
    figure = Figure(**{**d, "claims": [Claim(**c) for c in d["claims"]]})
    axes = {a["name"]: a["values"] for a in cfg["sweep"]["grid"]}
    assert "depth" not in axes  # a fixed-depth figure, not a search
    cells = [(g, a, n) for g in axes["group"] for a in axes["arch"] for n in axes["length"]]
    return figure, cells


def verdicts(figure, cells, accuracy):
    """Claim verdicts on records of accuracy(group, arch, n); a cell where it is None is left unmeasured."""
    records = [{"labels": {"group": g, "arch": a, "length": str(n), "seed": "0"},
                "final": {figure.y: accuracy(g, a, n)}, "history": []} for g, a, n in cells
               if accuracy(g, a, n) is not None]
    rep = build_report(figure, records, PUBLISHED, "paper", expected_runs=len(records))
    return [c["verdict"] for c in rep["claims"]]


def published_min_depth(group, arch, n):
    for v in PUBLISHED:
        if v.figure == "depth_vs_length" and v.series == f"{group}/{arch}" and int(v.x) == int(n):
            return v.y
    return None  # not plotted in Fig. 3 (A4xZ5/mamba at n = 20)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_claim_holds_on_the_one_layer_pattern_of_fig3(path):
    figure, cells = figure_and_cells(path)
    assert len(CONFIGS) == 2 and figure.y == "acc_seq@held_out"
    def one_layer(g, a, n):
        depth = published_min_depth(g, a, n)
        return None if depth is None else 1.0 if depth == 1 else 0.0
    paper = verdicts(figure, cells, one_layer)  # a claim needing an unplotted cell would be inconclusive
    assert paper == ["holds"] * len(figure.claims)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_claims_fail_on_patterns_that_contradict_the_paper(path):
    figure, cells = figure_and_cells(path)
    nothing = verdicts(figure, cells, lambda g, a, n: 0.0)  # every model under-trained
    assert nothing[:3] == ["fails"] * 3  # the LSTM control and both contrasts need successes
    everything = verdicts(figure, cells, lambda g, a, n: 1.0)  # no model needs more than one layer
    assert everything[1:3] == ["fails"] * 2 and everything[4] == "fails"
    # Z60 harder than A5 for one-layer Mamba at n = 6: only the Z60-vs-A5 prediction notices
    flipped = verdicts(figure, cells, lambda g, a, n: 0.5 if (g, a, n) == ("Z60", "mamba", 6) else
                       0.6 if (g, a, n) == ("A5", "mamba", 6) else 0.0)
    assert flipped[3] == "fails"
