"""Report pieces for scaling figures: steps to a threshold per run, medians, log-log slopes, claims on another y."""
import math

import pytest

from common.claims import evaluate
from common.figure import Figure
from common.published import PublishedValue
from common.report import Point, aggregate, build_report, claim_functions, first_step, loglog_slope, median_point, render_markdown
from common.validate import check_figure_data


def run(n, seed, accs, every=10):
    history = [{"step": every * (i + 1), "samples": 0, "metrics": {"acc@fresh": a}} for i, a in enumerate(accs)]
    return {"labels": {"n": str(n), "seed": str(seed)}, "final": {}, "history": history}


def test_first_step_is_the_first_evaluation_at_the_threshold_or_inf():
    r = run(10, 0, [0.5, 0.6, 0.99, 0.98, 1.0])
    assert first_step(r, "acc@fresh", 0.99) == 30
    assert first_step(r, "acc@fresh", 0.55) == 20
    assert first_step(r, "acc@fresh", 1.01) == math.inf
    assert first_step(r, "loss@fresh", 0.5) == math.inf


def test_median_point_and_its_half_interquartile_range():
    p = median_point([1.0, 2.0, 3.0, 100.0])
    assert (p.mean, p.n) == (2.5, 4) and p.std == pytest.approx((27.25 - 1.75) / 2)
    q = median_point([10.0, 20.0, math.inf])
    assert q.mean == 20.0 and q.std == math.inf
    assert median_point([7.0]) == Point(7.0, 0.0, 1)


def test_loglog_slope_recovers_a_power_law_and_refuses_infinite_points():
    assert loglog_slope({x: 3 * x ** 2.0 for x in (10, 20, 40)}) == pytest.approx(2.0)
    assert loglog_slope({10: 5.0, 20: 5.0}) == pytest.approx(0.0)
    for bad in ({10: 5.0}, {10: 5.0, 20: math.inf}, {10: 0.0, 20: 1.0}):
        with pytest.raises(Exception, match="slope needs"):
            loglog_slope(bad)


def scaling_figure(**kw):
    return Figure(id="f", x="axis:n", y="first_step:acc@fresh>=0.99", series=[], average="median", slopes=True, **kw)


def test_median_of_steps_to_threshold_slopes_and_claims_on_another_y():
    # Steps to 99% grow as n^2 in medians (10 -> 20, 20 -> 80); seed 2 never reaches at n=20 (inf, not the median).
    results = [run(10, 0, [0.5, 0.99]), run(10, 1, [0.6, 0.99]), run(10, 2, [0.5, 0.5, 0.99]),
               run(20, 0, [0.5] * 7 + [0.99]), run(20, 1, [0.5] * 6 + [0.7, 0.99]), run(20, 2, [0.5] * 9)]
    fig = scaling_figure()
    series = aggregate(results, fig)["all"]
    assert {x: p.mean for x, p in series.items()} == {10: 20, 20: 80}
    published = [PublishedValue("f", "all", 10, 5.0, "Fig. 1", "plot"), PublishedValue("f", "all", 20, 10.0, "Fig. 1", "plot")]
    fig.claims = []
    rep = build_report(fig, results, published, "paper", expected_runs=6)
    assert rep["slopes"] == [{"series": "all", "measured": pytest.approx(2.0), "published": pytest.approx(1.0)}]
    assert "| all | 2.00 | 1.00 |" in render_markdown(rep, fig) and "median over runs" in render_markdown(rep, fig)
    f = claim_functions(rep["series"], published, lambda y: aggregate(results, Figure(**{**fig.__dict__, "y": y})))
    assert evaluate("slope('all') > published_slope('all')", f) == "holds"
    assert f["at"]("all", 20, "first_step:acc@fresh>=0.55") == 80  # median of 80, 70, inf
    assert f["at"]("all", 10, "first_step:acc@fresh>=0.55") == 20  # median of 20, 10, 30
    assert evaluate("at('all', 20, 'first_step:acc@fresh>=0.55') / at('all', 20) >= 0.9", f) == "holds"
    assert evaluate("at('all', 10, 'first_step:acc@fresh>=0.55') < at('all', 10)", f) == "fails"
    assert evaluate("slope('all', 'first_step:acc@fresh>=1.5') > 0", f) == "inconclusive"


def test_figure_rejects_an_unknown_average():
    with pytest.raises(ValueError, match="figure.average='mode'"):
        Figure(average="mode")


class DM:
    def eval_set_names(self, stage):
        return ["fresh"]


def test_first_step_y_is_checked_against_the_validation_metrics():
    check_figure_data(scaling_figure(), DM(), ("acc", "loss"))
    with pytest.raises(ValueError, match="'accuracy@fresh' in first_step: is not a validation metric"):
        check_figure_data(Figure(x="axis:n", y="first_step:accuracy@fresh>=0.99"), DM(), ("acc", "loss"))
    with pytest.raises(ValueError, match="write first_step:<validation metric>>=<threshold>, with x=axis"):
        check_figure_data(Figure(x="step", y="first_step:acc@fresh>=0.99"), DM(), ("acc", "loss"))
    check_figure_data(Figure(x="step", y="rho"), DM(), ("acc", "loss"), ("rho",))


def test_also_y_metrics_are_aggregated_and_plotted_in_panels_of_their_own(tmp_path):
    results = []
    for label in ("parity", "random"):
        for seed in (0, 1):
            history = [{"step": s, "samples": 0, "metrics": {"rho": s / 100 * (2 if label == "parity" else 1),
                                                             "acc@fresh": 0.5, "loss@fresh": 1.0}} for s in (100, 200)]
            results.append({"labels": {"labels": label, "seed": str(seed)}, "final": {}, "history": history})
    fig = Figure(id="hp", x="step", y="rho", series=["labels"], also_y=["acc@fresh", "loss@fresh"])
    rep = build_report(fig, results, [], "paper", expected_runs=4)
    assert rep["also"]["acc@fresh"]["parity"][200].mean == 0.5 and rep["series"]["parity"][200].mean == 4.0
    from common.report import write_report
    write_report(rep, fig, [], tmp_path)
    assert (tmp_path / "hp.png").stat().st_size > 1000
    check_figure_data(fig, DM(), ("acc", "loss"), ("rho",))
    with pytest.raises(ValueError, match="figure.also_y names 'accuracy@fresh', which is not measured"):
        check_figure_data(Figure(x="step", y="rho", also_y=["accuracy@fresh"]), DM(), ("acc", "loss"), ("rho",))


def test_report_header_says_what_is_averaged_and_which_spread():
    fig = Figure(id="r", x="step", y="rho", series=[])
    md = render_markdown(build_report(fig, [], [], "Some et al. 2024", 0), fig)
    assert "micro-averaged" not in md and "population form" in md
    fig = Figure(id="a", x="step", y="acc_seq", series=[])
    md = render_markdown(build_report(fig, [], [], "Some et al. 2024", 0), fig)
    assert "`acc_seq` is micro-averaged over each run's evaluation examples" in md
