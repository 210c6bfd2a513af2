"""Published beside measured: every published cell laid out, measured ones with their difference, the
rest saying so; CPU figures show published cells as context only; report.csv keeps numbers in columns."""
import csv
import io

import matplotlib

matplotlib.use("Agg")

from common.figure import Claim, Figure  # noqa: E402
from common.published import PublishedValue  # noqa: E402
from common.report import build_report, plot, render_csv, render_markdown  # noqa: E402

PUB = [PublishedValue(figure="f", series=f"{m}-2m/{fmt}", x=x, y=y, source=f"Fig. 2, {m}", how="plot",
                      uncertainty=0.003)
       for m, fmt, x, y in [("tf", "cot", 16, 1.0), ("tf", "cot", 32, 0.9), ("rnn", "cot", 16, 0.8),
                            ("rnn", "cot", 32, 0.5), ("tf", "cot", 128, 0.7)]]


def result(model, n, acc, seed=0):
    return {"labels": {"n": str(n), "seed": str(seed), "model": model, "format": "cot"}, "history": [],
            "final": {f"acc_seq@n={n}": acc}}


def figure(**kw):
    base = dict(id="f", x="eval:n", y="acc_seq", series=["model", "format"], scale="paper",
                published_series={"tf-2m/cot": "tf/cot", "rnn-2m/cot": "rnn/cot"}, published_x=[16, 32])
    return Figure(**{**base, **kw})


def test_partial_results_lay_out_every_published_cell_with_the_difference_where_measured():
    results = [result("tf", 16, 0.98, 0), result("tf", 16, 0.96, 1), result("rnn", 32, 0.61)]
    rep = build_report(figure(), results, PUB, "Paper 2025", expected_runs=8)
    rows = {(r["series"], r["x"]): r for r in rep["rows"]}
    assert set(rows) == {("tf/cot", 16), ("tf/cot", 32), ("rnn/cot", 16), ("rnn/cot", 32)}  # x=128 not chosen
    assert rows[("tf/cot", 16)]["measured_mean"] == 0.97 and rows[("tf/cot", 16)]["runs"] == 2
    assert abs(rows[("tf/cot", 16)]["delta"] - (-0.03)) < 1e-9 and rows[("tf/cot", 16)]["status"] == "agrees"
    assert abs(rows[("rnn/cot", 32)]["delta"] - 0.11) < 1e-9 and rows[("rnn/cot", 32)]["status"] == "differs"
    assert rows[("tf/cot", 32)]["status"] == "not measured" and rows[("tf/cot", 32)]["measured_mean"] is None
    md = render_markdown(rep, figure())
    assert "Runs finished: 3 of 8" in md and "2 of 4 published cells measured" in md
    assert "| tf/cot (published: tf-2m/cot) | 1.000 / 0.970 ± 0.010 (-0.030) | 0.900 / not run |" in md
    assert "| rnn/cot (published: rnn-2m/cot) | 0.800 / not run | 0.500 / 0.610 (+0.110) |" in md


def test_csv_keeps_published_and_measured_values_in_their_own_columns():
    rep = build_report(figure(claims=[Claim("gap", "at('tf/cot', 16) - at('rnn/cot', 32) >= 0.3", "Fig. 2")]),
                       [result("tf", 16, 0.97), result("rnn", 32, 0.61), result("rnn", 6, 0.2)], PUB, "P", 3)
    rows = list(csv.DictReader(io.StringIO(render_csv(rep))))
    cell = next(r for r in rows if r["kind"] == "published" and r["series"] == "tf-2m/cot" and r["x"] == "16")
    assert float(cell["published"]) == 1.0 and float(cell["measured"]) == 0.97 and float(cell["delta"]) == -0.03
    assert float(cell["published_uncertainty"]) == 0.003 and "Fig. 2, tf" in cell["source"]
    missing = next(r for r in rows if r["kind"] == "published" and r["series"] == "tf-2m/cot" and r["x"] == "32")
    assert missing["measured"] == "" and missing["status"] == "not measured"
    extra = next(r for r in rows if r["kind"] == "measured")  # a measured point no published cell covers
    assert (extra["series"], extra["x"], float(extra["measured"])) == ("rnn/cot", "6", 0.2)
    claim = next(r for r in rows if r["kind"].startswith("claim"))
    assert claim["status"] == "holds" and claim["text"] == "gap" and claim["published"] == ""


def test_cpu_figure_shows_published_cells_as_context_never_compared(tmp_path):
    fig = figure(scale="cpu", published_series=["tf-2m/cot", "rnn-2m/cot"], panels=True)
    rep = build_report(fig, [result("tf", 6, 0.9), result("rnn", 6, 0.5)], PUB, "P", 2)
    assert {r["status"] for r in rep["rows"]} == {"other scale (context)"}
    assert all(r["delta"] is None for r in rep["rows"])
    md = render_markdown(rep, fig)
    assert "context: another scale, not compared" in md and "Measured against published" not in md
    plot(rep, fig, PUB, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_panel_plot_puts_published_bars_beside_measured_ones(tmp_path, monkeypatch):
    import matplotlib.axes

    bars = []
    real = matplotlib.axes.Axes.bar
    monkeypatch.setattr(matplotlib.axes.Axes, "bar",
                        lambda self, x, h, w, **k: bars.append((self.get_title(), round(x, 3), h, k.get("hatch")))
                        or real(self, x, h, w, **k))
    fig = figure(panels=True)
    rep = build_report(fig, [result("tf", 16, 0.97)], PUB, "P", 4)
    plot(rep, fig, PUB, tmp_path / "f.png")
    published = [b for b in bars if b[3] == "///"]
    measured = [b for b in bars if b[3] is None]
    assert sorted(b[2] for b in published) == [0.5, 0.8, 0.9, 1.0]  # every laid-out published cell
    assert [b[2] for b in measured] == [0.97]
    pub16 = next(b for b in published if b[2] == 1.0)
    assert measured[0][1] > pub16[1] and measured[0][1] - pub16[1] < 0.5  # right beside its published bar


def test_panel_plot_leaves_out_values_marked_not_plotted(tmp_path, monkeypatch):
    import dataclasses

    import matplotlib.axes

    bars = []
    real = matplotlib.axes.Axes.bar
    monkeypatch.setattr(matplotlib.axes.Axes, "bar",
                        lambda self, x, h, w, **k: bars.append((h, k.get("hatch"))) or real(self, x, h, w, **k))
    pub = [dataclasses.replace(v, plotted=v.y != 0.8) for v in PUB]  # rnn-2m/cot at 16: a number, not a point
    fig = figure(panels=True)
    rep = build_report(fig, [result("tf", 16, 0.97)], pub, "P", 4)
    assert len(rep["rows"]) == 4  # the table keeps it
    plot(rep, fig, pub, tmp_path / "f.png")
    assert sorted(h for h, hatch in bars if hatch == "///") == [0.5, 0.9, 1.0]
