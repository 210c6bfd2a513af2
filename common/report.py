"""Measured against published: the table (markdown + CSV), the claims, and the overlay plot."""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
import statistics
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from common.claims import Missing, evaluate
from common.figure import Figure
from common.io import atomic_write_bytes, atomic_write_text
from common.published import PublishedValue
from common.validate import FIRST_STEP

MAIN_WIDTH = 6.4  # inches a plot gives its main axes (the whole width when it has no side panels)


@dataclass
class Point:
    mean: float
    std: float
    n: int  # runs (seeds) averaged


def _num(x):
    try:
        f = float(x)
        return int(f) if f.is_integer() else f
    except (TypeError, ValueError):
        return x


METRIC_WORDS = {
    "acc_seq": "accuracy (whole answer exact)", "acc_token": "accuracy per answer token", "acc": "accuracy",
    "f1": "F1 (token overlap)", "em": "exact match", "loss": "loss (nats per token)",
}
X_WORDS = {"step": "training step", "samples": "training examples seen", "len": "length (tokens)"}


def axis_label(key: str) -> str:
    """A metric or x key in words: "acc_seq@len=300" -> "accuracy (whole answer exact) at len=300",
    "eval:len" -> "length (tokens)", an unknown name as it is."""
    if key in X_WORDS or ":" in key:
        name = key.split(":", 1)[-1]
        return X_WORDS.get(name, X_WORDS.get(key, name))
    base, _, at = key.partition("@")
    words = METRIC_WORDS.get(base, base)
    return f"{words} at {at}" if at else words


def x_words(figure: Figure) -> str:
    return figure.x_label or axis_label(figure.x)


def y_words(figure: Figure) -> str:
    return figure.y_label or axis_label(figure.y)


def series_name(labels: dict, figure: Figure) -> str:
    return "/".join(labels[a] for a in figure.series if a in labels) or "all"


def first_step(result: dict, key: str, threshold: float) -> float:
    """The first evaluated step at which the validation metric ``key`` reached ``threshold``; inf if it never did."""
    for h in result["history"]:
        if h["metrics"].get(key, -math.inf) >= threshold:
            return h["step"]
    return math.inf


def raw_points(result: dict, figure: Figure) -> list[tuple[object, float]]:
    """(x, y) pairs one run contributes to the figure."""
    kind, _, param = figure.x.partition(":")
    if kind in ("step", "samples"):
        return [(h[kind], h["metrics"][figure.y]) for h in result["history"] if figure.y in h["metrics"]]
    if kind == "eval":
        pat = re.compile(rf"^{re.escape(figure.y)}@{re.escape(param)}=(.+)$")
        return [(_num(m.group(1)), v) for k, v in result["final"].items() if (m := pat.match(k))]
    if kind == "axis":
        reached = FIRST_STEP.match(figure.y)
        if reached and param in result["labels"]:
            return [(_num(result["labels"][param]), first_step(result, reached.group(1), float(reached.group(2))))]
        if figure.y in result["final"] and param in result["labels"]:
            return [(_num(result["labels"][param]), result["final"][figure.y])]
        return []
    raise ValueError(f"figure.x={figure.x!r}: use step, samples, eval:<param> or axis:<name>")


