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


def test_long_title_stays_inside_the_image(tmp_path, monkeypatch):
    import matplotlib.figure
    import matplotlib.text

    outside, checked = [], []
    real_savefig = matplotlib.figure.Figure.savefig

    def checked_savefig(self, *args, **kwargs):
        renderer = self.canvas.get_renderer()
        for text in self.findobj(matplotlib.text.Text):
            if "fig6_cpu" in text.get_text():  # the title (tick labels outside the view are not drawn)
                checked.append(text.get_text())
                box = text.get_window_extent(renderer)
                if box.x0 < -1 or box.x1 > self.bbox.width + 1:
                    outside.append(text.get_text())
        return real_savefig(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", checked_savefig)
    title = ("n-gram lookup, prefix key: answer accuracy by string length, trained on lengths 6..12 "
             "(Fig. 6, CPU), with a few more words to be sure it is long")
    for x in ({10: 0.5, 20: 0.4}, {8: 0.5}):  # lines, then bars
        fig = Figure(id="fig6_cpu", title=title, x="eval:len", y="acc", series=["model"], scale="cpu")
        plot(_report({"a": x}), fig, [], tmp_path / "f.png")
    assert len(checked) == 2 and outside == []


def test_published_value_marked_not_plotted_stays_off_the_axes(tmp_path, monkeypatch):
    """A published ratio of 100 beside accuracy lines would squash them to the floor (Fig. 1a's 100x); a
    curve point of a series not measured here (e.g. the paper's k = 5) is still drawn."""
    import matplotlib.figure

    limits = []
    real_savefig = matplotlib.figure.Figure.savefig

    def spy(self, *args, **kwargs):
        limits.append(self.axes[0].get_ylim())
        return real_savefig(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    fig = Figure(id="f", title="t", x="samples", y="acc", series=["model"], scale="cpu")
    ratio = PublishedValue(figure="f", series="a / b (strings to learn)", x=300, y=100.0, source="s", how="h",
                           plotted=False)
    other = PublishedValue(figure="f", series="c", x=300, y=5.0, source="s", how="h")
    plot(_report({"a": {10: 0.5, 20: 0.9}}), fig, [ratio], tmp_path / "f.png")
    plot(_report({"a": {10: 0.5, 20: 0.9}}), fig, [ratio, other], tmp_path / "g.png")
    on_bar = PublishedValue(figure="f", series="a", x=300, y=100.0, source="s", how="h", plotted=False)
    plot(_report({"a": {300: 0.5}}), fig, [on_bar], tmp_path / "h.png")  # one x: bars
    assert limits[0][1] < 2 and 5 < limits[1][1] < 100 and limits[2][1] < 2
