"""Measured against published: the table (markdown + CSV), the claims, and the overlay plot."""
from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from common.claims import Missing, evaluate
from common.figure import Figure
from common.io import atomic_write_bytes, atomic_write_text
from common.published import PublishedValue


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


def series_name(labels: dict, figure: Figure) -> str:
    return "/".join(labels[a] for a in figure.series if a in labels) or "all"


def raw_points(result: dict, figure: Figure) -> list[tuple[object, float]]:
    """(x, y) pairs one run contributes to the figure."""
    kind, _, param = figure.x.partition(":")
    if kind in ("step", "samples"):
        return [(h[kind], h["metrics"][figure.y]) for h in result["history"] if figure.y in h["metrics"]]
    if kind == "eval":
        pat = re.compile(rf"^{re.escape(figure.y)}@{re.escape(param)}=(.+)$")
        return [(_num(m.group(1)), v) for k, v in result["final"].items() if (m := pat.match(k))]
    if kind == "axis":
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
    out = {}
    for s, xs in acc.items():
        out[s] = {x: Point(statistics.fmean(v), statistics.pstdev(v) if len(v) > 1 else 0.0, len(v))
                  for x, v in sorted(xs.items(), key=lambda kv: (isinstance(kv[0], str), kv[0]))}
    return out


def claim_functions(series: dict[str, dict[object, Point]], published: list[PublishedValue]):
    def curve(s):
        if s not in series or not series[s]:
            raise Missing(s)
        return series[s]

    def at(s, x):
        c = curve(s)
        if x not in c:
            raise Missing(f"{s}@{x}")
        return c[x].mean

    def last(s):
        c = curve(s)
        return c[list(c)[-1]].mean

    def reach(s, threshold):
        """First x where the series reaches ``threshold`` (inf if it never does)."""
        for x, p in curve(s).items():
            if p.mean >= threshold:
                return x
        return math.inf

    def pub(s, x):
        for v in published:
            if v.series == s and _num(v.x) == _num(x):
                return v.y
        raise Missing(f"published {s}@{x}")

    return {"at": at, "last": last, "reach": reach, "published": pub, "min": min, "max": max}


def _verdict(claim, funcs) -> str:
    """holds / fails / inconclusive; a check's verdict says so (it holds by construction, failing means a leak)."""
    v = evaluate(claim.holds_if, funcs)
    return {"holds": "holds (check)", "fails": "FAILS (check: leak or noise)"}.get(v, v) if claim.kind == "check" else v


def build_report(figure: Figure, results: list[dict], published: list[PublishedValue], paper: str,
                 expected_runs: int) -> dict:
    series = aggregate(results, figure)
    pub_id = figure.published_id or figure.id
    mine = [v for v in published if v.figure == pub_id]
    rows = []
    for v in mine:
        point = series.get(v.series, {}).get(_num(v.x))
        if point is None:
            status, measured, delta = ("not at this scale" if figure.scale != "paper" else "not measured"), "", ""
        else:
            d = point.mean - v.y
            status = "agrees" if abs(d) <= v.tolerance + v.uncertainty else "differs"
            measured = f"{point.mean:.3f} ± {point.std:.3f} (n={point.n})"
            delta = f"{d:+.3f}"
        rows.append({"series": v.series, "x": v.x, "published": f"{v.y:.3f} ± {v.uncertainty:.3f} ({v.how})",
                     "measured": measured, "delta": delta, "status": status, "source": f"{paper}, {v.source}"})
    funcs = claim_functions(series, mine)
    claims = [{"claim": c.text, "kind": c.kind, "verdict": _verdict(c, funcs), "test": c.holds_if,
               "source": (f"{paper}, {c.source}" if c.source else paper) if c.kind == "paper" else (c.source or "ours")}
              for c in figure.claims]
    return {"figure": figure.id, "scale": figure.scale, "runs": len(results), "expected_runs": expected_runs,
            "rows": rows, "claims": claims, "series": series}


