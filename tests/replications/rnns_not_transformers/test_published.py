"""published.yaml holds every bar of the IsTree figure and every point of Fig. 6, each with its source,
and the paper-scale claims are the paper's reading of its own figure: fed the published values, they hold."""
from pathlib import Path

import pytest

from common.cli import figure_from, parse
from common.published import load_published
from common.report import build_report

HERE = Path(__file__).parents[3] / "replications" / "rnns_not_transformers"
VALUES = load_published(HERE / "published.yaml")


def test_every_istree_bar_and_hotpotqa_point_is_there_once_with_its_source():
    ist = [v for v in VALUES if v.figure == "fig3"]
    hot = [v for v in VALUES if v.figure == "fig6"]
    assert len(ist) == 108 and len(hot) == 24
    assert {(v.series, v.x) for v in ist} == {(f"{m}-{s}/{f}", n) for m in ("transformer", "mamba", "hybrid")
                                             for s in ("0.5m", "1m", "2m") for f in ("no_cot", "cot", "retrieval")
                                             for n in (16, 32, 64, 128)}
    assert {(v.series, v.x) for v in hot} == {(f"{p}/{m}", n) for p in ("required", "free")
                                             for m in ("transformer", "hybrid", "rnn") for n in (2, 4, 6, 8)}
    for v in ist:
        assert "rev. 2024-12-10" in v.source and ("Fig. 5" if v.series.startswith("hybrid") else "Fig. 2") in v.source
        assert v.how == "plot" and v.uncertainty == 0.003 and 0.4 < v.y <= 1.0
    for v in hot:
        k = round(v.y * 350)
        assert abs(v.y - k / 350) < 1e-6 and v.note == f"exact: {k}/350" and "Fig. 6" in v.source
    # Spot checks against the paper's figure, one per family.
    get = {(v.series, v.x): v.y for v in VALUES}
    assert get[("transformer-0.5m/cot", 128)] == 0.690 and get[("mamba-0.5m/cot", 16)] == 0.838
    assert get[("hybrid-2m/cot", 128)] == 0.993 and get[("required/rnn", 6)] == pytest.approx(185 / 350)


def as_results(figure, rename):
    """The published cells as if they were one finished run each (labels from the measured series name)."""
    out = []
    for v in VALUES:
        if v.figure != "fig3" or v.series not in rename:
            continue
        model, fmt = rename[v.series].split("/")
        out.append({"labels": {"n": str(v.x), "model": model, "format": fmt}, "history": [],
                    "final": {f"acc_seq@n={v.x}": v.y}})
    return out


@pytest.mark.parametrize("config", ["fig3", "fig3_sizes", "fig3_small"])
def test_paper_claims_hold_on_the_published_values(config):
    _, cfg = parse("replications.rnns_not_transformers", ["--config", str(HERE / "configs" / f"{config}.yaml")], "t")
    fig = figure_from(cfg)
    chosen = fig.published_series
    rename = chosen if isinstance(chosen, dict) else {s: s for s in (chosen or {v.series for v in VALUES})}
    rep = build_report(fig, as_results(fig, rename), VALUES, "P", 0)
    assert rep["claims"] and all(c["verdict"] == "holds" for c in rep["claims"]), \
        [c["claim"] for c in rep["claims"] if c["verdict"] != "holds"]
    assert all(r["status"] == "agrees" and r["delta"] == 0 for r in rep["rows"])