def aggregate(results: list[dict], figure: Figure) -> dict[str, dict[object, Point]]:
    """series -> x -> mean/std over the runs (seeds) that share the series labels."""
    acc: dict[str, dict[object, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        for x, y in raw_points(r, figure):
            acc[series_name(r["labels"], figure)][x].append(float(y))
    combine = median_point if figure.average == "median" else mean_point
    out = {}
    for s, xs in acc.items():
        out[s] = {x: combine(v) for x, v in sorted(xs.items(), key=lambda kv: (isinstance(kv[0], str), kv[0]))}
    return out


def mean_point(v: list[float]) -> Point:
    return Point(statistics.fmean(v), statistics.pstdev(v) if len(v) > 1 else 0.0, len(v))


def median_point(v: list[float]) -> Point:
    """Median, ± half the interquartile range (inf values, e.g. runs that never reached a threshold, sort last)."""
    if len(v) < 2:
        return Point(v[0], 0.0, 1)
    q1, _, q3 = statistics.quantiles(v, n=4, method="inclusive")
    half = (q3 - q1) / 2 if math.isfinite(q3 - q1) else math.inf
    return Point(statistics.median(v), half, len(v))


def loglog_slope(points: dict) -> float:
    """Least-squares slope of log y on log x; Missing with fewer than two points or any non-positive/infinite one."""
    pts = [(x, y) for x, y in points.items() if not isinstance(x, str)]
    if len(pts) < 2 or any(not (0 < x < math.inf and 0 < y < math.inf) for x, y in pts):
        raise Missing("slope needs at least two finite, positive points")
    lx, ly = [math.log(x) for x, _ in pts], [math.log(y) for _, y in pts]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def claim_functions(series: dict[str, dict[object, Point]], published: list[PublishedValue],
                    other_y=None):
    """The functions a claim may call; ``other_y(y)`` gives the series of another y of the figure."""
    def curve(s, y=None):
        pool = series if y is None else other_y(y)
        if s not in pool or not pool[s]:
            raise Missing(s)
        return pool[s]

    def at(s, x, y=None):
        c = curve(s, y)
        if x not in c:
            raise Missing(f"{s}@{x}")
        return c[x].mean

    def last(s, y=None):
        c = curve(s, y)
        return c[list(c)[-1]].mean

    def reach(s, threshold, y=None):
        """First x where the series reaches ``threshold`` (inf if it never does)."""
        for x, p in curve(s, y).items():
            if p.mean >= threshold:
                return x
        return math.inf

    def slope(s, y=None):
        return loglog_slope({x: p.mean for x, p in curve(s, y).items()})

    def published_slope(s):
        return loglog_slope({_num(v.x): v.y for v in published if v.series == s})

    def pub(s, x):
        for v in published:
            if v.series == s and _num(v.x) == _num(x):
                return v.y
        raise Missing(f"published {s}@{x}")

    return {"at": at, "last": last, "reach": reach, "published": pub, "slope": slope,
            "published_slope": published_slope, "min": min, "max": max, "abs": abs}


def shown_published(figure: Figure, published: list[PublishedValue]) -> list[tuple[PublishedValue, str]]:
    """The published values this figure lays out, each with the measured series it is compared with."""
    pub_id = figure.published_id or figure.id
    chosen = figure.published_series
    rename = chosen if isinstance(chosen, dict) else {s: s for s in chosen} if chosen is not None else None
    xs = None if figure.published_x is None else {_num(x) for x in figure.published_x}
    out = []
    for v in published:
        if v.figure != pub_id or (rename is not None and v.series not in rename):
            continue
        if xs is not None and _num(v.x) not in xs:
            continue
        out.append((v, rename[v.series] if rename is not None else v.series))
    return out


def plotted_published(figure: Figure, published: list[PublishedValue]) -> list[tuple[PublishedValue, str]]:
    """``shown_published`` less the values marked ``plotted: false`` (a ratio or a drop, not a point of the
    curves: the report's table has them, the plot's axes do not)."""
    return [(v, mine) for v, mine in shown_published(figure, published) if v.plotted]


def _verdict(claim, funcs) -> str:
    """holds / fails / inconclusive; a check's verdict says so (it holds by construction, failing means a leak)."""
    v = evaluate(claim.holds_if, funcs)
    return {"holds": "holds (check)", "fails": "FAILS (check: leak or noise)"}.get(v, v) if claim.kind == "check" else v


def build_report(figure: Figure, results: list[dict], published: list[PublishedValue], paper: str,
                 expected_runs: int) -> dict:
    """Measured series, the published cells beside them (with differences), and the claims' verdicts.

    Works on any subset of the figure's runs: a published cell with no finished run says so. On a
    CPU-scale figure the published cells are context from another scale and are never compared.
    """
    series = aggregate(results, figure)
    rows = []
    for v, mine in shown_published(figure, published):
        point = series.get(mine, {}).get(_num(v.x)) if figure.scale == "paper" else None
        row = {"series": mine, "published_series": v.series, "x": _num(v.x), "published_y": v.y,
               "uncertainty": v.uncertainty, "how": v.how, "note": v.note, "measured_mean": None,
               "measured_std": None, "runs": 0, "delta": None, "source": f"{paper}, {v.source}", "plotted": v.plotted}
        if figure.scale != "paper":
            row["status"] = "other scale (context)"
        elif point is None:
            row["status"] = "not measured"
        else:
            d = point.mean - v.y
            row.update(measured_mean=point.mean, measured_std=point.std, runs=point.n, delta=d,
                       status="agrees" if abs(d) <= v.tolerance + v.uncertainty else "differs")
        rows.append(row)
    others: dict[str, dict] = {}

    def other_y(y: str) -> dict:
        if y not in others:
            others[y] = aggregate(results, dataclasses.replace(figure, y=y))
        return others[y]

    shown = shown_published(figure, published)
    funcs = claim_functions(series, [v for v, _ in shown], other_y)
    slopes = []
    if figure.slopes:
        for s in series:
            row = {"series": s, "measured": None, "published": None}
            for key, fn in (("measured", funcs["slope"]), ("published", funcs["published_slope"])):
                try:
                    row[key] = fn(s) if key == "measured" else fn(next(v.series for v, m in shown if m == s))
                except (Missing, StopIteration):
                    pass
            slopes.append(row)
    claims = [{"claim": c.text, "kind": c.kind, "verdict": _verdict(c, funcs), "test": c.holds_if,
               "source": (f"{paper}, {c.source}" if c.source else paper) if c.kind == "paper" else (c.source or "ours")}
              for c in figure.claims]
    return {"figure": figure.id, "scale": figure.scale, "runs": len(results), "expected_runs": expected_runs,
            "rows": rows, "claims": claims, "series": series, "slopes": slopes,
            "also": {y: other_y(y) for y in figure.also_y}}


def _md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _measured_text(r: dict) -> str:
    if r["measured_mean"] is None:
        return ""
    return f"{r['measured_mean']:.3f} ± {r['measured_std']:.3f} (n={r['runs']})"


def _cell(r: dict) -> str:
    """One published cell beside the measured one: "1.000 / 0.987 (-0.013)", or what is missing."""
    pub = f"{r['published_y']:.3f}"
    if r["measured_mean"] is not None:
        sd = f" ± {r['measured_std']:.3f}" if r["runs"] > 1 else ""
        return f"{pub} / {r['measured_mean']:.3f}{sd} ({r['delta']:+.3f})"
    if r["status"] == "other scale (context)":
        return pub
    return f"{pub} / {'not run' if r['status'] == 'not measured' else r['status']}"


def _published_grid(rows: list[dict]) -> str:
    """Series by x, each cell "published / measured (difference)"."""
    xs = sorted({r["x"] for r in rows}, key=lambda x: (isinstance(x, str), x))
    by = {}
    for r in rows:
        by.setdefault((r["series"], r["published_series"]), {})[r["x"]] = r
    table = []
    for (mine, pub), cells in by.items():
        name = mine if mine == pub else f"{mine} (published: {pub})"
        table.append([name] + [_cell(cells[x]) if x in cells else "" for x in xs])
    return _md_table(["series"] + [str(x) for x in xs], table)


def render_markdown(report: dict, figure: Figure) -> str:
    spread = ("each point is the median over runs (seeds), ± half the interquartile range"
              if figure.average == "median"
              else "± is the standard deviation over runs (seeds), population form (with two seeds, half their difference)")
    within = (f"`{figure.y}` is micro-averaged over each run's evaluation examples; " if figure.y.startswith("acc")
              else "")
    note = within + spread
    out = [f"## {figure.id} ({figure.scale} scale): {figure.title}",
           f"Runs finished: {report['runs']} of {report['expected_runs']}. {note[0].upper()}{note[1:]}."]
    rows = report["rows"]
    if rows and figure.scale == "paper":
        measured = sum(r["measured_mean"] is not None for r in rows)
        out += ["", "### Measured against published",
                f"Each cell: published / measured (measured - published); {measured} of {len(rows)} published "
                f"cells measured, the others say \"not run\". Columns: {x_words(figure)}.", "", _published_grid(rows)]
    elif rows:
        out += ["", "### Published values at paper scale (context: another scale, not compared)",
                f"Each cell: the published value. Columns: {x_words(figure)}.", "",
                _published_grid(rows)]
    if rows:
        src = sorted({r["source"].rsplit(", ", 2)[0] for r in rows})
        hows = sorted({f"{r['how']}" + (f", ±{r['uncertainty']:.3f}" if r["uncertainty"] else ", exact") for r in rows})
        out += ["", f"Published values: {'; '.join(src)} (read from the {'; '.join(hows)}); "
                "per-cell sources in report.csv."]
    if report.get("slopes"):
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        out += ["", "### Log-log slopes (least squares of log y on log x)",
                _md_table(["series", "measured", "published" + (" (paper scale)" if figure.scale != "paper" else "")],
                          [[r["series"], fmt(r["measured"]), fmt(r["published"])] for r in report["slopes"]])]
    if report["claims"]:
        out += ["", "### Claims (the paper's, or predictions and controls where marked)",
                _md_table(["claim", "kind", "verdict", "test", "source"],
                          [[c["claim"], c["kind"], c["verdict"], f"`{c['test']}`", c["source"]] for c in report["claims"]])]
    measured = [[s, x, f"{p.mean:.3f}", f"{p.std:.3f}", p.n] for s, pts in report["series"].items() for x, p in pts.items()]
    out += ["", f"### Measured: {y_words(figure)} (`{figure.y}`) by {x_words(figure)}",
            _md_table(["series", x_words(figure), "mean", "std", "runs"], measured) if measured
            else "No run of this figure has finished yet."]
    return "\n".join(out) + "\n"


CSV_HEADER = ["kind", "series", "x", "published", "published_uncertainty", "measured", "measured_std", "runs",
              "delta", "status", "text", "source"]


def _f(x, digits=6):
    return "" if x is None else f"{x:.{digits}g}" if isinstance(x, float) else x


def render_csv(report: dict) -> str:
    """One table, numbers in their own columns: published cells (with the measured value when there is one),
    measured points without a published counterpart, and the claims (verdict in ``status``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    shown = set()
    for r in report["rows"]:
        shown.add((r["series"], r["x"]))
        w.writerow(["published", r["series"] if r["series"] == r["published_series"] else r["published_series"],
                    r["x"], _f(r["published_y"]), _f(r["uncertainty"]), _f(r["measured_mean"]),
                    _f(r["measured_std"]), r["runs"], _f(r["delta"]), r["status"],
                    f"{r['how']}" + (f"; {r['note']}" if r["note"] else "")
                    + (f"; measured series {r['series']}" if r["series"] != r["published_series"] else ""),
                    r["source"]])
    for s, pts in report["series"].items():
        for x, p in pts.items():
            if (s, x) not in shown or report["scale"] != "paper":
                w.writerow(["measured", s, x, "", "", _f(p.mean), _f(p.std), p.n, "", "", "", ""])
    for r in report.get("slopes", []):
        w.writerow(["slope", r["series"], "", _f(r["published"]), "", _f(r["measured"]), "", "", "", "", "log-log", ""])
    for c in report["claims"]:
        w.writerow([f"claim ({c['kind']})", "", "", "", "", "", "", "", "", c["verdict"], c["claim"],
                    f"{c['source']}; test: {c['test']}"])
    return buf.getvalue()


def plot(report: dict, figure: Figure, published: list[PublishedValue], path: Path) -> None:
    """Measured series as filled markers with ±std bands; published values as hollow markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if figure.panels:
        _panels(report, figure, path, plt)
        return
    xs_all = {x for pts in report["series"].values() for x in pts if not isinstance(x, str)}
    also = list(report.get("also", {})) if len(xs_all) != 1 else []
    fig, axes = plt.subplots(1, 1 + len(also), figsize=(MAIN_WIDTH + 4.4 * len(also), 4.2), squeeze=False)
    ax = axes[0][0]
    if len(xs_all) == 1:  # one x for every series (e.g. one graph size): bars, not lines of one point
        _bars(ax, report, figure, published, xs_all.pop())
        _finish(fig, ax, figure, path, plt)
        return
    colors = _lines(ax, report["series"], figure.ylog, {})
    for extra, y in zip(axes[0][1:], also):  # further metrics of the same runs (e.g. accuracy and loss)
        _lines(extra, report["also"][y], False, colors)
        extra.set_ylabel(y)
        extra.set_xlabel(figure.x)
        extra.grid(alpha=0.3)
        if figure.xlog:
            extra.set_xscale("log")
    for v, mine in plotted_published(figure, published):
        if isinstance(_num(v.x), str):
            continue
        c = colors.get(mine, "gray")
        ax.errorbar([_num(v.x)], [v.y], yerr=[v.uncertainty], fmt="s", mfc="none", mec=c, ecolor=c, ms=8,
                    label=f"{mine} (published)")
    if figure.xlog:
        ax.set_xscale("log")
    if figure.ylog:
        ax.set_yscale("log")
    ax.set_xlabel(x_words(figure))
    _finish(fig, ax, figure, path, plt)


def _lines(ax, series: dict, ylog: bool, colors: dict) -> dict:
    """One line per series (finite points), its ± band shaded; returns the colour of each series."""
    out = {}
    for s, pts in series.items():
        xs = [x for x in pts if not isinstance(x, str) and math.isfinite(pts[x].mean)]
        if not xs:
            continue
        ys = [pts[x].mean for x in xs]
        sd = [pts[x].std if math.isfinite(pts[x].std) else 0.0 for x in xs]
        line, = ax.plot(xs, ys, "o-", ms=4, label=f"{s} (measured)", **({"color": colors[s]} if s in colors else {}))
        out[s] = line.get_color()
        low = [max(y - e, y / 10) if ylog else y - e for y, e in zip(ys, sd)]  # a log axis has no room below 0
        ax.fill_between(xs, low, [y + e for y, e in zip(ys, sd)], color=out[s], alpha=0.15)
    return out


def _split(series: str) -> tuple[str, str]:
    panel, _, line = series.partition("/")
    return panel, line or panel


def _panels(report: dict, figure: Figure, path: Path, plt) -> None:
    """The paper's layout: one panel per first series label (model and size), accuracy against x as grouped
    bars, one colour per remaining label (format); in each group the published bar (hatched, outlined)
    stands beside the measured one (filled, ±std over seeds)."""
    cells: dict[str, dict[str, dict]] = {}  # panel -> line -> {"measured": {x: Point}, "published": {x: y}}
    for s, pts in report["series"].items():
        panel, line = _split(s)
        cells.setdefault(panel, {}).setdefault(line, {"measured": {}, "published": {}})["measured"].update(pts)
    context = figure.scale != "paper"
    for r in report["rows"]:
        if not r["plotted"]:
            continue
        panel, line = _split(r["published_series"] if context else r["series"])
        cells.setdefault(panel, {}).setdefault(line, {"measured": {}, "published": {}})["published"][r["x"]] = r["published_y"]
    panels = list(cells)
    lines = list(dict.fromkeys(line for p in panels for line in cells[p]))
    colors = {line: f"C{i}" for i, line in enumerate(lines)}
    ncol = min(3, len(panels)) or 1
    nrow = max(1, -(-len(panels) // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow), squeeze=False, sharey=True)
    for ax, panel in zip(axes.flat, panels):
        xs = sorted({x for cell in cells[panel].values() for k in ("measured", "published") for x in cell[k]},
                    key=lambda x: (isinstance(x, str), x))
        width = 0.8 / max(1, 2 * len(cells[panel]))
        for j, (line, data) in enumerate(cells[panel].items()):
            for i, x in enumerate(xs):
                base = i - 0.4 + 2 * j * width + width / 2
                if x in data["published"]:
                    ax.bar(base, data["published"][x], width, color="none", edgecolor=colors[line], hatch="///",
                           label=f"{line} (published{', paper scale' if context else ''})")
                if x in data["measured"]:
                    p = data["measured"][x]
                    ax.bar(base + width, p.mean, width, color=colors[line], yerr=p.std or None, capsize=2,
                           label=f"{line} (measured)")
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        only_pub = not any(d["measured"] for d in cells[panel].values())
        ax.set_title(panel + (" (published, paper scale)" if only_pub and context else ""), fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(y_words(figure))
    for ax in axes[-1, :]:
        ax.set_xlabel(x_words(figure))
    handles, labels = [], []
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(6, len(labels)) or 1)
    fig.suptitle(title_lines(figure, fig.get_figwidth(), 10), fontsize=10)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) > 6), 1, 0.97))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _bars(ax, report: dict, figure: Figure, published: list[PublishedValue], x) -> None:
    """One bar per series (mean, ±std) at the single x; published values as hollow markers on their bar."""
    names = [s for s, pts in report["series"].items() if x in pts]
    means = [report["series"][s][x].mean for s in names]
    ax.bar(range(len(names)), means, yerr=[report["series"][s][x].std for s in names], color="C0", alpha=0.8,
           label="measured")
    for i, m in enumerate(means):
        ax.text(i, m, f"{m:.2f}", ha="center", va="bottom", fontsize=7)
    for v, mine in plotted_published(figure, published):
        if mine in names and _num(v.x) == _num(x):
            ax.errorbar([names.index(mine)], [v.y], yerr=[v.uncertainty], fmt="s", mfc="none", mec="k",
                        ecolor="k", ms=8, label="published")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
    ax.set_xlabel(f"{', '.join(figure.series)} ({x_words(figure)} = {x})")


def title_lines(figure: Figure, inches: float, fontsize: float) -> str:
    """The figure's title, broken into lines that fit ``inches`` at ``fontsize`` (long titles ran off the image)."""
    text = f"{figure.id} ({figure.scale} scale): {figure.title}"
    return textwrap.fill(text, max(20, int(inches * 72 / (0.6 * fontsize))))


def _finish(fig, ax, figure: Figure, path: Path, plt) -> None:
    ax.set_ylabel(y_words(figure))
    # the title sits over the first axes: at most MAIN_WIDTH of a figure widened by "also" panels
    ax.set_title(title_lines(figure, min(fig.get_figwidth(), MAIN_WIDTH), 9), fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_report(report: dict, figure: Figure, published: list[PublishedValue], out_dir: Path) -> str:
    md = render_markdown(report, figure)
    atomic_write_text(out_dir / "report.md", md)
    atomic_write_text(out_dir / "report.csv", render_csv(report))
    plot(report, figure, published, out_dir / f"{figure.id}.png")
    return md