def _md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(report: dict, figure: Figure) -> str:
    out = [f"## {figure.id} ({figure.scale} scale): {figure.title}",
           f"Runs finished: {report['runs']} of {report['expected_runs']}. Accuracies are micro-averaged over "
           "evaluation examples; ± is the standard deviation over runs (seeds)."]
    if report["rows"]:
        out += ["", "### Measured against published",
                _md_table(["series", "x", "published", "measured", "Δ", "status", "source"],
                          [[r["series"], r["x"], r["published"], r["measured"], r["delta"], r["status"], r["source"]]
                           for r in report["rows"]])]
    if report["claims"]:
        out += ["", "### Claims (the paper's, or predictions and controls where marked)",
                _md_table(["claim", "kind", "verdict", "test", "source"],
                          [[c["claim"], c["kind"], c["verdict"], f"`{c['test']}`", c["source"]] for c in report["claims"]])]
    out += ["", f"### Measured ({figure.y} by {figure.x})",
            _md_table(["series", "x", "mean", "std", "runs"],
                      [[s, x, f"{p.mean:.3f}", f"{p.std:.3f}", p.n] for s, pts in report["series"].items()
                       for x, p in pts.items()])]
    return "\n".join(out) + "\n"


def render_csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kind", "series", "x", "published", "measured", "delta", "status", "source"])
    for r in report["rows"]:
        w.writerow(["value", r["series"], r["x"], r["published"], r["measured"], r["delta"], r["status"], r["source"]])
    for c in report["claims"]:
        w.writerow([f"claim ({c['kind']})", "", "", c["claim"], c["test"], "", c["verdict"], c["source"]])
    return buf.getvalue()


def plot(report: dict, figure: Figure, published: list[PublishedValue], path: Path) -> None:
    """Measured series as filled markers with ±std bands; published values as hollow markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs_all = {x for pts in report["series"].values() for x in pts if not isinstance(x, str)}
    if len(xs_all) == 1:  # one x for every series (e.g. one graph size): bars, not lines of one point
        _bars(ax, report, figure, published, xs_all.pop())
        _finish(fig, ax, figure, path, plt)
        return
    colors = {}
    for i, (s, pts) in enumerate(report["series"].items()):
        xs = [x for x in pts if not isinstance(x, str)]
        if not xs:
            continue
        ys = [pts[x].mean for x in xs]
        sd = [pts[x].std for x in xs]
        line, = ax.plot(xs, ys, "o-", ms=4, label=f"{s} (measured)")
        colors[s] = line.get_color()
        ax.fill_between(xs, [y - e for y, e in zip(ys, sd)], [y + e for y, e in zip(ys, sd)], color=colors[s], alpha=0.15)
    pub_id = figure.published_id or figure.id
    for v in published:
        if v.figure != pub_id or isinstance(_num(v.x), str):
            continue
        c = colors.get(v.series, "gray")
        ax.errorbar([_num(v.x)], [v.y], yerr=[v.uncertainty], fmt="s", mfc="none", mec=c, ecolor=c, ms=8,
                    label=f"{v.series} (published)")
    if figure.xlog:
        ax.set_xscale("log")
    ax.set_xlabel(figure.x)
    _finish(fig, ax, figure, path, plt)


def _bars(ax, report: dict, figure: Figure, published: list[PublishedValue], x) -> None:
    """One bar per series (mean, ±std) at the single x; published values as hollow markers on their bar."""
    names = [s for s, pts in report["series"].items() if x in pts]
    means = [report["series"][s][x].mean for s in names]
    ax.bar(range(len(names)), means, yerr=[report["series"][s][x].std for s in names], color="C0", alpha=0.8,
           label="measured")
    for i, m in enumerate(means):
        ax.text(i, m, f"{m:.2f}", ha="center", va="bottom", fontsize=7)
    pub_id = figure.published_id or figure.id
    for v in published:
        if v.figure == pub_id and v.series in names and _num(v.x) == _num(x):
            ax.errorbar([names.index(v.series)], [v.y], yerr=[v.uncertainty], fmt="s", mfc="none", mec="k",
                        ecolor="k", ms=8, label="published")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
    ax.set_xlabel(f"{', '.join(figure.series)} ({figure.x} = {x})")


def _finish(fig, ax, figure: Figure, path: Path, plt) -> None:
    ax.set_ylabel(figure.y)
    ax.set_title(f"{figure.id} ({figure.scale} scale): {figure.title}", fontsize=9)
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
