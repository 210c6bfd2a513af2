import math

import pytest

from common.claims import evaluate
from common.figure import Figure
from common.report import Point, aggregate, claim_functions


def _series():
    return {"tf": {100: Point(0.2, 0, 1), 200: Point(0.95, 0, 1)}, "lstm": {100: Point(0.0, 0, 1), 200: Point(0.1, 0, 1)}}


def test_claim_verdicts():
    f = claim_functions(_series(), [])
    assert evaluate("last('tf') >= 0.9 and last('lstm') <= 0.2", f) == "holds"
    assert evaluate("at('lstm', 200) >= 0.5", f) == "fails"
    assert evaluate("at('mamba', 200) >= 0.5", f) == "inconclusive"
    assert evaluate("reach('tf', 0.9) * 2 <= reach('lstm', 0.9)", f) == "holds"  # lstm never reaches: inf
    assert f["reach"]("lstm", 0.9) == math.inf


@pytest.mark.parametrize("bad", ["__import__('os')", "at.__class__", "[x for x in ()]", "open('f')"])
def test_claims_reject_anything_but_arithmetic_and_known_functions(bad):
    with pytest.raises(ValueError):
        evaluate(bad, claim_functions(_series(), []))


def test_aggregate_averages_runs_that_share_a_series():
    fig = Figure(id="f", x="eval:len", y="acc_seq", series=["arch"])
    runs = [{"labels": {"arch": "tf", "seed": str(s)}, "history": [],
             "final": {"acc_seq@len=10": v, "acc_token@len=10": 1.0, "acc_seq@len=20": 0.5}} for s, v in [(0, 0.6), (1, 0.8)]]
    agg = aggregate(runs, fig)
    assert agg["tf"][10].mean == pytest.approx(0.7) and agg["tf"][10].n == 2 and agg["tf"][10].std == pytest.approx(0.1)
    assert agg["tf"][20].mean == 0.5


def test_claim_kind_is_shown_and_only_paper_claims_cite_the_paper():
    from common.figure import Claim
    from common.report import build_report, render_markdown

    fig = Figure(id="f", x="eval:len", y="acc_seq", series=["arch"], claims=[
        Claim("stated", "1 > 0", "Fig. 2, p. 5"), Claim("derived", "1 > 0", "Theorem 1", kind="prediction")])
    md = render_markdown(build_report(fig, [], [], "Some et al. 2024", 0), fig)
    assert "| stated | paper | holds | `1 > 0` | Some et al. 2024, Fig. 2, p. 5 |" in md
    assert "| derived | prediction | holds | `1 > 0` | Theorem 1 |" in md
    with pytest.raises(ValueError, match="kind"):
        Claim("x", "1", kind="guess")


def test_check_claims_say_they_hold_by_construction():
    from common.figure import Claim
    from common.report import build_report, render_markdown

    fig = Figure(id="f", x="eval:len", y="acc_seq", series=["arch"], claims=[
        Claim("bound", "1 > 0", "Fano", kind="check"), Claim("leak", "1 < 0", "Fano", kind="check")])
    md = render_markdown(build_report(fig, [], [], "Some et al. 2024", 0), fig)
    assert "| bound | check | holds (check) | `1 > 0` | Fano |" in md
    assert "| leak | check | FAILS (check: leak or noise) | `1 < 0` | Fano |" in md
