"""The figure: lines over x, or bars when every series has the same single x."""
import matplotlib

matplotlib.use("Agg")

from common.figure import Figure  # noqa: E402
from common.published import PublishedValue  # noqa: E402
from common.report import Point, plot  # noqa: E402


def _report(points):
    return {"series": {s: {x: Point(y, 0.01, 1) for x, y in pts.items()} for s, pts in points.items()}}


def test_single_x_draws_one_bar_per_series_with_published_marker(tmp_path, monkeypatch):
    import matplotlib.axes

    calls = {}
    real_bar = matplotlib.axes.Axes.bar
    monkeypatch.setattr(matplotlib.axes.Axes, "bar",
                        lambda self, x, h, **k: calls.setdefault("bar", (list(x), list(h))) and real_bar(self, x, h, **k))
    fig = Figure(id="f", title="t", x="eval:n", y="acc", series=["model"], scale="cpu")
    pub = [PublishedValue(figure="f", series="b", x=8, y=0.9, source="s", how="h")]
    plot(_report({"a": {8: 0.5}, "b": {8: 0.95}}), fig, pub, tmp_path / "f.png")
    assert calls["bar"] == ([0, 1], [0.5, 0.95])
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_several_x_draw_lines(tmp_path, monkeypatch):
    import matplotlib.axes

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", lambda *a, **k: (_ for _ in ()).throw(AssertionError("bars")))
    fig = Figure(id="f", title="t", x="eval:len", y="acc", series=["model"], scale="cpu")
    plot(_report({"a": {10: 0.5, 20: 0.4}}), fig, [], tmp_path / "f.png")
    assert (tmp_path / "f.png").exists()
